"""Roll per-layer costs up to stages and to the end-to-end figures of the feature.

With N = frames per keyframe (1-in-N sampling):

    keyframe_latency = sum over model stages of calls x latency per call
    frame_work       = sum over per-frame stages of calls x latency per call  (N frames' worth)
    output_fps       = N / (keyframe_latency + frame_work)      sequential, same device
    delivered_fps    = min(output_fps, target fps)
    AI energy / frame = (busy energy + idle power x idle time) / N, with the period N / delivered
    total power      = AI power + non-AI budget;  FPS/W = delivered fps / total power
    battery hours    = battery Wh / total power
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoomwatt.errors import InputError
from zoomwatt.hardware.schema import STACKS, HardwareProfile
from zoomwatt.perfmodel.device_params import DeviceParams, device_params
from zoomwatt.perfmodel.layer_table import LayerTable, build_layer_table
from zoomwatt.perfmodel.non_ai_budget import non_ai_budget
from zoomwatt.perfmodel.results import Prediction, StageCost, Unsupported
from zoomwatt.perfmodel.roofline import BOUNDS, LayerCosts, layer_costs
from zoomwatt.perfmodel.stage import Stage

ASSUMPTIONS = (
    "keyframe generation and in-between frames run on the same device one after the other "
    "(output_fps_overlapped: if they overlap)",
    "all model weights stay resident; activations spill to DRAM beyond the on-chip buffer",
    "a device faster than the target idles at its idle power for the rest of each period",
    "a layer over the power cap runs slower at the same dynamic energy (no DVFS saving)",
)


@dataclass(frozen=True)
class PredictOptions:
    """Settings of a prediction that are not in the workload."""

    frames_per_keyframe: int = 30  # N: one keyframe every N output frames
    target_fps: float = 30.0
    battery_wh: float | None = None  # None: the profile's default battery (if any)
    non_ai_w: Mapping[str, float] = field(default_factory=dict)  # block -> W overrides
    sparse: bool = False  # conv/linear at the 2:4 sparse peak where supported
    efficiency: Mapping[str, float] = field(default_factory=dict)  # op class -> factor override
    stack: str | None = None  # software stack (None: each profile's default stack)
    fitted_stacks: bool = True  # lay the figures fitted to published data over the stack's
    # the CPU allocator keeps freed memory (retain-memory lever): no fresh buffer faulted in
    retained_memory: bool = False


def _check_options(options: PredictOptions) -> None:
    n = options.frames_per_keyframe
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError("frames_per_keyframe", n, "an integer >= 1")
    fps = options.target_fps
    if not isinstance(fps, int | float) or not math.isfinite(fps) or fps <= 0:
        raise InputError("target_fps", fps, "a number > 0")
    wh = options.battery_wh
    if wh is not None and (not isinstance(wh, int | float) or not math.isfinite(wh) or wh <= 0):
        raise InputError("battery_wh", wh, "a capacity in Wh > 0")
    if options.stack is not None and options.stack not in STACKS:
        raise InputError("stack", options.stack, f"one of {', '.join(STACKS)}")
    if not isinstance(options.retained_memory, bool):
        raise InputError("retained_memory", options.retained_memory, "True or False")


def _stage_costs(table: LayerTable, costs: LayerCosts) -> tuple[StageCost, ...]:
    n = table.n_stages
    idx = table.stage_index
    time = np.bincount(idx, weights=costs.time_s, minlength=n)
    energy = np.bincount(idx, weights=costs.energy_j, minlength=n)
    dram = np.bincount(idx, weights=costs.dram_bytes, minlength=n)
    macs = np.bincount(idx, weights=table.macs, minlength=n)
    by_bound = np.bincount(
        idx * len(BOUNDS) + costs.bound, weights=costs.time_s, minlength=n * len(BOUNDS)
    ).reshape(n, len(BOUNDS))
    out = []
    for i, stage in enumerate(table.stages):
        total = by_bound[i].sum()
        shares = {
            b: float(by_bound[i, j] / total) if total > 0 else 0.0 for j, b in enumerate(BOUNDS)
        }
        out.append(
            StageCost(
                name=stage.name,
                per_frame=stage.per_frame,
                calls_per_keyframe=stage.calls_per_keyframe,
                latency_per_call_s=float(time[i]),
                energy_per_call_j=float(energy[i]),
                latency_s=float(time[i] * stage.calls_per_keyframe),
                energy_j=float(energy[i] * stage.calls_per_keyframe),
                dram_bytes_per_call=float(dram[i]),
                macs_per_call=float(macs[i]),
                bound=BOUNDS[int(np.argmax(by_bound[i]))] if total > 0 else "none",
                bound_time_share=shares,
            )
        )
    return tuple(out)


def unsupported_dtypes(table: LayerTable, params: DeviceParams) -> list[str]:
    """Dtypes used by the layers that the device has no engine for."""
    return [d for d in table.used_dtypes() if not params.supports(d)]


@dataclass(frozen=True)
class FrameRollup:
    """The end-to-end figures of the feature for one keyframe period of N output frames. Each
    field is a float, or an array over variants (the inputs of :func:`roll_up`, broadcast)."""

    output_fps: Any  # sustainable: N / (keyframe + frame work), sequential on one device
    output_fps_overlapped: Any  # N / max(keyframe, frame work)
    delivered_fps: Any  # min(output fps, target)
    period_s: Any  # N / delivered fps
    idle_s: Any  # the rest of the period, spent at idle power
    ai_energy_period_j: Any  # busy energy + idle power x idle time
    ai_power_w: Any
    non_ai_power_w: Any
    avg_power_w: Any  # AI + non-AI
    ai_energy_per_frame_j: Any
    non_ai_energy_per_frame_j: Any
    energy_per_frame_j: Any
    fps_per_watt: Any  # delivered fps / total power
    ai_fps_per_watt: Any  # delivered fps / AI power


def _minimum(a: Any, b: Any) -> Any:
    return min(a, b) if np.ndim(a) == 0 and np.ndim(b) == 0 else np.minimum(a, b)


def _maximum(a: Any, b: Any) -> Any:
    return max(a, b) if np.ndim(a) == 0 and np.ndim(b) == 0 else np.maximum(a, b)


def roll_up(
    keyframe_s: Any,
    frame_work_s: Any,
    busy_energy_j: Any,
    *,
    frames_per_keyframe: Any,
    target_fps: float,
    idle_power_w: float,
    non_ai_power_w: float,
) -> FrameRollup:
    """Frame rate, power and energy per frame from the costs of one keyframe period: the
    model stages' latency (``keyframe_s``), the per-frame work of its N frames
    (``frame_work_s``) and the energy of both (``busy_energy_j``). Floats give floats (the
    arithmetic of Python floats, as one prediction does); numpy arrays, or a mix that
    broadcasts, give arrays over all their variants at once (as the optimizer's search does;
    variants that divide by zero or carry NaN give inf or NaN there, without a warning)."""
    n = frames_per_keyframe
    busy_s = keyframe_s + frame_work_s
    with np.errstate(divide="ignore", invalid="ignore"):
        output_fps = n / busy_s
        delivered_fps = _minimum(output_fps, target_fps)
        period_s = n / delivered_fps
        idle_s = _maximum(0.0, period_s - busy_s)
        ai_energy_period_j = busy_energy_j + idle_power_w * idle_s
        ai_power_w = ai_energy_period_j / period_s
        avg_power_w = ai_power_w + non_ai_power_w
        ai_energy_per_frame_j = ai_energy_period_j / n
        non_ai_energy_per_frame_j = non_ai_power_w / delivered_fps
        return FrameRollup(
            output_fps=output_fps,
            output_fps_overlapped=n / _maximum(keyframe_s, frame_work_s),
            delivered_fps=delivered_fps,
            period_s=period_s,
            idle_s=idle_s,
            ai_energy_period_j=ai_energy_period_j,
            ai_power_w=ai_power_w,
            non_ai_power_w=non_ai_power_w,
            avg_power_w=avg_power_w,
            ai_energy_per_frame_j=ai_energy_per_frame_j,
            non_ai_energy_per_frame_j=non_ai_energy_per_frame_j,
            energy_per_frame_j=ai_energy_per_frame_j + non_ai_energy_per_frame_j,
            fps_per_watt=delivered_fps / avg_power_w,
            ai_fps_per_watt=delivered_fps / ai_power_w,
        )


def min_every_for_target(
    keyframe_s: float, frame_work_s: float, n: int, target_fps: float
) -> int | None:
    """The smallest N (1 keyframe every N frames) that reaches ``target_fps``: N >= target x
    keyframe / (1 - target x per-frame work); None when the per-frame work alone is too slow.
    ``frame_work_s`` is the work of ``n`` frames."""
    per_frame_s = frame_work_s / n
    if target_fps * per_frame_s >= 1:
        return None
    return max(1, math.ceil(target_fps * keyframe_s / (1 - target_fps * per_frame_s) - 1e-9))


def usable_memory_bytes(profile: HardwareProfile) -> float:
    """What the feature may hold in memory: capacity x the usable share."""
    return profile.memory_capacity.si * profile.memory_usable_fraction.si


def memory_needed_bytes(stages: Sequence[Stage]) -> float:
    """All model weights resident, plus the largest live activation set of any stage."""
    weights = sum(s.weight_bytes for s in stages if not s.per_frame)
    return weights + max((s.peak_activation_bytes for s in stages), default=0.0)


def _dtype_labels(table: LayerTable, params: DeviceParams) -> tuple[str, str]:
    """The model layers' dtype ("mixed(...)" when several) and the engines that compute it."""
    per_frame = np.array([s.per_frame for s in table.stages], dtype=bool)
    model_layers = ~per_frame[table.stage_index] if table.n_layers else np.zeros(0, bool)
    used = table.used_dtypes(model_layers if model_layers.any() else None)
    engines = sorted({params.compute_dtype[d] or "?" for d in used})
    dtype = used[0] if len(used) == 1 else "mixed(" + ",".join(used) + ")"
    return dtype, engines[0] if len(engines) == 1 else ",".join(engines)


