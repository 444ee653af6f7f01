"""The search: every combination of the optimizations, predicted on one device at once.

Knobs (``SearchSpace``): resolution, classifier-free guidance, VAE (default or TAESD),
quantization, sparsity, weight sharing, software stack, operating point, layer-wise frequency,
denoising steps and 1-in-N keyframe sampling. They span a grid with named axes
(:class:`SearchGrid`): structure (resolution, CFG, VAE), compression (quantization, sparsity,
sharing), stack (the profile's stacks: eager, torch.compile, OpenVINO, TensorRT, ...; a stack
runs the same traced layers with its own efficiencies, kernel overhead and fusion), operating
point, layer-wise frequency, steps and N. A stack whose lever cannot go with a compression's
lever (:data:`zoomwatt.pipeline.backends.levers.EXCLUSIVE`: OpenVINO with torch's int8
modules) has no prediction there.

:func:`explore` reads in four steps, as a prediction does:

1. per-call costs (:func:`_per_call_costs`): each model stage of each structure, traced once
   through the road of ``zoomwatt predict`` (:func:`zoomwatt.perfmodel.load_workload`), its
   layer arrays rewritten per compression (:mod:`.compressed_table`), timed on the device at
   every operating point and frequency mode (:mod:`.frequency`);
2. frame costs (:func:`_frame_costs`): one keyframe period, the model stages' calls (the UNet
   once per step) and the per-frame work of N frames, over the whole grid;
3. the roll-up: perfmodel's own (:func:`zoomwatt.perfmodel.roll_up`), on arrays;
4. answers (:func:`_answers`): errors, memory, targets, give-ups, and the baseline, the
   cheapest, the fewest give-ups, the fastest and the Pareto front.

The unmodified default pipeline gives the same figures as ``zoomwatt predict``.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

import numpy as np

from zoomwatt.archs.catalog import VAES
from zoomwatt.errors import InputError
from zoomwatt.hardware import HardwareProfile, load_profile
from zoomwatt.hardware.schema import INT8_WEIGHT_CLASSES
from zoomwatt.optimizer import cost_cache
from zoomwatt.optimizer.compressed_table import (
    QUANT_DTYPES,
    SHARE_BITS,
    SPARSITIES,
    compressed_table,
    sharing_applies,
    weight_ratio,
)
from zoomwatt.optimizer.error_table import ErrorTable, shipped_error_table
from zoomwatt.optimizer.frequency import (
    FrequencyPoint,
    no_loss_rows,
    operating_points,
    scaled_params,
)
from zoomwatt.optimizer.plan import PRICING_STACKS, QUANT_LEVERS, STACK_QUANT_LEVERS
from zoomwatt.optimizer.results import Candidate, ExploreResult
from zoomwatt.perfmodel import (
    DeviceParams,
    FrameRollup,
    build_layer_table,
    device_params,
    layer_costs,
    load_workload,
    roll_up,
    stage_from_workload,
    usable_memory_bytes,
)
from zoomwatt.perfmodel.layer_table import LayerTable
from zoomwatt.perfmodel.non_ai_budget import non_ai_budget
from zoomwatt.perfmodel.stage import Stage
from zoomwatt.pipeline.backends.levers import STACK_LEVERS, exclusion
from zoomwatt.workload.characterize_pipeline import frame_ops_workload
from zoomwatt.workload.records import DTYPE_BYTES
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import MODEL_STAGES, StageName

log = logging.getLogger(__name__)

#: The axes of the search grid, in order.
AXES = (
    "structure",
    "compression",
    "stack",
    "operating_point",
    "layerwise_frequency",
    "steps",
    "every",
)
#: The AXES of one call of a model stage (before steps and N).
CALL_AXES = AXES[:5]
ASSUMPTIONS = (
    "figures are predictions of the roofline + energy model (zoomwatt predict), not measurements",
    "keyframes and in-between frames run one after the other on the same device",
    "error_db: noise-to-signal of the UNet output against fp32, measured per choice on real "
    "weights (see error_source); a combination measured applied together where the table has it, "
    "else added as independent noises (each point's error_basis says which); steps, CFG, "
    "resolution, TAESD and N change the picture but are not scored as error",
    "pruned and shared weights are stored compressed and decoded on chip; only 2:4 runs faster, "
    "and only where the device has a sparse peak",
    "a profile without int4 engines computes int4 weights in int8: smaller weights, no speed-up",
    "an operating point keeps the profile's power cap and memory bandwidth; static power splits "
    "into leakage (x V) and clock power (x V^2 f), half each (estimate)",
    "power cap (--power-cap): a limit on the average total power (AI + non-AI)",
)


@dataclass(frozen=True)
class SearchSpace:
    """The values tried for each knob (the baseline's values are always added)."""

    resolution_px: tuple[int, ...] = (512, 384, 256)
    cfg: tuple[bool, ...] = (True, False)
    vae: tuple[str, ...] = ("default", "taesd")
    quant: tuple[str, ...] = tuple(QUANT_DTYPES)
    sparsity: tuple[str, ...] = SPARSITIES
    share_bits: tuple[int, ...] = (0, 4)
    stack: tuple[str, ...] | None = None  # None: every stack of the profile
    operating_point: tuple[str, ...] | None = None  # None: every point of the profile
    layerwise_frequency: tuple[bool, ...] = (False, True)
    steps: tuple[int, ...] = (5, 10, 15, 20)
    every: tuple[int, ...] = (10, 30, 60, 120)


@dataclass(frozen=True)
class OptimizeOptions:
    """Targets of the search, and what it explores."""

    target_fps: float = 30.0
    power_cap_w: float | None = None  # limit on the average total power
    max_error_db: float | None = None  # limit on error_db (noise-to-signal, e.g. -30)
    pipeline: str = "sd2-inpaint"
    space: SearchSpace = field(default_factory=SearchSpace)
    non_ai_w: Mapping[str, float] = field(default_factory=dict)
    studies: bool = True  # add the off-chip and frequency study summaries (~1 s)


def baseline_knobs(nominal_point: str, stack: str = "eager") -> dict[str, Any]:
    """The unmodified default pipeline (the default workload, as ``zoomwatt predict`` runs
    it), on the profile's default stack at its nominal operating point."""
    spec = WorkloadSpec()
    return {
        "resolution_px": spec.size,
        "cfg": spec.cfg,
        "vae": spec.vae,
        "quant": "fp16",
        "sparsity": "dense",
        "share_bits": 0,
        "stack": stack,
        "operating_point": nominal_point,
        "layerwise_frequency": False,
        "steps": spec.steps,
        "every": spec.every,
    }


def _positive(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _check(options: OptimizeOptions) -> None:
    if not isinstance(options, OptimizeOptions):
        raise InputError("options", type(options).__name__, "an OptimizeOptions")
    if not _positive(options.target_fps):
        raise InputError("target_fps", options.target_fps, "a frame rate > 0")
    if options.power_cap_w is not None and not _positive(options.power_cap_w):
        raise InputError("power_cap_w", options.power_cap_w, "None or a power in W > 0")
    e = options.max_error_db
    if e is not None and (
        isinstance(e, bool) or not isinstance(e, int | float) or not math.isfinite(e) or e >= 0
    ):
        raise InputError(
            "max_error_db",
            e,
            "None or a noise-to-signal ratio in dB below 0",
            "e.g. -30 allows noise 30 dB below the output (SNR >= 30 dB)",
        )
    s = options.space
    checks = {
        "resolution_px": lambda v: isinstance(v, int) and v >= 64 and v % 64 == 0,
        "cfg": lambda v: isinstance(v, bool),
        "vae": lambda v: v in VAES,
        "quant": lambda v: v in QUANT_DTYPES,
        "sparsity": lambda v: v in SPARSITIES,
        "share_bits": lambda v: v in SHARE_BITS,
        "layerwise_frequency": lambda v: isinstance(v, bool),
        "steps": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "every": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
    }
    for name, ok in checks.items():
        values = getattr(s, name)
        if not values or not all(ok(v) for v in values):
            raise InputError(f"space.{name}", values, "a non-empty tuple of valid values")


def _with_baseline(
    space: SearchSpace, base: dict[str, Any], points: list[str], stacks: tuple[str, ...]
) -> dict:
    """The values tried per knob: the space's, the baseline's first; operating points and
    stacks (None: all of them) among the profile's."""
    out = {}
    for f in fields(SearchSpace):
        values = getattr(space, f.name)
        known = {"operating_point": list(points), "stack": list(stacks)}.get(f.name)
        if known is not None:
            values = tuple(known) if values is None else values
            unknown = [v for v in values if v not in known]
            if unknown:
                raise InputError(f"space.{f.name}", unknown, f"values among {known}")
        merged = list(dict.fromkeys([base[f.name], *values]))
        if f.name in ("resolution_px", "steps", "every"):
            merged.sort()
        out[f.name] = merged
    return out


# --- the grid -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchGrid:
    """The values of each axis of the search (:data:`AXES`): every combination is a point."""

    space: dict[str, list[Any]]  # knob -> values tried, baseline included (see _with_baseline)
    structure: list[tuple[int, bool, str]]  # (resolution_px, cfg, vae): traced once each
    compression: list[tuple[str, str, int]]  # (quant, sparsity, share_bits)

    @classmethod
    def of(cls, space: dict[str, list[Any]]) -> SearchGrid:
        structure = itertools.product(space["resolution_px"], space["cfg"], space["vae"])
        compression = itertools.product(space["quant"], space["sparsity"], space["share_bits"])
        return cls(space, list(structure), list(compression))

    @property
    def shape(self) -> tuple[int, ...]:
        return (
            len(self.structure),
            len(self.compression),
            *(len(self.space[axis]) for axis in AXES[2:]),
        )

    @property
    def stacks(self) -> list[str]:
        return self.space["stack"]

    def along(self, values: Any, *axes: str) -> np.ndarray:
        """``values``, whose dimensions are the named ``axes`` (in grid order), shaped to
        broadcast over the whole grid."""
        values = np.asarray(values)
        if values.ndim != len(axes) or list(axes) != [a for a in AXES if a in axes]:
            raise ValueError(f"axes {axes} for an array of {values.ndim} dimensions")
        return values[tuple(slice(None) if a in axes else None for a in AXES)]

    def index_of(self, knobs: dict[str, Any]) -> tuple[int, ...]:
        """The grid point of ``knobs``."""
        return (
            self.structure.index((knobs["resolution_px"], knobs["cfg"], knobs["vae"])),
            self.compression.index((knobs["quant"], knobs["sparsity"], knobs["share_bits"])),
            *(self.space[axis].index(knobs[axis]) for axis in AXES[2:]),
        )

    def knobs_at(self, index: tuple[int, ...]) -> dict[str, Any]:
        """The knobs of a grid point (in the order of :func:`baseline_knobs`)."""
        s, c, *rest = index
        size, cfg, vae = self.structure[s]
        quant, sparsity, share = self.compression[c]
        knobs = {"resolution_px": size, "cfg": cfg, "vae": vae, "quant": quant,
                 "sparsity": sparsity, "share_bits": share}  # fmt: skip
        return knobs | {axis: self.space[axis][i] for axis, i in zip(AXES[2:], rest, strict=True)}


@dataclass(frozen=True)
class _Device:
    """The device the search runs on: its profile, its parameters per stack (``params``: the
    default stack's) and its operating points."""

    profile: HardwareProfile
    params: DeviceParams
    points: list[FrequencyPoint]
    nominal: FrequencyPoint
    stack_params: dict[str, DeviceParams]

    @classmethod
    def of(cls, profile: HardwareProfile) -> _Device:
        points, nominal = operating_points(profile)
        stacks = {name: device_params(profile, stack=name) for name in profile.stack_names}
        return cls(profile, stacks[profile.default_stack], points, nominal, stacks)


def priced_stack(stack: str, quant: str, device: _Device) -> str:
    """The stack whose figures price ``stack`` with ``quant``: its :data:`PRICING_STACKS`
    entry where the profile lists that (OpenVINO with NNCF's int8 weights, measured so on a
    calibrated host), else ``stack``."""
    priced = PRICING_STACKS.get((stack, quant))
    return priced if priced in device.stack_params else stack


def search_stacks(profile: HardwareProfile) -> tuple[str, ...]:
    """The profile's stacks as the search's stack axis: all but those that only price another
    stack's compression point (:data:`PRICING_STACKS`)."""
    pricing = set(PRICING_STACKS.values())
    return tuple(s for s in profile.stack_names if s not in pricing)


def stack_applies(stack: str, quant: str, sparsity: str, share: int) -> bool:
    """Whether ``stack``'s lever can go with the compression's levers (the levers' own
    :func:`~zoomwatt.pipeline.backends.levers.exclusion`)."""
    together = STACK_QUANT_LEVERS.get((stack, quant))
    names = [together] if together else [STACK_LEVERS.get(stack), QUANT_LEVERS.get(quant)]
    names += [None if sparsity == "dense" else sparsity, "share" if share else None]
    return exclusion([n for n in names if n]) is None


# --- 1. per-call costs -------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _model_stages(
    pipeline: str, size: int, cfg: bool, vae: str, cache: bool = True
) -> tuple[Stage, ...]:
    """The fp16 model stages of one (resolution, CFG, VAE), as ``zoomwatt predict`` gets them;
    traced once per process, and read from the workload cache on disk when it was traced
    before (``cache=False``: traced again, the cache neither read nor written)."""
    spec = WorkloadSpec(pipeline=pipeline, vae=vae, size=size, cfg=cfg, dtype="fp16")
    stages = tuple(s for s in load_workload(spec, cache=cache).stages if s.name in MODEL_STAGES)
    if [s.name for s in stages] != list(MODEL_STAGES):
        raise InputError("pipeline", pipeline, f"stages {MODEL_STAGES}")
    return stages


@lru_cache(maxsize=64)
def _frame_stage(size: int, every: int, act_dtype: str) -> Stage:
    """The per-frame work of one keyframe period of ``every`` frames, as the workload counts
    it (default border), with activations in ``act_dtype``."""
    spec = WorkloadSpec(size=size, every=every, activation_dtype=act_dtype)
    return stage_from_workload(frame_ops_workload(spec))


def _costs_per_mode(
    table: LayerTable, device: _Device, runs: list[str], sparse: bool, stack: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-stage latency and energy of one call on ``stack``, per run point and frequency mode
    (fixed, layer-wise): two arrays (run point, mode, stage)."""
    params0 = device.stack_params[stack].replace(use_sparse=sparse)
    time_s = np.full((len(runs), 2, table.n_stages), np.nan)
    energy_j = np.full_like(time_s, np.nan)
    idx, n = table.stage_index, table.n_stages
    # 1. one batch of rows for all run points: each run's allowed frequencies at its voltage
    blocks, settings = [], []
    for name in runs:
        run = next(p for p in device.points if p.name == name)
        allowed = [p for p in device.points if p.frequency_hz <= run.frequency_hz]
        blocks.append((len(settings), len(allowed), allowed.index(run)))
        settings += [(p.frequency_hz, run.voltage_v) for p in allowed]
    costs = layer_costs(table, scaled_params(params0, device.nominal, settings))
    # 2. per run point: at its frequency (fixed), and the no-loss choice per layer
    for r, (start, count, row) in enumerate(blocks):
        t_rows = costs.time_s[start : start + count]
        e_rows = costs.energy_j[start : start + count]
        choice = no_loss_rows(t_rows, e_rows, row)[None]
        per_mode = (
            (t_rows[row], e_rows[row]),
            (np.take_along_axis(t_rows, choice, 0)[0], np.take_along_axis(e_rows, choice, 0)[0]),
        )
        for m, (t, e) in enumerate(per_mode):
            time_s[r, m] = np.bincount(idx, t, minlength=n)
            energy_j[r, m] = np.bincount(idx, e, minlength=n)
    return time_s, energy_j


@dataclass(frozen=True)
class _PerCall:
    """One call of each model stage over (structure, compression, stack, operating_point,
    layerwise_frequency), and what each structure and compression holds in memory."""

    time_s: dict[StageName, np.ndarray]
    energy_j: dict[StageName, np.ndarray]
    calls: dict[StageName, np.ndarray]  # calls per keyframe, per structure
    weight_bytes: np.ndarray  # (structure, compression): stored weights of the model stages
    memory_bytes: np.ndarray  # (structure, compression): weights + the largest activations


def _footprint(
    stages: tuple[Stage, ...], table: LayerTable, ctable: LayerTable, size: int, quant: str
) -> tuple[float, float]:
    """Stored weights, and weights + the largest live activations (frame stage included), of
    the model stages compressed as ``ctable``."""
    act_dtype = QUANT_DTYPES[quant][1]
    a_ratio = DTYPE_BYTES[act_dtype] / DTYPE_BYTES["fp16"]
    weights = float(np.array([s.weight_bytes for s in stages]) @ weight_ratio(table, ctable))
    frame_peak = _frame_stage(size, 30, act_dtype).peak_activation_bytes
    peak = max(max(s.peak_activation_bytes for s in stages) * a_ratio, frame_peak)
    return weights, weights + peak


def _per_call_costs(grid: SearchGrid, device: _Device, pipeline: str, cache: bool) -> _PerCall:
    """Step 1: per structure (traced once), compression (the layer arrays rewritten) and stack,
    the latency and energy of one call of each model stage at every point and mode; kept on
    disk when ``cache`` (:mod:`.cost_cache`: a second run on the same device reads them)."""
    modes = [int(m) for m in grid.space["layerwise_frequency"]]
    n_s, n_c, n_k = len(grid.structure), len(grid.compression), len(MODEL_STAGES)
    shape = (n_s, n_c, len(grid.stacks), len(grid.space["operating_point"]), len(modes), n_k)
    shapes = {"time_s": shape, "energy_j": shape, "calls": (n_s, n_k),
              "weight_bytes": (n_s, n_c), "memory_bytes": (n_s, n_c)}  # fmt: skip
    key = None
    arrays = None
    if cache:
        grid_key = {"structure": grid.structure, "compression": grid.compression,
                    "stack": grid.stacks, "operating_point": grid.space["operating_point"],
                    "modes": modes, "nominal": device.nominal.name}  # fmt: skip
        priced = sorted(set(PRICING_STACKS.values()) & set(device.stack_params))
        params = [device.stack_params[name] for name in [*grid.stacks, *priced]]
        key = cost_cache.cost_key(pipeline, grid_key, params, device.points)
        arrays = cost_cache.load_costs(key, shapes)
    if arrays is None:
        arrays = _compute_per_call(grid, device, pipeline, cache, modes)
        if key is not None:
            cost_cache.save_costs(key, arrays)
    time_s, energy_j, calls = arrays["time_s"], arrays["energy_j"], arrays["calls"]
    return _PerCall(
        time_s={stage: time_s[..., k] for k, stage in enumerate(MODEL_STAGES)},
        energy_j={stage: energy_j[..., k] for k, stage in enumerate(MODEL_STAGES)},
        calls={stage: calls[:, k] for k, stage in enumerate(MODEL_STAGES)},
        weight_bytes=arrays["weight_bytes"],
        memory_bytes=arrays["memory_bytes"],
    )


def _compute_per_call(
    grid: SearchGrid, device: _Device, pipeline: str, cache: bool, modes: list[int]
) -> dict[str, np.ndarray]:
    """:func:`_per_call_costs`' arrays, from the cost model (``cache``: the workload cache), at
    the frequency ``modes`` asked for."""
    runs, stacks = grid.space["operating_point"], grid.stacks
    shape = (len(grid.structure), len(grid.compression), len(stacks), len(runs), 2,
             len(MODEL_STAGES))  # fmt: skip
    time_s, energy_j = np.full(shape, np.nan), np.full(shape, np.nan)
    calls = np.zeros((len(grid.structure), len(MODEL_STAGES)))
    weight_bytes, memory_bytes = np.full(shape[:2], np.nan), np.full(shape[:2], np.nan)
    for i, (size, cfg, vae) in enumerate(grid.structure):
        stages = _model_stages(pipeline, size, cfg, vae, cache)
        table = build_layer_table(stages)
        calls[i] = [s.calls_per_keyframe for s in stages]
        for j, (quant, sparsity, share) in enumerate(grid.compression):
            if share and not sharing_applies(quant, share):
                continue
            ctable = compressed_table(table, quant, sparsity, share)
            for k, stack in enumerate(stacks):
                if stack_applies(stack, quant, sparsity, share):
                    priced = priced_stack(stack, quant, device)
                    classes = INT8_WEIGHT_CLASSES.get(priced)
                    priced_table = (
                        ctable if classes is None
                        else compressed_table(table, quant, sparsity, share, classes)
                    )  # fmt: skip
                    time_s[i, j, k], energy_j[i, j, k] = _costs_per_mode(
                        priced_table, device, runs, sparsity == "2:4", priced
                    )
            weight_bytes[i, j], memory_bytes[i, j] = _footprint(stages, table, ctable, size, quant)
    return {
        "time_s": time_s[:, :, :, :, modes],
        "energy_j": energy_j[:, :, :, :, modes],
        "calls": calls,
        "weight_bytes": weight_bytes,
        "memory_bytes": memory_bytes,
    }


# --- 2. frame costs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _FrameCosts:
    """One keyframe period, over the whole grid (broadcast): the model stages' latency and
    energy, and the per-frame work of its N frames."""

    keyframe_s: np.ndarray
    keyframe_j: np.ndarray
    frame_work_s: np.ndarray
    frame_work_j: np.ndarray


def _keyframe(
    grid: SearchGrid, per_call: _PerCall, costs: dict[StageName, np.ndarray]
) -> np.ndarray:
    """Calls x per-call cost of the model stages: the UNet once per step, the others as the
    workload counts them per keyframe; over (structure, compression, stack, point, mode,
    steps)."""

    def on_grid(stage: StageName) -> np.ndarray:
        return grid.along(costs[stage], *CALL_AXES)

    calls = {s: grid.along(per_call.calls[s], "structure") for s in MODEL_STAGES}
    fixed = sum(calls[s] * on_grid(s) for s in MODEL_STAGES if not s.per_step)
    per_step = sum(on_grid(s) for s in MODEL_STAGES if s.per_step)
    return fixed + grid.along(np.array(grid.space["steps"], dtype=float), "steps") * per_step


def _frame_work(grid: SearchGrid, device: _Device) -> tuple[np.ndarray, np.ndarray]:
    """The per-frame work of N frames, over (structure, compression, stack, point, mode,
    every); on each stack as ``zoomwatt predict --stack`` prices it (one stack per device)."""
    sizes, every = grid.space["resolution_px"], grid.space["every"]
    a_dtypes = sorted({QUANT_DTYPES[q][1] for q in grid.space["quant"]})
    runs, stacks = grid.space["operating_point"], grid.stacks
    shape = (len(sizes), len(every), len(a_dtypes), len(stacks), len(runs), 2)
    time_s, energy_j = np.full(shape, np.nan), np.full(shape, np.nan)
    for (si, size), (ei, n), (ai, adt) in itertools.product(
        enumerate(sizes), enumerate(every), enumerate(a_dtypes)
    ):
        ftable = build_layer_table([_frame_stage(size, n, adt)])
        for k, stack in enumerate(stacks):
            t, e = _costs_per_mode(ftable, device, runs, False, stack)
            time_s[si, ei, ai, k], energy_j[si, ei, ai, k] = t[..., 0], e[..., 0]
    size_idx = [sizes.index(s[0]) for s in grid.structure]
    a_idx = [a_dtypes.index(QUANT_DTYPES[c[0]][1]) for c in grid.compression]
    modes = [int(m) for m in grid.space["layerwise_frequency"]]
    axes = (*CALL_AXES, "every")

    def on_grid(values: np.ndarray) -> np.ndarray:
        picked = values[size_idx][:, :, a_idx][..., modes]  # (S, E, C, K, R, M)
        return grid.along(np.moveaxis(picked, 1, -1), *axes)

    return on_grid(time_s), on_grid(energy_j)


def _frame_costs(grid: SearchGrid, device: _Device, per_call: _PerCall) -> _FrameCosts:
    """Step 2: the costs of one keyframe period at every point of the grid."""
    frame_s, frame_j = _frame_work(grid, device)
    return _FrameCosts(
        keyframe_s=_keyframe(grid, per_call, per_call.time_s),
        keyframe_j=_keyframe(grid, per_call, per_call.energy_j),
        frame_work_s=frame_s,
        frame_work_j=frame_j,
    )


# --- 3. the roll-up ----------------------------------------------------------------------------


def _roll_up(
    grid: SearchGrid, device: _Device, frame: _FrameCosts, options: OptimizeOptions
) -> FrameRollup:
    """Step 3: perfmodel's roll-up, for every point at once."""
    return roll_up(
        frame.keyframe_s,
        frame.frame_work_s,
        frame.keyframe_j + frame.frame_work_j,
        frames_per_keyframe=grid.along(np.array(grid.space["every"], dtype=float), "every"),
        target_fps=float(options.target_fps),
        idle_power_w=float(device.params.idle_power_w),
        non_ai_power_w=non_ai_budget(device.profile, options.non_ai_w).power_w,
    )


# --- 4. answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scores:
    """What the search knows of every point, beside its figures: all arrays of the grid's
    shape but ``error_db`` (per compression; NaN: lossless)."""

    error_db: np.ndarray
    error_basis: tuple[str | None, ...]  # per compression: ErrorTable.basis
    fits: np.ndarray
    valid: np.ndarray  # the prediction exists (a compression that does not apply has none)
    eligible: np.ndarray  # valid, fits in memory, within the error limit
    meets: np.ndarray  # eligible, and meets the frame rate and the power cap
    give_ups: np.ndarray


def _scores(
    grid: SearchGrid,
    device: _Device,
    per_call: _PerCall,
    r: FrameRollup,
    errors: ErrorTable,
    options: OptimizeOptions,
    base: dict[str, Any],
) -> _Scores:
    """Errors, memory, targets and give-ups of every point."""
    shape = grid.shape
    comps = grid.compression
    err = np.array([errors.error_db(_lossy(*c)) if _lossy(*c) else np.nan for c in comps])
    err_g = np.broadcast_to(grid.along(err, "compression"), shape)
    usable = usable_memory_bytes(device.profile)
    fits = np.broadcast_to(grid.along(per_call.memory_bytes <= usable, *AXES[:2]), shape)
    valid = np.isfinite(r.output_fps) & np.isfinite(r.avg_power_w)
    limit = options.max_error_db
    err_ok = np.isnan(err_g) | (limit is None) | (err_g <= (limit if limit is not None else 0.0))
    cap = options.power_cap_w
    power_ok = True if cap is None else r.avg_power_w <= cap
    fast = r.output_fps >= float(options.target_fps) * (1 - 1e-9)
    return _Scores(
        error_db=err,
        error_basis=tuple(errors.basis(_lossy(*c)) for c in comps),
        fits=fits,
        valid=valid,
        eligible=valid & fits & err_ok,
        meets=valid & fits & err_ok & power_ok & fast,
        give_ups=np.broadcast_to(_give_up_counts(grid, base), shape),
    )


def _give_up_counts(grid: SearchGrid, base: dict[str, Any]) -> np.ndarray:
    """How many knobs of each point change the picture against the baseline (broadcast); the
    count of :func:`give_up_names`."""
    structure = np.array([(size < base["resolution_px"]) + (base["cfg"] and not cfg)
                          + (vae == "taesd" and base["vae"] != "taesd")
                          for size, cfg, vae in grid.structure])  # fmt: skip
    compression = np.array([len(_lossy(*c)) for c in grid.compression])
    steps = (np.array(grid.space["steps"]) < base["steps"]).astype(int)
    every = (np.array(grid.space["every"]) > base["every"]).astype(int)
    return (
        grid.along(structure, "structure")
        + grid.along(compression, "compression")
        + grid.along(steps, "steps")
        + grid.along(every, "every")
    )


@dataclass(frozen=True)
class _Answers:
    baseline: Candidate
    best: Candidate | None
    least_change: Candidate | None
    fastest: Candidate
    pareto: list[Candidate]


def _answers(
    grid: SearchGrid,
    per_call: _PerCall,
    frame: _FrameCosts,
    r: FrameRollup,
    sc: _Scores,
    base: dict[str, Any],
) -> _Answers:
    """Step 4: the baseline, the cheapest and the fewest give-ups that meet the targets, the
    fastest and the Pareto front, as candidates."""

    def candidate(flat: int) -> Candidate:
        index = tuple(int(i) for i in np.unravel_index(flat, grid.shape))
        return _candidate(grid, per_call, frame, r, sc, base, index)

    flat_gu = sc.give_ups.ravel()
    flat_fps = np.where(sc.eligible, r.output_fps, -np.inf).ravel()
    flat_pow = np.where(sc.eligible, r.avg_power_w, np.inf).ravel()
    err_g = np.broadcast_to(grid.along(sc.error_db, "compression"), grid.shape)
    flat_err = np.where(np.isnan(err_g), -np.inf, err_g).ravel()
    best = least = None
    if sc.meets.any():
        meets = sc.meets.ravel()
        cost = np.where(meets, flat_pow, np.inf)
        best = candidate(np.lexsort((flat_err, -flat_fps, cost))[0])
        cost = np.where(meets, flat_gu, np.iinfo(np.int64).max)
        least = candidate(np.lexsort((flat_err, flat_pow, cost))[0])
    return _Answers(
        baseline=candidate(int(np.ravel_multi_index(grid.index_of(base), grid.shape))),
        best=best,
        least_change=least,
        fastest=candidate(np.lexsort((flat_pow, -flat_fps))[0]),
        pareto=[candidate(i) for i in pareto_indices(flat_fps, flat_pow, flat_gu)],
    )


def _candidate(
    grid: SearchGrid,
    per_call: _PerCall,
    frame: _FrameCosts,
    r: FrameRollup,
    sc: _Scores,
    base: dict[str, Any],
    index: tuple[int, ...],
) -> Candidate:
    """The point at ``index`` of the grid, with its figures."""
    knobs = grid.knobs_at(index)
    s, c, k, point, mode, steps, _ = index
    e_db = sc.error_db[c]
    lossy = _lossy(knobs["quant"], knobs["sparsity"], knobs["share_bits"])
    return Candidate(
        label=label(knobs, base),
        knobs=knobs,
        output_fps=float(r.output_fps[index]),
        avg_power_w=float(r.avg_power_w[index]),
        energy_per_frame_j=float(r.energy_per_frame_j[index]),
        fps_per_watt=float(r.fps_per_watt[index]),
        keyframe_latency_s=float(frame.keyframe_s[s, c, k, point, mode, steps, 0]),
        error_db=None if np.isnan(e_db) else float(e_db),
        meets_targets=bool(sc.meets[index]),
        ai_power_w=float(r.ai_power_w[index]),
        weight_bytes=float(per_call.weight_bytes[s, c]),
        fits_in_memory=bool(sc.fits[index]),
        lossy=lossy,
        give_ups=give_up_names(knobs, base),
        error_basis=sc.error_basis[c],
    )


# --- the search --------------------------------------------------------------------------------


def explore(
    hardware: str | HardwareProfile, options: OptimizeOptions | None = None, *, cache: bool = True
) -> ExploreResult:
    """Predict every combination of the search space on ``hardware`` and return the baseline,
    the Pareto front of (output fps up, average power down) and the cheapest combination that
    meets the targets (output fps >= target, power <= cap, error <= limit, fits in memory).
    ``cache=False``: trace the workload again, without reading or writing the disk caches."""
    # 0. inputs
    start = time.perf_counter()
    options = options or OptimizeOptions()
    _check(options)
    profile = hardware if isinstance(hardware, HardwareProfile) else load_profile(hardware)
    device = _Device.of(profile)
    base = baseline_knobs(device.nominal.name, profile.default_stack)
    points = [p.name for p in device.points]
    grid = SearchGrid.of(_with_baseline(options.space, base, points, search_stacks(profile)))
    errors = shipped_error_table()

    # 1-4. per-call costs, frame costs, roll-up, answers
    per_call = _per_call_costs(grid, device, options.pipeline, cache)
    frame = _frame_costs(grid, device, per_call)
    figures = _roll_up(grid, device, frame, options)
    scores = _scores(grid, device, per_call, figures, errors, options, base)
    answers = _answers(grid, per_call, frame, figures, scores, base)

    # 5. studies (summaries), result
    studies = _studies(options, profile, device.params, cache) if options.studies else {}
    evaluated = int(scores.valid.sum())
    seconds = time.perf_counter() - start
    log.info("optimize %s: %d combinations in %.2f s", profile.name, evaluated, seconds)
    return ExploreResult(
        hardware=profile.name,
        description=profile.description,
        target_fps=float(options.target_fps),
        power_cap_w=options.power_cap_w,
        max_error_db=options.max_error_db,
        candidates_evaluated=evaluated,
        seconds=seconds,
        baseline=answers.baseline,
        pareto=answers.pareto,
        best=answers.best,
        least_change=answers.least_change,
        fastest=answers.fastest,
        space=grid.space,
        error_source=errors.source,
        errors_db=dict(errors.errors_db),
        assumptions=ASSUMPTIONS,
        studies=studies,
    )


def _lossy(quant: str, sparsity: str, share: int) -> tuple[str, ...]:
    out = []
    if quant != "fp16":
        out.append(quant)
    if sparsity != "dense":
        out.append(sparsity)
    if share and sharing_applies(quant, share):
        out.append(f"share{share}")
    return tuple(out)


def _front_2d(fps: np.ndarray, power: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Of ``idx``, those no other beats on both higher fps and lower power."""
    order = idx[np.lexsort((power[idx], -fps[idx]))]  # fps down, then power up
    p = power[order]
    prev_min = np.concatenate(([np.inf], np.minimum.accumulate(p)[:-1]))
    return order[p < prev_min]


def pareto_indices(
    fps: np.ndarray, power: np.ndarray, give_ups: np.ndarray | None = None
) -> list[int]:
    """Indices of the Pareto front of (fps up, power down), sorted by fps ascending; with
    ``give_ups`` also (give-ups down): a point with g give-ups is kept when it is on the
    (fps, power) front of all points with at most g. Ineligible points carry fps -inf or power
    inf. Of equal points one is kept."""
    ok = np.flatnonzero(np.isfinite(fps) & np.isfinite(power))
    if ok.size == 0:
        return []
    if give_ups is None:
        keep = _front_2d(fps, power, ok)
    else:
        parts = []
        for g in np.unique(give_ups[ok]):
            front = _front_2d(fps, power, ok[give_ups[ok] <= g])
            parts.append(front[give_ups[front] == g])
        keep = np.concatenate(parts)
    return [int(i) for i in keep[np.argsort(fps[keep], kind="stable")]]


def give_up_names(knobs: dict[str, Any], base: dict[str, Any]) -> tuple[str, ...]:
    """What a candidate changes in the picture against the baseline."""
    out = []
    if knobs["resolution_px"] < base["resolution_px"]:
        out.append(f"resolution {base['resolution_px']} -> {knobs['resolution_px']} px")
    if base["cfg"] and not knobs["cfg"]:
        out.append("no classifier-free guidance")
    if knobs["vae"] == "taesd" and base["vae"] != "taesd":
        out.append("TAESD instead of the VAE")
    if knobs["steps"] < base["steps"]:
        out.append(f"steps {base['steps']} -> {knobs['steps']}")
    if knobs["every"] > base["every"]:
        out.append(f"1 keyframe every {base['every']} -> {knobs['every']} frames")
    out.extend(_lossy(knobs["quant"], knobs["sparsity"], knobs["share_bits"]))
    return tuple(out)


def label(knobs: dict[str, Any], base: dict[str, Any]) -> str:
    """Short text of what differs from the baseline ('baseline' when nothing does)."""
    parts = []
    for key, value in knobs.items():
        if value == base[key]:
            continue
        parts.append(
            {
                "resolution_px": f"{value}px",
                "cfg": "no-CFG" if not value else "CFG",
                "vae": "TAESD" if value == "taesd" else "VAE",
                "quant": str(value),
                "sparsity": str(value),
                "share_bits": f"share{value}" if value else "no-share",
                "stack": str(value),
                "operating_point": f"@{value}",
                "layerwise_frequency": "layer-DFS" if value else "fixed-f",
                "steps": f"{value} steps",
                "every": f"1/{value}",
            }[key]
        )
    return " ".join(parts) or "baseline"


def _studies(
    options: OptimizeOptions, profile: HardwareProfile, base_params, cache: bool = True
) -> dict:
    from zoomwatt.optimizer.studies import frequency_summary, offchip_summary

    stages = _model_stages(options.pipeline, 512, True, "default", cache)
    return {
        "offchip": offchip_summary(stages, profile, base_params),
        "frequency": frequency_summary(stages, profile, base_params),
    }
