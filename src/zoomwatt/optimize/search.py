"""The search: every combination of the optimizations, predicted on one device at once.

Knobs (``SearchSpace``): resolution, classifier-free guidance, VAE (default or TAESD),
quantization, sparsity, weight sharing, operating point, layer-wise frequency, denoising steps
and 1-in-N keyframe sampling. The workload is traced once per (resolution, CFG, VAE); the other
knobs rewrite the layer arrays (:mod:`.compressed_table`) or the device parameters
(:mod:`.frequency`), and steps and N only enter the roll-up, which is evaluated for all of them
in one numpy expression. The roll-up is perfmodel's (:mod:`zoomwatt.perfmodel.rollup`), written
over arrays; the unmodified default pipeline gives the same figures as ``zoomwatt predict``.
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

from zoomwatt.errors import InputError
from zoomwatt.hardware import HardwareProfile, load_profile
from zoomwatt.optimize.compressed_table import (
    QUANT_DTYPES,
    SHARE_BITS,
    SPARSITIES,
    compressed_table,
    sharing_applies,
    weight_ratio,
)
from zoomwatt.optimize.error_table import shipped_error_table
from zoomwatt.optimize.frequency import no_loss_choice, operating_points, scaled_params
from zoomwatt.optimize.results import Candidate, ExploreResult
from zoomwatt.perfmodel import build_layer_table, device_params, layer_costs, make_stage
from zoomwatt.perfmodel.layer_table import LayerTable
from zoomwatt.perfmodel.non_ai_budget import non_ai_budget
from zoomwatt.perfmodel.stage import Stage
from zoomwatt.perfmodel.workload_adapter import stages_from_workload
from zoomwatt.workload.records import DTYPE_BYTES

log = logging.getLogger(__name__)

MODEL_STAGES = ("text_encoder", "vae_encoder", "unet", "vae_decoder")
ASSUMPTIONS = (
    "figures are predictions of the roofline + energy model (zoomwatt predict), not measurements",
    "keyframes and in-between frames run one after the other on the same device",
    "error_db: noise-to-signal of the UNet output against fp32, measured per choice on real "
    "weights (see error_source) and added as independent noises; steps, CFG, resolution, TAESD "
    "and N change the picture but are not scored as error",
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


def baseline_knobs(nominal_point: str) -> dict[str, Any]:
    """The unmodified default pipeline (as ``zoomwatt predict`` runs it)."""
    return {
        "resolution_px": 512,
        "cfg": True,
        "vae": "default",
        "quant": "fp16",
        "sparsity": "dense",
        "share_bits": 0,
        "operating_point": nominal_point,
        "layerwise_frequency": False,
        "steps": 20,
        "every": 30,
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
        "vae": lambda v: v in ("default", "taesd"),
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


def _with_baseline(space: SearchSpace, base: dict[str, Any], points: list[str]) -> dict:
    out = {}
    for f in fields(SearchSpace):
        values = getattr(space, f.name)
        if f.name == "operating_point":
            values = tuple(points) if values is None else values
            unknown = [v for v in values if v not in points]
            if unknown:
                raise InputError("space.operating_point", unknown, f"points among {points}")
        merged = list(dict.fromkeys([base[f.name], *values]))
        if f.name in ("resolution_px", "steps", "every"):
            merged.sort()
        out[f.name] = merged
    return out


@lru_cache(maxsize=32)
def _model_stages(
    pipeline: str, size: int, cfg: bool, vae: str, cache: bool = True
) -> tuple[Stage, ...]:
    """The fp16 model stages of one (resolution, CFG, VAE); traced once per process, and read
    from the workload cache on disk when it was traced before (``cache=False``: traced again,
    the cache neither read nor written)."""
    from zoomwatt.workload import characterize

    report = characterize(pipeline=pipeline, vae=vae, size=size, cfg=cfg, dtype="fp16", cache=cache)
    return tuple(s for s in stages_from_workload(report) if s.name in MODEL_STAGES)


@lru_cache(maxsize=64)
def _frame_stage(size: int, every: int, act_dtype: str) -> tuple[Stage, float]:
    from zoomwatt.workload.frame_ops import count_frame_ops

    frame = count_frame_ops(size, size, size // 4, every, act_dtype)
    stage = make_stage(
        "frame_ops",
        frame.records,
        1.0,
        weight_bytes=0.0,
        peak_activation_bytes=frame.peak_bytes,
        per_frame=True,
    )
    return stage, float(frame.peak_bytes)


@dataclass
class _Grid:
    """Arrays over (structure, compression, point, layer-wise, steps, every)."""

    shape: tuple[int, ...]
    arrays: dict[str, np.ndarray]


def _stage_sums(table: LayerTable, time_s: np.ndarray, energy_j: np.ndarray):
    n = table.n_stages
    return (
        np.bincount(table.stage_index, time_s, minlength=n),
        np.bincount(table.stage_index, energy_j, minlength=n),
    )


def _costs_per_mode(table, base, nominal, points, run_names, sparse):
    """Per run point and frequency mode: per-stage latency and energy of one call."""
    params0 = base.replace(use_sparse=sparse)
    out = np.full((len(run_names), 2, 2, table.n_stages), np.nan)
    for r, name in enumerate(run_names):
        run = next(p for p in points if p.name == name)
        allowed = [p for p in points if p.frequency_hz <= run.frequency_hz]
        row = allowed.index(run)
        settings = [(p.frequency_hz, run.voltage_v) for p in allowed]
        costs = layer_costs(table, scaled_params(params0, nominal, settings))
        t, e = _stage_sums(table, costs.time_s[row], costs.energy_j[row])
        out[r, 0, 0], out[r, 0, 1] = t, e
        choice = no_loss_choice(costs, row)
        t_pick = np.take_along_axis(costs.time_s, choice[None], 0)[0]
        e_pick = np.take_along_axis(costs.energy_j, choice[None], 0)[0]
        t, e = _stage_sums(table, t_pick, e_pick)
        out[r, 1, 0], out[r, 1, 1] = t, e
    return out


def explore(
    hardware: str | HardwareProfile, options: OptimizeOptions | None = None, *, cache: bool = True
) -> ExploreResult:
    """Predict every combination of the search space on ``hardware`` and return the baseline,
    the Pareto front of (output fps up, average power down) and the cheapest combination that
    meets the targets (output fps >= target, power <= cap, error <= limit, fits in memory).
    ``cache=False``: trace the workload again, without reading or writing the disk caches."""
    # 1. inputs
    start = time.perf_counter()
    options = options or OptimizeOptions()
    _check(options)
    profile = hardware if isinstance(hardware, HardwareProfile) else load_profile(hardware)
    points, nominal = operating_points(profile)
    base_knobs = baseline_knobs(nominal.name)
    space = _with_baseline(options.space, base_knobs, [p.name for p in points])
    errors = shipped_error_table()
    base_params = device_params(profile)
    structures = list(itertools.product(space["resolution_px"], space["cfg"], space["vae"]))
    comps = list(itertools.product(space["quant"], space["sparsity"], space["share_bits"]))
    sizes = space["resolution_px"]
    a_dtypes = sorted({QUANT_DTYPES[q][1] for q in space["quant"]})
    runs = space["operating_point"]
    modes = space["layerwise_frequency"]
    steps = np.array(space["steps"], dtype=float)
    every = np.array(space["every"], dtype=float)

    # 2. model stages: per structure and compression, per-call latency/energy of each stage
    n_s, n_c, n_r = len(structures), len(comps), len(runs)
    per_call = np.full((n_s, n_c, n_r, 2, 2, len(MODEL_STAGES)), np.nan)
    memory = np.full((n_s, n_c), np.nan)
    weight_bytes = np.full((n_s, n_c), np.nan)
    stage_calls = None
    for i, (size, cfg, vae) in enumerate(structures):
        stages = _model_stages(options.pipeline, size, cfg, vae, cache)
        table = build_layer_table(stages)
        names = [s.name for s in stages]
        if names != list(MODEL_STAGES):
            raise InputError("pipeline", options.pipeline, f"stages {MODEL_STAGES}")
        stage_calls = np.array([s.calls_per_keyframe for s in stages])
        for j, (quant, sparsity, share) in enumerate(comps):
            if share and not sharing_applies(quant, share):
                continue
            ctable = compressed_table(table, quant, sparsity, share)
            per_call[i, j] = _costs_per_mode(
                ctable, base_params, nominal, points, runs, sparsity == "2:4"
            )
            a_ratio = DTYPE_BYTES[QUANT_DTYPES[quant][1]] / DTYPE_BYTES["fp16"]
            weights = float(
                np.array([s.weight_bytes for s in stages]) @ weight_ratio(table, ctable)
            )
            frame_peak = _frame_stage(size, 30, QUANT_DTYPES[quant][1])[1]
            peak = max(max(s.peak_activation_bytes for s in stages) * a_ratio, frame_peak)
            weight_bytes[i, j] = weights
            memory[i, j] = weights + peak

    # 3. frame stages: per resolution, N, activation dtype, point, mode
    frame = np.full((len(sizes), len(every), len(a_dtypes), n_r, 2, 2), np.nan)
    for (si, size), (ei, n), (ai, adt) in itertools.product(
        enumerate(sizes), enumerate(space["every"]), enumerate(a_dtypes)
    ):
        ftable = build_layer_table([_frame_stage(size, n, adt)[0]])
        frame[si, ei, ai] = _costs_per_mode(ftable, base_params, nominal, points, runs, False)[
            ..., 0
        ]

    # 4. roll-up over (structure, compression, point, mode, steps, every), perfmodel's formulas
    size_idx = np.array([sizes.index(s[0]) for s in structures])
    a_idx = np.array([a_dtypes.index(QUANT_DTYPES[c[0]][1]) for c in comps])
    mode_idx = [int(m) for m in modes]
    pc = per_call[:, :, :, mode_idx]  # (S, C, R, M, 2, stages)
    text, venc, unet, vdec = (pc[..., k] for k in range(4))
    fixed_t = stage_calls[0] * text[..., 0] + venc[..., 0] + vdec[..., 0]
    fixed_e = stage_calls[0] * text[..., 1] + venc[..., 1] + vdec[..., 1]
    st = steps[:, None]
    kf_t = fixed_t[..., None, None] + st * unet[..., 0][..., None, None]  # (S,C,R,M,ST,1)
    kf_e = fixed_e[..., None, None] + st * unet[..., 1][..., None, None]
    fr = frame[size_idx][:, :, a_idx][:, :, :, :, mode_idx]  # (S, E, C, R, M, 2)
    fr = np.moveaxis(fr, 1, -2)  # (S, C, R, M, E, 2)
    fw_t, fw_e = fr[..., None, :, 0], fr[..., None, :, 1]  # (S, C, R, M, 1, E)
    busy_t, busy_e = kf_t + fw_t, kf_e + fw_e
    n = every
    target = float(options.target_fps)
    with np.errstate(divide="ignore", invalid="ignore"):
        output_fps = n / busy_t
        delivered = np.minimum(output_fps, target)
        period = n / delivered
        idle = np.maximum(0.0, period - busy_t)
        ai_e = busy_e + float(profile.idle_power.si) * idle
        ai_power = ai_e / period
        non_ai = non_ai_budget(profile, options.non_ai_w).power_w
        avg_power = ai_power + non_ai
        energy_frame = ai_e / n + non_ai / delivered
        fps_w = delivered / avg_power

    # 5. errors, memory, targets
    err = np.array(
        [errors.error_db(_lossy(q, sp, sh)) if _lossy(q, sp, sh) else np.nan for q, sp, sh in comps]
    )
    usable = profile.memory_capacity.si * profile.memory_usable_fraction.si
    grid_shape = output_fps.shape
    err_g = np.broadcast_to(err[None, :, None, None, None, None], grid_shape)
    fits = np.broadcast_to((memory <= usable)[:, :, None, None, None, None], grid_shape)
    valid = np.isfinite(output_fps) & np.isfinite(avg_power)
    err_ok = (
        np.isnan(err_g)
        | (options.max_error_db is None)
        | (err_g <= (options.max_error_db if options.max_error_db is not None else 0.0))
    )
    power_ok = True if options.power_cap_w is None else avg_power <= options.power_cap_w
    meets = valid & fits & err_ok & power_ok & (output_fps >= target * (1 - 1e-9))
    eligible = valid & fits & err_ok

    # 6. give-ups: knobs that change the picture against the baseline
    struct_gu = np.array([(sz < 512) + (not cfg) + (vae == "taesd") for sz, cfg, vae in structures])
    comp_gu = np.array([len(_lossy(*c)) for c in comps])
    steps_gu = (steps < base_knobs["steps"]).astype(int)
    every_gu = (every > base_knobs["every"]).astype(int)
    gu = (
        struct_gu[:, None, None, None, None, None]
        + comp_gu[None, :, None, None, None, None]
        + steps_gu[:, None]
        + every_gu[None, :]
    )
    gu = np.broadcast_to(gu, grid_shape)

    # 7. baseline, best, least change, fastest, Pareto front
    def index_of(knobs: dict[str, Any]) -> tuple[int, ...]:
        s = structures.index((knobs["resolution_px"], knobs["cfg"], knobs["vae"]))
        c = comps.index((knobs["quant"], knobs["sparsity"], knobs["share_bits"]))
        return (
            s,
            c,
            runs.index(knobs["operating_point"]),
            modes.index(knobs["layerwise_frequency"]),
            space["steps"].index(knobs["steps"]),
            space["every"].index(knobs["every"]),
        )

    def candidate(idx: tuple[int, ...]) -> Candidate:
        s, c, r, m, k, e = idx
        size, cfg, vae = structures[s]
        quant, sparsity, share = comps[c]
        knobs = {
            "resolution_px": size,
            "cfg": cfg,
            "vae": vae,
            "quant": quant,
            "sparsity": sparsity,
            "share_bits": share,
            "operating_point": runs[r],
            "layerwise_frequency": modes[m],
            "steps": space["steps"][k],
            "every": space["every"][e],
        }
        e_db = err[c]
        return Candidate(
            label=label(knobs, base_knobs),
            knobs=knobs,
            output_fps=float(output_fps[idx]),
            avg_power_w=float(avg_power[idx]),
            energy_per_frame_j=float(energy_frame[idx]),
            fps_per_watt=float(fps_w[idx]),
            keyframe_latency_s=float(kf_t[s, c, r, m, k, 0]),
            error_db=None if np.isnan(e_db) else float(e_db),
            meets_targets=bool(meets[idx]),
            ai_power_w=float(ai_power[idx]),
            weight_bytes=float(weight_bytes[s, c]),
            fits_in_memory=bool(fits[idx]),
            lossy=_lossy(quant, sparsity, share),
            give_ups=give_up_names(knobs, base_knobs),
        )

    baseline = candidate(index_of(base_knobs))
    flat_gu = gu.ravel()
    flat_fps = np.where(eligible, output_fps, -np.inf).ravel()
    flat_pow = np.where(eligible, avg_power, np.inf).ravel()
    flat_err = np.where(np.isnan(err_g), -np.inf, err_g).ravel()
    best = None
    if meets.any():
        cost = np.where(meets.ravel(), flat_pow, np.inf)
        order = np.lexsort((flat_err, -flat_fps, cost))
        best = candidate(np.unravel_index(order[0], grid_shape))
    least = None
    if meets.any():
        cost = np.where(meets.ravel(), flat_gu, np.iinfo(np.int64).max)
        order = np.lexsort((flat_err, flat_pow, cost))
        least = candidate(np.unravel_index(order[0], grid_shape))
    fastest = candidate(np.unravel_index(np.lexsort((flat_pow, -flat_fps))[0], grid_shape))
    pareto = [
        candidate(np.unravel_index(i, grid_shape))
        for i in pareto_indices(flat_fps, flat_pow, flat_gu)
    ]
    evaluated = int(valid.sum())

    # 8. studies (summaries), result
    studies = _studies(options, profile, base_params, cache) if options.studies else {}
    seconds = time.perf_counter() - start
    log.info("optimize %s: %d combinations in %.2f s", profile.name, evaluated, seconds)
    return ExploreResult(
        hardware=profile.name,
        description=profile.description,
        target_fps=target,
        power_cap_w=options.power_cap_w,
        max_error_db=options.max_error_db,
        candidates_evaluated=evaluated,
        seconds=seconds,
        baseline=baseline,
        pareto=pareto,
        best=best,
        least_change=least,
        fastest=fastest,
        space=space,
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
    from zoomwatt.optimize.studies import frequency_summary, offchip_summary

    stages = _model_stages(options.pipeline, 512, True, "default", cache)
    return {
        "offchip": offchip_summary(stages, profile, base_params),
        "frequency": frequency_summary(stages, profile, base_params),
    }
