"""Pictures shipped with the package (see ``zoomwatt/data/LICENSES.md`` for their origin)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from zoomwatt.errors import InputError

SAMPLE_IMAGES = {"coffee": "coffee.jpg"}  # name -> file in zoomwatt/data


def sample_image_path(name: str = "coffee") -> Path:
    """Path of a shipped start picture: ``coffee`` (CC0, Rachel Michetti), a cup of espresso
    on a wooden table, 600 x 400."""
    if name not in SAMPLE_IMAGES:
        raise InputError("name", name, f"one of {', '.join(SAMPLE_IMAGES)}")
    path = Path(str(resources.files("zoomwatt") / "data" / SAMPLE_IMAGES[name]))
    if not path.is_file():
        raise InputError("name", name, "a picture installed with zoomwatt", f"{path} is missing")
    return path