def _battery(
    profile: HardwareProfile, options: PredictOptions, avg_power_w: float
) -> tuple[float | None, float | None]:
    """The battery in Wh (the option's, else the profile's, else None) and its hours."""
    battery_wh = options.battery_wh
    if battery_wh is None and profile.battery is not None:
        battery_wh = profile.battery.si
    return battery_wh, None if battery_wh is None else battery_wh / avg_power_w


def rollup(
    table: LayerTable,
    profile: HardwareProfile,
    params: DeviceParams,
    options: PredictOptions,
) -> Prediction:
    """End-to-end figures for one device whose params support every dtype in ``table``."""
    # 1. per-call costs: layers, then stages
    costs = layer_costs(table, params)
    stages = _stage_costs(table, costs)
    # 2. frame costs: one keyframe period
    keyframe_s = sum(s.latency_s for s in stages if not s.per_frame)
    frame_work_s = sum(s.latency_s for s in stages if s.per_frame)
    if keyframe_s + frame_work_s <= 0:
        raise InputError("stages", [s.name for s in stages], "at least one layer that does work")
    # 3. the roll-up
    budget = non_ai_budget(profile, options.non_ai_w)
    n, target = options.frames_per_keyframe, options.target_fps
    r = roll_up(keyframe_s, frame_work_s, sum(s.energy_j for s in stages),
                frames_per_keyframe=n, target_fps=target,
                idle_power_w=float(params.idle_power_w), non_ai_power_w=budget.power_w)  # fmt: skip
    # 4. the answer
    kernel_power = costs.power_w[costs.time_s > 0]
    battery_wh, battery_hours = _battery(profile, options, r.avg_power_w)
    memory_needed, memory_usable = memory_needed_bytes(table.stages), usable_memory_bytes(profile)
    dtype, compute_dtype = _dtype_labels(table, params)
    return Prediction(
        hardware=profile.name,
        description=profile.description,
        dtype=dtype,
        compute_dtype=compute_dtype,
        stack=params.stack,
        frames_per_keyframe=n,
        target_fps=float(target),
        per_stage=stages,
        keyframe_latency_s=keyframe_s,
        frame_work_s=frame_work_s,
        output_fps=r.output_fps,
        output_fps_overlapped=r.output_fps_overlapped,
        min_every_for_target=min_every_for_target(keyframe_s, frame_work_s, n, target),
        realtime=bool(r.output_fps >= target * (1 - 1e-12)),
        delivered_fps=r.delivered_fps,
        ai_power_w=r.ai_power_w,
        non_ai_power_w=r.non_ai_power_w,
        non_ai_blocks=budget.as_dict(),
        avg_power_w=r.avg_power_w,
        peak_power_w=float(kernel_power.max()) if kernel_power.size else 0.0,
        power_cap_w=float(params.power_cap_w),
        ai_energy_per_frame_j=r.ai_energy_per_frame_j,
        non_ai_energy_per_frame_j=r.non_ai_energy_per_frame_j,
        energy_per_frame_j=r.energy_per_frame_j,
        fps_per_watt=r.fps_per_watt,
        ai_fps_per_watt=r.ai_fps_per_watt,
        battery_wh=battery_wh,
        battery_hours=battery_hours,
        memory_needed_bytes=float(memory_needed),
        memory_usable_bytes=float(memory_usable),
        fits_in_memory=bool(memory_needed <= memory_usable),
        assumptions=ASSUMPTIONS,
    )


