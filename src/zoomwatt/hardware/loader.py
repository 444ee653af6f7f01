"""Find and load hardware profiles: shipped ones by name, user files by path, and ``host``."""

from __future__ import annotations

from pathlib import Path

from zoomwatt.errors import InputError
from zoomwatt.hardware.schema import HardwareProfile, parse_profile
from zoomwatt.hardware.yaml_io import load_yaml_mapping

PROFILE_DIR = Path(__file__).parent / "profiles"
HOST = "host"


def shipped_profile_names() -> list[str]:
    """Names of the profiles shipped with zoomwatt, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def profile_names() -> list[str]:
    """Every name ``--hw`` accepts besides a path: the shipped profiles and ``host``."""
    return [*shipped_profile_names(), HOST]


def load_profile_file(path: str | Path) -> HardwareProfile:
    """Load and validate one profile file.

    Raises :class:`InputError` (one short line naming the file, and the line or field) for a
    file that is missing, a folder, over 1 MiB, not UTF-8, not valid YAML, uses anchors,
    aliases, tags, duplicate or non-text keys, or breaks the schema
    (:func:`~zoomwatt.hardware.yaml_io.load_yaml_mapping`, :func:`parse_profile`).
    """
    path = Path(path)
    return parse_profile(load_yaml_mapping(path), str(path))


def _looks_like_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name


def load_profile(name: str, *, host_plan: str = "quick") -> HardwareProfile:
    """A profile by shipped name, by path to a YAML file, or ``host`` (calibrated and cached on
    first use, which takes a few seconds)."""
    if not isinstance(name, str) or not name:
        raise InputError("--hw", name, "a profile name or a path to a .yaml file")
    if name == HOST:
        from zoomwatt.hardware.host_calibration import load_host_profile

        return load_host_profile(plan=host_plan)
    if _looks_like_path(name):
        return load_profile_file(name)
    if name not in shipped_profile_names():
        raise InputError(
            "--hw",
            name,
            f"one of {profile_names()}, or a path to a .yaml file",
            hint="See `zoomwatt hardware list`",
        )
    return load_profile_file(PROFILE_DIR / f"{name}.yaml")
