"""Find and load hardware profiles: shipped ones by name, user files by path, and ``host``."""

from __future__ import annotations

from pathlib import Path

import yaml

from zoomwatt.errors import InputError
from zoomwatt.hardware.schema import HardwareProfile, parse_profile

PROFILE_DIR = Path(__file__).parent / "profiles"
HOST = "host"


def shipped_profile_names() -> list[str]:
    """Names of the profiles shipped with zoomwatt, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def profile_names() -> list[str]:
    """Every name ``--hw`` accepts besides a path: the shipped profiles and ``host``."""
    return [*shipped_profile_names(), HOST]


def load_profile_file(path: str | Path) -> HardwareProfile:
    """Load and validate one profile file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("--hw", str(path), "an existing hardware profile file (.yaml)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(
            str(path), "(file content)", f"valid YAML; the parser said: {exc}"
        ) from exc
    return parse_profile(data, str(path))


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