def predict_many(
    stages: Sequence[Stage],
    profiles: Sequence[HardwareProfile],
    options: PredictOptions | None = None,
) -> list[Prediction | Unsupported]:
    """Predict the feature on each profile, as ``options.stack`` runs it (None: each profile's
    default stack; a stack a profile does not list is an InputError); a device that cannot run
    the dtype gets an :class:`Unsupported` entry instead of a prediction."""
    # 1. inputs
    options = options or PredictOptions()
    _check_options(options)
    if not stages:
        raise InputError("stages", stages, "at least one stage")
    table = build_layer_table(stages)
    # 2. each device
    out: list[Prediction | Unsupported] = []
    for profile in profiles:
        params = device_params(
            profile,
            sparse=options.sparse,
            efficiency=options.efficiency,
            stack=options.stack,
            fitted=options.fitted_stacks,
            retained_memory=options.retained_memory,
        )
        missing = unsupported_dtypes(table, params)
        if missing:
            engines = ", ".join(profile.supported_dtypes)
            reason = f"{', '.join(missing)} not supported (computes {engines})"
            out.append(
                Unsupported(
                    profile.name, profile.description, ",".join(missing), reason, params.stack
                )
            )
            continue
        out.append(rollup(table, profile, params, options))
    return out


def predict(
    stages: Sequence[Stage], profile: HardwareProfile, options: PredictOptions | None = None
) -> Prediction:
    """Predict the feature on one device; raises :class:`InputError` if it cannot run a dtype."""
    (result,) = predict_many(stages, [profile], options)
    return supported(result)


def supported(result: Prediction | Unsupported, argument: str = "dtype") -> Prediction:
    """``result`` if it is a prediction; an :class:`InputError` naming ``argument`` (the
    dtype the device cannot compute) if it is :class:`Unsupported`."""
    if isinstance(result, Unsupported):
        expected = f"a dtype {result.hardware} can compute"
        raise InputError(argument, result.dtype, expected, result.reason)
    return result
