"""Result objects of a prediction; field names carry their units."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageCost:
    """One stage on one device. ``latency_s``/``energy_j`` are per keyframe period (all its
    calls); the ``_per_call`` fields are one call."""

    name: str
    per_frame: bool
    calls_per_keyframe: float
    latency_per_call_s: float
    energy_per_call_j: float
    latency_s: float
    energy_j: float
    dram_bytes_per_call: float
    macs_per_call: float
    bound: str  # the bound that takes most of the stage's time
    bound_time_share: dict[str, float]  # bound -> share of the stage's time


@dataclass(frozen=True)
class Prediction:
    """What the feature costs on one device. Non-AI figures are shown separately.

    Sequential assumption: keyframe generation and the in-between frames run on the same device
    one after the other, so ``output_fps = N / (keyframe_latency_s + frame_work_s)``;
    ``output_fps_overlapped = N / max(...)`` is the variant where they overlap. When the device
    is faster than the target it idles (``power.idle``) for the rest of each period.
    """

    hardware: str
    description: str
    dtype: str
    compute_dtype: str  # the engine's dtype (differs when the device falls back)
    stack: str  # the software stack the figures stand for (eager, compile, coreml, ...)
    frames_per_keyframe: int
    target_fps: float
    per_stage: tuple[StageCost, ...]
    keyframe_latency_s: float  # model stages, one keyframe
    frame_work_s: float  # per-frame stages, for the N frames of one keyframe period
    output_fps: float  # sustainable, sequential
    output_fps_overlapped: float
    min_every_for_target: int | None  # smallest N (1 keyframe every N frames) reaching target
    realtime: bool  # output_fps >= target_fps
    delivered_fps: float  # min(output_fps, target_fps)
    ai_power_w: float
    non_ai_power_w: float
    non_ai_blocks: dict[str, dict[str, Any]]
    avg_power_w: float
    peak_power_w: float  # highest per-layer power (<= power cap)
    power_cap_w: float
    ai_energy_per_frame_j: float
    non_ai_energy_per_frame_j: float
    energy_per_frame_j: float
    fps_per_watt: float  # delivered fps / total power
    ai_fps_per_watt: float  # delivered fps / AI power
    battery_wh: float | None
    battery_hours: float | None  # None where the device has no battery
    memory_needed_bytes: float  # all stage weights + the largest stage's peak activations
    memory_usable_bytes: float
    fits_in_memory: bool
    assumptions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["per_stage"] = [dataclasses.asdict(s) for s in self.per_stage]
        data["assumptions"] = list(self.assumptions)
        return data


@dataclass(frozen=True)
class Unsupported:
    """A device that cannot run the requested dtype (e.g. fp32 on an NPU)."""

    hardware: str
    description: str
    dtype: str
    reason: str
    stack: str | None = None  # the software stack asked for

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"supported": False}
