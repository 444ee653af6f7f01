"""Power of the feature's blocks that are not the AI model: camera and ISP, video encode,
display, DRAM refresh/background.

Defaults depend on the device class and are estimates (orders of magnitude from the sources
named beside them); a profile's ``non_ai`` section overrides them for its device, and the user
overrides both (``--non-ai display=0``). Every end-to-end figure shows this budget separately.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from zoomwatt.errors import InputError
from zoomwatt.hardware.schema import NON_AI_BLOCKS, HardwareProfile

_CAMERA = (
    "estimate: image sensor + ISP streaming at 30 fps; LiKamWa et al., 'Energy characterization "
    "and optimization of image sensing toward continuous mobile vision', MobiSys 2013, measured "
    "hundreds of mW to about 1 W for phone camera pipelines"
)
_DISPLAY_PHONE = (
    "estimate: 6-inch OLED at medium brightness showing video; Carroll & Heiser, 'An analysis of "
    "power consumption in a smartphone', USENIX ATC 2010, found the display the largest consumer"
)
_DRAM_LP = "estimate: LPDDR self-refresh/standby background of 8-16 GB, tens of mW"

# device class -> block -> (W, source)
DEFAULTS: dict[str, dict[str, tuple[float, str]]] = {
    "phone": {
        "camera_isp": (0.8, _CAMERA),
        "video_encode": (0.25, "estimate: hardware H.264/HEVC encoder, small resolution, 30 fps"),
        "display": (1.0, _DISPLAY_PHONE),
        "dram_refresh": (0.05, _DRAM_LP),
    },
    "embedded": {
        "camera_isp": (0.5, "estimate: CSI camera module (e.g. IMX219 class) + ISP; " + _CAMERA),
        "video_encode": (0.5, "estimate: hardware encoder of an embedded SoC at 30 fps"),
        "display": (
            1.5,
            "estimate: small 7-inch LCD panel; set 0 for headless or an external "
            "monitor on its own supply",
        ),
        "dram_refresh": (0.05, _DRAM_LP),
    },
    "laptop": {
        "camera_isp": (0.5, "estimate: webcam + ISP; " + _CAMERA),
        "video_encode": (0.4, "estimate: integrated GPU media engine at 30 fps"),
        "display": (2.5, "estimate: 14-inch laptop panel at medium brightness (2-4 W)"),
        "dram_refresh": (0.1, _DRAM_LP),
    },
    "desktop": {
        "camera_isp": (0.5, "estimate: USB webcam"),
        "video_encode": (5.0, "estimate: software H.264 on one desktop core"),
        "display": (20.0, "estimate: 24-inch desktop monitor"),
        "dram_refresh": (0.5, "estimate: DDR4/DDR5 DIMM background and refresh"),
    },
    "datacenter": {
        "camera_isp": (0.0, "estimate: no camera in a datacenter (input image is uploaded)"),
        "video_encode": (5.0, "estimate: software H.264 on one host CPU core (H100 has no NVENC)"),
        "display": (0.0, "estimate: video is streamed to the client, no local display"),
        "dram_refresh": (0.0, "estimate: HBM refresh is inside the GPU's static power"),
    },
}


@dataclass(frozen=True)
class NonAiBlock:
    name: str
    power_w: float
    source: str


@dataclass(frozen=True)
class NonAiBudget:
    blocks: tuple[NonAiBlock, ...]

    @property
    def power_w(self) -> float:
        return float(sum(b.power_w for b in self.blocks))

    def as_dict(self) -> dict[str, dict[str, float | str]]:
        return {b.name: {"power_w": b.power_w, "source": b.source} for b in self.blocks}


def non_ai_budget(
    profile: HardwareProfile, overrides: Mapping[str, float] | None = None
) -> NonAiBudget:
    """The budget for ``profile``: class defaults, then the profile's ``non_ai``, then
    ``overrides`` (block -> W, e.g. from ``--non-ai display=0``)."""
    # 1. inputs
    overrides = dict(overrides or {})
    for block, value in overrides.items():
        if block not in NON_AI_BLOCKS:
            raise InputError("--non-ai", block, f"one of {NON_AI_BLOCKS}")
        ok = isinstance(value, int | float) and math.isfinite(value) and value >= 0
        if not ok:
            raise InputError(f"--non-ai {block}", value, "a power in W >= 0")
    # 2. layer the three sources
    blocks = []
    for block in NON_AI_BLOCKS:
        power, source = DEFAULTS[profile.device_class][block]
        if block in profile.non_ai:
            q = profile.non_ai[block]
            power, source = q.si, f"profile {profile.name}: {q.provenance}"
        if block in overrides:
            power, source = float(overrides[block]), "set by the user"
        blocks.append(NonAiBlock(block, power, source))
    return NonAiBudget(tuple(blocks))
