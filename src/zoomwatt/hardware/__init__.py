"""Hardware profiles: validated device figures, each with its source or marked as an estimate.

``load_profile("jetson-orin-nano")`` loads a shipped profile, ``load_profile("my.yaml")`` a user
file, ``load_profile("host")`` this machine (calibrated by micro-benchmarks and cached).
"""

from __future__ import annotations

from zoomwatt.hardware.loader import (
    HOST,
    PROFILE_DIR,
    load_profile,
    load_profile_file,
    profile_names,
    shipped_profile_names,
)
from zoomwatt.hardware.quantity import Quantity, make_quantity, parse_quantity
from zoomwatt.hardware.schema import (
    DEVICE_CLASSES,
    NON_AI_BLOCKS,
    HardwareProfile,
    OperatingPoint,
    parse_profile,
)

__all__ = [
    "DEVICE_CLASSES",
    "HOST",
    "NON_AI_BLOCKS",
    "PROFILE_DIR",
    "HardwareProfile",
    "OperatingPoint",
    "Quantity",
    "load_profile",
    "load_profile_file",
    "make_quantity",
    "parse_profile",
    "parse_quantity",
    "profile_names",
    "shipped_profile_names",
]
