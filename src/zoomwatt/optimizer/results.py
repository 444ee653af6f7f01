"""Result objects of ``zoomwatt optimize``; field names carry their units."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def to_jsonable(value: Any) -> Any:
    """Dataclasses, dicts and lists as JSON-able data (inf as "inf", NaN as null)."""
    return _jsonable(value)


@dataclass(frozen=True)
class Candidate:
    """One combination of optimizations, predicted on one device."""

    label: str
    knobs: dict[str, Any]  # resolution_px, cfg, vae, quant, sparsity, share_bits,
    # operating_point, layerwise_frequency, steps, every
    output_fps: float  # sustainable, sequential (keyframes + in-between frames)
    avg_power_w: float  # AI + non-AI, at min(output fps, target fps)
    energy_per_frame_j: float
    fps_per_watt: float  # delivered fps / total power
    keyframe_latency_s: float
    error_db: float | None  # estimated noise-to-signal of the lossy choices; None: lossless
    meets_targets: bool
    ai_power_w: float = 0.0
    weight_bytes: float = 0.0  # stored weights of the model stages
    fits_in_memory: bool = True
    lossy: tuple[str, ...] = ()  # the lossy choices the error comes from
    # how error_db was had: "measured" (one choice, or measured applied together), "parts
    # added" (independent noises of measured parts); None: lossless (optimizer.error_table)
    error_basis: str | None = None
    give_ups: tuple[str, ...] = ()  # what changes in the picture against the baseline

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


@dataclass(frozen=True)
class ExploreResult:
    """The search on one device: baseline, Pareto front of (output fps, power), best."""

    hardware: str
    description: str
    target_fps: float
    power_cap_w: float | None
    max_error_db: float | None
    candidates_evaluated: int
    seconds: float
    baseline: Candidate
    pareto: list[Candidate]  # sorted by output_fps; front of (fps up, power down, give-ups down)
    best: Candidate | None  # cheapest in power meeting the targets
    least_change: Candidate | None  # fewest give-ups meeting the targets, then cheapest
    fastest: Candidate  # highest output fps within the error limit
    space: dict[str, list[Any]]  # the values tried for each knob
    error_source: dict[str, Any]  # where the per-choice errors come from
    errors_db: dict[str, float]  # per lossy choice
    assumptions: tuple[str, ...]
    studies: dict[str, Any] = field(default_factory=dict)  # off-chip, frequency (summaries)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)
