"""Predicted against measured, per lever: ``zoomwatt measure --levers a,b --validate`` and
``zoomwatt measure --plan p.json --validate``.

The baseline (the lean SD2 keyframe path, no lever), each runnable lever alone and all of them
that can go together combined (of a pair that cannot, the later one listed is left out, and the
notes say so; a plan's levers are refused instead) run on one pipeline (by default the
full-size SD2 inpainting architecture with random weights: honest for speed, meaningless for
pictures), interleaved: one warm-up keyframe each, then ``rounds`` rounds of one keyframe of
every configuration in turn (A B C ... A B C ...), so a machine whose speed drifts slows every
configuration alike; each figure is the median of its
rounds. Each period starts from a trimmed heap (glibc's end-state thresholds, its free memory's
pages given back; the free blocks stay, and still serve fresh buffers that then fault only on
first use, which is why the lever inpainters make their model copies with blocks mapped on
their own: sd2_levers.py): on the AMD EPYC Zen 5 (2026-12-04 and 06) the baseline keyframe took
3.0-3.7 s in runs whose process had made the bf16 copies before it, trimmed or not, and 4.9-5.7
s otherwise, 3.2 s with freed memory kept. A ``retain-memory`` configuration runs
each of its periods after an unmeasured one with the allocator keeping freed memory, its steady
state in a zoom, and sets the allocator back after them (pipeline/allocator.py). What is
compared is the time per output frame, ``(keyframe + in-between frames of one
period) / N``, measured (the keyframe through the backend, the in-between frames through the
zoom's geometry) and predicted by the performance model on the host profile for the lever's own
traced workload (:mod:`.lever_workload`). Speed-up = baseline time / lever time; error =
predicted / measured speed-up - 1.

Energy, where the machine has a counter (:mod:`.energy_meter`: NVML on an NVIDIA GPU, RAPL on
a CPU that exposes it), is measured over the same keyframe periods and compared the same way:
energy saving = baseline energy per output frame / the lever's, predicted (the model's energy
of the period's work, no idle time) against measured; without a counter every row says "not
measurable here: reason".

Speed-ups are ratios of configurations measured side by side, so a machine whose speed drifts
moves them little; the combined plan's keyframe latency is an absolute time against a
prediction from the calibration, so the check watches the machine as the host check does: the
reference kernel (:data:`~zoomwatt.hardware.host_calibration.REFERENCE_KERNEL`) before and after
calibration and after every round, and the streaming one
(:data:`~zoomwatt.hardware.host_calibration.STREAM_REFERENCE_KERNEL`: a linear layer reading its
weights from memory, what other tenants of a shared machine contend for) likewise, judged as the
median of its readings after the rounds against the mean of calibration's two, and on a CPU the
fresh-page one (:data:`~zoomwatt.hardware.host_calibration.FAULT_REFERENCE_KERNEL`: the rate a
fresh buffer's pages fault in at) the same way (one 0.2 s reading
scatters by about the threshold itself: :func:`~zoomwatt.measurement.host_check.stream_drift_pct`);
when either moved more than :data:`~zoomwatt.measurement.host_check.REFERENCE_DRIFT_PCT` from its
calibration speed, the combined row says "not comparable: machine speed moved" instead of
blaming the model.

A lever this machine cannot run is listed with "not measurable here: reason" (never dropped).
The picture each lever makes is compared with the baseline's as a noise-to-signal ratio, on
random weights, which says nothing of picture quality (every row says so).
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from zoomwatt.errors import InputError, NotMeasurableError
from zoomwatt.measurement.energy_meter import EnergyMeter, make_energy_meter
from zoomwatt.measurement.host_check import (
    REFERENCE_DRIFT_PCT,
    STREAM,
    Calibration,
    drift_pct,
    worst_move,
)
from zoomwatt.measurement.results import error_pct, read_saved_json, write_dated_json
from zoomwatt.pipeline.allocator import freed_memory_retained, release_freed_memory
from zoomwatt.pipeline.backends.levers import (
    PROCESS_LEVERS,
    RANDOM_QUALITY_NOTE,
    RUN_LEVERS,
    Lever,
    check_together,
    compatible_levers,
    lever_value,
    quality_note,
    run_settings,
    unavailable_reason,
)

log = logging.getLogger(__name__)

LEVER_TARGET_PCT = 15.0
COMBINED_TARGET_PCT = 20.0
DEFAULT_LEVERS = (
    "no-cfg,steps=2,resolution=64,taesd,every=16,bf16,int8-dynamic,deepcache=2,tome=0.5,"
    "retain-memory,2:4"
)
PROMPT = "an overgrown ancient temple in a misty jungle"
LATEST = "levers-latest.json"
ProgressFn = Callable[[str], None]


@dataclass(frozen=True)
class LeverCheckOptions:
    """What runs: the levers, the baseline workload, how many interleaved rounds."""

    levers: tuple[Lever, ...]
    size: int = 128  # the baseline's frame side (a multiple of 64)
    steps: int = 4  # DDIM steps of the baseline
    guidance: float = 7.5  # > 1: classifier-free guidance
    frames_per_keyframe: int = 8
    rounds: int = 3  # interleaved rounds after the warm-up (medians of these)
    device: str = "cpu"
    seed: int = 0
    recalibrate: bool = True  # calibrate the host profile at the start (as --validate does)
    plan: dict[str, Any] | None = None  # the plan the levers came from (its JSON), if any
    combined_only: bool = False  # the levers together against the baseline, not each alone
    energy: bool = True  # read the energy counter where there is one (False: --no-energy)

    def check(self) -> None:
        for name, low in (("size", 64), ("steps", 1), ("frames_per_keyframe", 1), ("rounds", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(name, value, f"an integer >= {low}")
        if self.size % 64:
            raise InputError("size", self.size, "a multiple of 64")
        if not self.levers or not all(isinstance(lv, Lever) for lv in self.levers):
            raise InputError("levers", self.levers, "at least one Lever")
        if not math.isfinite(self.guidance) or self.guidance < 0:
            raise InputError("guidance", self.guidance, "a number >= 0")


@dataclass(frozen=True)
class LeverRow:
    """One configuration: a lever alone, or the combined levers."""

    name: str
    levers: tuple[str, ...]
    status: str  # "within target", "outside target", or "not measurable here: reason"
    predicted_speedup: float | None
    measured_speedup: float | None
    error_pct: float | None  # predicted / measured speed-up - 1, in percent
    predicted_per_frame_s: float | None
    measured_per_frame_s: float | None
    predicted_keyframe_s: float | None
    measured_keyframe_s: float | None
    measured_keyframe_samples_s: tuple[float, ...] = ()
    picture_nsr_db: float | None = None  # against the baseline's picture, random weights
    quality: str = ""
    # energy per output frame (keyframe period / N), and the saving (baseline's / this one's)
    predicted_energy_per_frame_j: float | None = None
    measured_energy_per_frame_j: float | None = None
    predicted_energy_saving: float | None = None
    measured_energy_saving: float | None = None
    energy_error_pct: float | None = None  # predicted / measured saving - 1, in percent
    energy_status: str = ""  # "measured", or "not measurable here: reason"

    @property
    def measured(self) -> bool:
        return self.measured_speedup is not None


@dataclass(frozen=True)
class LeverCheckResult:
    kind: str
    device: str
    date: str
    settings: dict[str, Any]
    baseline: LeverRow
    levers: tuple[LeverRow, ...]
    combined: LeverRow | None
    lever_target_pct: float
    combined_target_pct: float
    combined_keyframe_error_pct: float | None  # predicted vs measured keyframe latency
    plan: dict[str, Any] | None
    wall_s: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    energy_meter: str = ""  # the counters read, or "not measurable here: reason"
    # the reference kernel's worst move from its calibration speed (None: not watched)
    reference_drift_pct: float | None = None
    # the streaming reference kernel's median reading after the rounds against calibration's
    stream_drift_pct: float | None = None
    fault_drift_pct: float | None = None  # the fresh-page reference kernel's, likewise

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeverCheckResult:
        def row(d: dict | None) -> LeverRow | None:
            if d is None:
                return None
            d = dict(d)
            d["levers"] = tuple(d["levers"])
            d["measured_keyframe_samples_s"] = tuple(d.get("measured_keyframe_samples_s", ()))
            return LeverRow(**d)

        data = dict(data)
        data["baseline"] = row(data["baseline"])
        data["levers"] = tuple(row(r) for r in data["levers"])
        data["combined"] = row(data.get("combined"))
        data["notes"] = tuple(data.get("notes", ()))
        return cls(**data)


# --- plan levers, scaled to the run -----------------------------------------------------------


def levers_for_run(
    plan_levers: tuple[Lever, ...], workload: dict[str, Any], options: LeverCheckOptions
) -> tuple[Lever, ...]:
    """A plan's levers at the run's scale: resolution, steps and N as the same fraction of the
    run's baseline as of the plan's (a 512 -> 256 px plan runs 128 -> 64 px here)."""
    out = []
    for lv in plan_levers:
        if lv.name == "resolution":
            px = round(options.size * lv.value / workload["resolution_px"] / 64) * 64
            lv = Lever("resolution", max(64, px))
        elif lv.name == "steps":
            lv = Lever("steps", max(1, round(options.steps * lv.value / workload["steps"])))
        elif lv.name == "every":
            n = round(options.frames_per_keyframe * lv.value / workload["every"])
            lv = Lever("every", max(1, n))
        out.append(lv)
    return tuple(out)


# --- measuring -----------------------------------------------------------------------------


@dataclass
class _Config:
    name: str
    levers: tuple[Lever, ...]
    settings: dict[str, Any]
    backend: Any = None
    keyframe_s: list[float] = field(default_factory=list)
    frames_s: list[float] = field(default_factory=list)
    energy_j: list[float | None] = field(default_factory=list)  # per keyframe period
    faulted_bytes: list[int] = field(default_factory=list)  # page faults x 4 KiB, per round
    last_faulted_bytes: int | None = None  # of the last period run
    picture: np.ndarray | None = None


def _settings(options: LeverCheckOptions, levers: tuple[Lever, ...]) -> dict[str, Any]:
    base = {
        "size": (options.size, options.size),
        "steps": options.steps,
        "guidance": options.guidance,
        "frames_per_keyframe": options.frames_per_keyframe,
    }
    return run_settings(levers, base)


@dataclass
class _Runs:
    """What the check's stages made, for the comparison: the rows to make (name, levers), why a
    lever cannot run here, the predictions (and why some are missing), the measured
    configurations, the notes so far, the energy counter and the reference kernel's OP/s after
    each round."""

    groups: list[tuple[str, tuple[Lever, ...]]]
    reasons: dict[str, str]
    predicted: dict[str, Any]
    no_prediction: dict[str, str]
    configs: list[_Config]
    notes: list[str]
    meter: EnergyMeter
    speeds: list[dict[str, float | None]]  # the reference kernels after each round


def _start_picture(size: int, seed: int) -> np.ndarray:
    """A deterministic start picture: smooth colour gradients with noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    base = np.stack([x, y, (x + y) / 2], axis=-1) * 200 + rng.normal(0, 12, (size, size, 3))
    return np.clip(base + 20, 0, 255).astype(np.uint8)


def _run_once(
    config: _Config, options: LeverCheckOptions, meter: EnergyMeter
) -> tuple[float, float, float | None, np.ndarray]:
    """One keyframe period of ``config`` (:func:`_period`), glibc's end-state thresholds set and
    the heap trimmed first (its free blocks' pages given back: module doc). With
    ``retain-memory`` the allocator keeps freed memory for one unmeasured period and the
    measured one after it, as it does for a whole zoom (the measured period in its steady
    state: no fresh buffer faulted in), and is set back after."""
    if not lever_value(config.levers, "retain-memory"):
        release_freed_memory()
        return _period(config, options, meter)
    with freed_memory_retained() as setting:
        if not setting.applied:
            raise NotMeasurableError(f"retain-memory: {setting.note}")
        _period(config, options, meter)
        return _period(config, options, meter)


def _period(
    config: _Config, options: LeverCheckOptions, meter: EnergyMeter
) -> tuple[float, float, float | None, np.ndarray]:
    """One keyframe period of ``config``: the keyframe (backend) and its in-between frames;
    their seconds, the period's energy (None without a counter) and the keyframe."""
    from zoomwatt.pipeline.geometry import ZoomGeometry

    size = config.settings["size"][0]
    n = config.settings["frames_per_keyframe"]
    faults0 = _minor_faults()
    geometry = ZoomGeometry.from_border(size, size, size // 4)
    previous = _start_picture(size, options.seed)
    canvas, mask = geometry.canvas(previous)
    meter.begin(config.name)
    started = time.perf_counter()
    out = config.backend.inpaint(canvas, mask, PROMPT, "", options.seed).image
    keyframe_s = time.perf_counter() - started
    started = time.perf_counter()
    current = geometry.paste_back(out, previous)
    for j in range(1, n):
        geometry.inbetween(current, previous, j, n)
    frames_s = time.perf_counter() - started
    faults = _minor_faults()
    if faults is not None and faults0 is not None:
        config.last_faulted_bytes = (faults - faults0) * PAGE_BYTES
    return keyframe_s, frames_s, meter.end(config.name).energy_j, out


PAGE_BYTES = 4096  # a minor fault maps one small page (x86-64, arm64 with 4 KiB pages)


def _minor_faults() -> int | None:
    """This process's minor page faults so far (getrusage), None where unreadable."""
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def fault_note(configs: list[_Config]) -> str | None:
    """One line: each configuration's median page faults per measured period, in GiB (what the
    allocator did to it: README, the lever section), None where none were counted."""
    parts = [
        f"{c.name} {statistics.median(c.faulted_bytes) / 2**30:.2f}"
        for c in configs
        if c.faulted_bytes
    ]
    if not parts:
        return None
    return "page faults per measured keyframe period (median, GiB of 4 KiB pages): " + ", ".join(
        parts
    )


def _backend(config: _Config, pipeline: Any, options: LeverCheckOptions, shared: dict) -> Any:
    from zoomwatt.pipeline.backends.sd2_levers import LeverInpainter

    settings = (*RUN_LEVERS, *PROCESS_LEVERS)  # applied here (_settings, _run_once)
    model = tuple(lv for lv in config.levers if lv.name not in settings)
    return LeverInpainter(
        pipeline=pipeline,
        steps=config.settings["steps"],
        guidance=config.settings["guidance"],
        scheduler="ddim",
        device=options.device,
        levers=model,
        taesd="random",
        shared=shared,
    )


def _measure(
    configs: list[_Config],
    pipeline: Any,
    options: LeverCheckOptions,
    say: ProgressFn,
    meter: EnergyMeter,
    reference: Callable[[], dict[str, float | None]] | None = None,
) -> list[dict[str, float | None]]:
    """Warm-up, then the interleaved rounds; the reference kernels after each round
    (``ops_per_s``, ``stream_ops_per_s``, ``fault_bytes_per_s``; none without ``reference``)."""
    shared: dict = {}
    speeds: list[dict[str, float | None]] = []
    for c in configs:  # warm-up: loads, quantizes, encodes the prompt once per configuration
        say(f"warming up {c.name}")
        c.backend = _backend(c, pipeline, options, shared)
        _run_once(c, options, meter)
    for r in range(options.rounds):
        say(f"round {r + 1} of {options.rounds}: {', '.join(c.name for c in configs)}")
        for c in configs:
            keyframe_s, frames_s, energy_j, picture = _run_once(c, options, meter)
            c.keyframe_s.append(keyframe_s)
            c.frames_s.append(frames_s)
            c.energy_j.append(energy_j)
            if c.last_faulted_bytes is not None:
                c.faulted_bytes.append(c.last_faulted_bytes)
            c.picture = picture
        if reference is not None:
            speeds.append(reference())
    for c in configs:
        c.backend.close()
    return speeds


def _calibration_reference(calibration: dict[str, Any] | None) -> Calibration:
    """The reference kernel before and after a host profile's calibration (its record), as the
    host check reads it."""
    from zoomwatt.measurement.stage_replay import reference_window

    record = calibration or {}
    before, after = (reference_window(record, when) for when in ("before", "after"))
    return Calibration({}, None, before, after)


def _before_after(cal: Calibration) -> tuple[float | None, float | None]:
    """The reference kernel's OP/s before and after calibration (None where not read)."""
    windows = (cal.reference_before, cal.reference_after)
    before, after = (w.ops_per_s if w else None for w in windows)
    return before, after


def machine_drift_pct(
    calibration: dict[str, Any] | None, speeds: list[float | None]
) -> float | None:
    """The reference kernel's worst move, in percent: after calibration against before it,
    and after each round against calibration's speed (the host check's
    :attr:`~zoomwatt.measurement.host_check.Calibration.reference_ops_per_s`); None where
    nothing was watched."""
    cal = _calibration_reference(calibration)
    base = cal.reference_ops_per_s
    if base is None:
        return None
    before, after = _before_after(cal)
    return worst_move([drift_pct(after, before), *(drift_pct(s, base) for s in speeds)])


def median_drift_pct(
    calibration: dict[str, Any] | None, readings: list[float | None], key: str
) -> float | None:
    """A reference kernel's median reading after the rounds (``key``: ``stream_ops_per_s``, the
    streaming kernel; ``fault_bytes_per_s``, the fresh-page one) against the mean of its two
    readings around calibration, in percent; None where either is missing."""
    known = [s for s in readings if s]
    base = getattr(_calibration_reference(calibration), key)
    return drift_pct(statistics.median(known), base) if known and base else None


def _readings(speeds: list[dict[str, float | None]], key: str) -> list[float | None]:
    return [s.get(key) for s in speeds]


def _reference_fn(profile: Any, device: str) -> Callable[[], dict[str, float | None]] | None:
    """The reference kernels now (the matmul's ``ops_per_s``, the streaming kernel's
    ``stream_ops_per_s``, on a CPU the fresh-page kernel's ``fault_bytes_per_s``), where
    ``profile`` was calibrated here (else None)."""
    calibration = getattr(profile, "calibration", None)
    if _calibration_reference(calibration).reference_ops_per_s is None:
        return None
    from zoomwatt.hardware.host_calibration import reference_speed
    from zoomwatt.hardware.host_probe import make_probe

    probe = make_probe(device)
    return lambda: reference_speed(probe, stream=True)


FRESH_PAGES = "fresh-page reference kernel"
#: The reference kernels after the rounds judged on their median, with their names in a status
MEDIAN_JUDGED = (
    ("stream_ops_per_s", STREAM),
    ("fault_bytes_per_s", FRESH_PAGES),
)


def picture_nsr_db(picture: np.ndarray, reference: np.ndarray) -> float | None:
    """Noise-to-signal of ``picture`` against ``reference`` in dB (None: other sizes)."""
    if picture.shape != reference.shape:
        return None
    ref = reference.astype(np.float64) - 127.5
    noise = float(np.sum((picture.astype(np.float64) - reference) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0:
        return -math.inf
    return 10 * math.log10(noise / signal) if signal > 0 else math.inf


# --- comparing ----------------------------------------------------------------------------


def _per_frame(c: _Config) -> float:
    n = c.settings["frames_per_keyframe"]
    return (statistics.median(c.keyframe_s) + statistics.median(c.frames_s)) / n


def _energy_per_frame(c: _Config | None) -> float | None:
    """Median energy of ``c``'s keyframe periods / N (None: not every period was read)."""
    if c is None or not c.energy_j or any(e is None for e in c.energy_j):
        return None
    return statistics.median(c.energy_j) / c.settings["frames_per_keyframe"]


def _energy(
    predicted: Any,
    base_pred: Any,
    config: _Config | None,
    base: _Config | None,
    meter_reason: str | None,
) -> dict[str, Any]:
    """A row's energy fields: per output frame and the saving against the baseline,
    predicted and measured; the status says why nothing was measured."""

    def ratio(a: float | None, b: float | None) -> float | None:
        ok = a is not None and b is not None and math.isfinite(a) and math.isfinite(b) and b > 0
        return a / b if ok else None

    p_j = None if predicted is None else predicted.energy_per_output_frame_j
    p_j = p_j if p_j is not None and math.isfinite(p_j) else None
    m_j, m_base = _energy_per_frame(config), _energy_per_frame(base)
    p_save = ratio(None if base_pred is None else base_pred.energy_per_output_frame_j, p_j)
    m_save = ratio(m_base, m_j)
    if meter_reason is not None:
        status = f"not measurable here: {meter_reason}"
    elif config is None:
        status = "not run"
    else:
        status = "measured" if m_j is not None else "not measured: the counter read nothing"
    return {
        "predicted_energy_per_frame_j": p_j,
        "measured_energy_per_frame_j": m_j,
        "predicted_energy_saving": p_save,
        "measured_energy_saving": m_save,
        "energy_error_pct": error_pct(p_save, m_save),
        "energy_status": status,
    }


def _row(
    name: str,
    levers: tuple[Lever, ...],
    predicted: Any,
    base_pred: Any,
    config: _Config | None,
    base: _Config | None,
    reason: str | None,
    target: float,
    on_keyframe: bool = False,
    meter_reason: str | None = None,
) -> LeverRow:
    """A lever's row, judged against ``target`` on its speed-up error (``on_keyframe``: on its
    keyframe latency's, as the combined plan is); its energy where ``meter_reason`` is None."""
    p_speed = (
        None if predicted is None else base_pred.per_output_frame_s / predicted.per_output_frame_s
    )
    m_speed = err = m_frame = m_key = nsr = None
    samples: tuple[float, ...] = ()
    if config is not None and base is not None:
        m_frame, m_key = _per_frame(config), statistics.median(config.keyframe_s)
        m_speed = _per_frame(base) / m_frame
        samples = tuple(config.keyframe_s)
        if config.picture is not None and base.picture is not None and levers:
            nsr = picture_nsr_db(config.picture, base.picture)
    err = error_pct(p_speed, m_speed)
    p_key = None if predicted is None else predicted.keyframe_latency_s
    judged = error_pct(p_key, m_key) if on_keyframe else err
    if reason is not None:
        status = f"not measurable here: {reason}"
    elif judged is None:
        status = "measured, no prediction"
    else:
        status = "within target" if abs(judged) <= target else "outside target"
    quality = quality_note(levers) if levers else "the baseline"
    if nsr is not None and levers and not all(lv.spec.exact for lv in levers):
        said = "identical to the baseline's" if nsr == -math.inf else f"{nsr:.1f} dB"
        quality = f"{quality} (picture against the baseline's: {said})"
    return LeverRow(
        name,
        tuple(lv.text() for lv in levers),
        status,
        p_speed,
        m_speed,
        err,
        None if predicted is None else predicted.per_output_frame_s,
        m_frame,
        p_key,
        m_key,
        samples,
        None if nsr is None or not math.isfinite(nsr) else nsr,
        quality,
        **_energy(predicted, base_pred, config, base, meter_reason if reason is None else reason),
    )


def _predict_all(
    options: LeverCheckOptions,
    groups: list[tuple[str, tuple[Lever, ...]]],
    reasons: dict[str, str],
    say: ProgressFn,
) -> tuple[Any, dict[str, Any], dict[str, str], Any]:
    """Host profile (with the stacks of the configurations that can run here: ``reasons``
    names the levers that cannot) and the prediction of each configuration (a reason where
    none exists)."""
    from zoomwatt.hardware.host_calibration import load_host_profile
    from zoomwatt.hardware.schema import CALIBRATED_STACKS
    from zoomwatt.measurement.lever_workload import lever_stack, predict_levers
    from zoomwatt.workload.spec import WorkloadSpec

    say("calibrating this machine" if options.recalibrate else "loading the host profile")
    runnable = [lv for _n, lv in groups if not any(x.name in reasons for x in lv)]
    runtimes = tuple(sorted({lever_stack(lv) for lv in runnable} & set(CALIBRATED_STACKS)))
    profile = load_host_profile(
        device=options.device, recalibrate=options.recalibrate, stacks=runtimes
    )
    base = WorkloadSpec(
        size=options.size,
        steps=options.steps,
        cfg=options.guidance > 1.0,
        dtype="fp32",
        every=options.frames_per_keyframe,
    )
    say("tracing and predicting each lever's workload")
    host = options.device == "cpu"  # convolutions as this process's PyTorch runs them
    out: dict[str, Any] = {"baseline": predict_levers(base, (), profile, host)}
    why: dict[str, str] = {}
    for name, levers in groups:
        try:
            out[name] = predict_levers(base, levers, profile, host)
        except InputError as exc:
            why[name] = f"no prediction: {exc}"
    return profile, out, why, base


def check_levers(
    options: LeverCheckOptions,
    *,
    pipeline: Any = None,
    progress: ProgressFn | None = None,
    meter: EnergyMeter | None = None,
) -> LeverCheckResult:
    """Predict, run interleaved, compare (see module doc). ``pipeline``: an inpainting pipeline
    to run on (tests pass a tiny one); by default the full-size random-weight SD2 pipeline.
    ``meter``: the energy counter (by default Zeus's for the device, or the stand-in)."""
    # 1. inputs: which levers can run here
    options.check()
    say = progress or (lambda _text: None)
    started = time.perf_counter()
    reasons = {lv.name: r for lv in options.levers if (r := unavailable_reason(lv, options.device))}
    runnable = tuple(lv for lv in options.levers if lv.name not in reasons)
    if options.combined_only or options.plan is not None:  # together or not at all
        check_together(runnable)
    together, left_out = compatible_levers(runnable)  # what one combined run can apply
    groups = [] if options.combined_only else [(lv.text(), (lv,)) for lv in options.levers]
    if len(together) > 1 or (options.combined_only and together):
        groups.append(("combined", together))
    else:
        left_out = []  # no combined run to leave a lever out of

    # 2. predictions on the host profile
    profile, predicted, no_prediction, _spec = _predict_all(options, groups, reasons, say)

    # 3. the runs, interleaved
    notes = [RANDOM_QUALITY_NOTE, *(f"combined: {text}" for text in left_out)]
    if pipeline is None:
        from zoomwatt.archs.random_pipeline import build_random_sd2_inpaint

        say("building the full-size SD2 inpainting pipeline with random weights")
        pipeline = build_random_sd2_inpaint(options.device, "fp32", options.seed)
        notes.append("full-size SD2 inpainting architecture, random weights")
    else:
        notes.append("pipeline given by the caller (not the full-size model)")
    configs = [_Config("baseline", (), _settings(options, ()))]
    configs += [
        _Config(n, lv, _settings(options, lv))
        for n, lv in groups
        if n == "combined" or lv[0].name not in reasons
    ]
    if meter is None:
        meter = make_energy_meter(options.device, options.energy)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    speeds = _measure(
        configs, pipeline, options, say, meter, _reference_fn(profile, options.device)
    )
    share = (time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
    faults = fault_note(configs)
    notes += [faults] if faults else []
    notes.append(
        f"this process used {share:.2f} CPU cores on average while measuring "
        f"(load average {os.getloadavg()[0]:.2f})"
    )

    # 4. compare
    runs = _Runs(groups, reasons, predicted, no_prediction, configs, notes, meter, speeds)
    return _result(options, profile, runs, time.perf_counter() - started)


def _rows(runs: _Runs, meter_reason: str | None) -> tuple[LeverRow, list[LeverRow]]:
    """The baseline's row and one per group (the combined plan's last); notes the groups
    without a prediction."""
    by_name = {c.name: c for c in runs.configs}
    base_cfg, base_pred = by_name["baseline"], runs.predicted["baseline"]
    rows = []
    for name, levers in runs.groups:
        is_combined = name == "combined"
        reason = None if is_combined else runs.reasons.get(levers[0].name)
        target = COMBINED_TARGET_PCT if is_combined else LEVER_TARGET_PCT
        rows.append(
            _row(
                name,
                levers,
                runs.predicted.get(name),
                base_pred,
                by_name.get(name),
                base_cfg,
                reason,
                target,
                on_keyframe=is_combined,
                meter_reason=meter_reason,
            )
        )
        if name in runs.no_prediction:
            runs.notes.append(f"{name}: {runs.no_prediction[name]}")
    baseline = _row(
        "baseline",
        (),
        base_pred,
        base_pred,
        base_cfg,
        base_cfg,
        None,
        LEVER_TARGET_PCT,
        meter_reason=meter_reason,
    )
    return baseline, rows


def _judged_combined(
    combined: LeverRow | None, moves: list[tuple[str, float | None]]
) -> LeverRow | None:
    """The combined row, "not comparable" where the machine's speed moved more than
    REFERENCE_DRIFT_PCT from its calibration by one of ``moves`` ((kernel, percent), the first
    that did names it; its keyframe latency is an absolute time)."""
    if combined is None or not combined.measured:
        return combined
    for kernel, move in moves:
        if move is not None and abs(move) > REFERENCE_DRIFT_PCT:
            status = (
                f"not comparable: machine speed moved ({kernel} {move:+.0f}% from its "
                "calibration speed)"
            )
            return replace(combined, status=status)
    return combined


def _result(
    options: LeverCheckOptions, profile: Any, runs: _Runs, wall_s: float
) -> LeverCheckResult:
    from zoomwatt.measurement.validation import describe_device

    meter = runs.meter
    meter_reason = None if meter.available else meter.reason
    baseline, rows = _rows(runs, meter_reason)
    calibration = getattr(profile, "calibration", None)
    drift = machine_drift_pct(calibration, _readings(runs.speeds, "ops_per_s"))
    medians = {
        key: median_drift_pct(calibration, _readings(runs.speeds, key), key)
        for key, _kernel in MEDIAN_JUDGED
    }
    moves = [("reference kernel", drift)]
    moves += [(kernel, medians[key]) for key, kernel in MEDIAN_JUDGED]
    combined = _judged_combined(next((r for r in rows if r.name == "combined"), None), moves)
    kf_err = None  # the combined plan is judged on this (issue 15), not on its speed-up
    if combined is not None:
        kf_err = error_pct(combined.predicted_keyframe_s, combined.measured_keyframe_s)
    notes = runs.notes
    if runs.speeds:
        notes.append(_speed_note(calibration, runs.speeds))
    settings = {
        "size": options.size,
        "steps": options.steps,
        "guidance": options.guidance,
        "scheduler": "ddim",
        "frames_per_keyframe": options.frames_per_keyframe,
        "rounds": options.rounds,
        "dtype": "fp32",
        "profile": profile.name,
        "profile_calibrated": (calibration or {}).get("date"),
    }
    return LeverCheckResult(
        kind="levers",
        device=describe_device(options.device),
        date=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        settings=settings,
        baseline=baseline,
        levers=tuple(r for r in rows if r.name != "combined"),
        combined=combined,
        lever_target_pct=LEVER_TARGET_PCT,
        combined_target_pct=COMBINED_TARGET_PCT,
        combined_keyframe_error_pct=kf_err,
        plan=options.plan,
        wall_s=wall_s,
        notes=tuple(notes),
        energy_meter=meter.name if meter_reason is None else f"not measurable here: {meter_reason}",
        reference_drift_pct=drift,
        stream_drift_pct=medians["stream_ops_per_s"],
        fault_drift_pct=medians["fault_bytes_per_s"],
    )


def _speed_note(calibration: dict[str, Any] | None, speeds: list[dict[str, float | None]]) -> str:
    """The reference kernels' readings around calibration and after each round (GOP/s; the
    fresh-page kernel's in GB/s)."""
    kernels = (calibration or {}).get("reference_kernel") or {}
    cal = _calibration_reference(calibration)

    def g(v: float | None, unit: str = "GOP/s") -> str:
        if not v:
            return "?"
        return f"{v / 1e9:.3g}" if unit == "GB/s" else f"{v / 1e9:.0f}"

    parts = []
    for key, name, prefix, unit in (
        ("ops_per_s", kernels.get("kernel", "matmul"), "reference kernel", "GOP/s"),
        ("stream_ops_per_s", kernels.get("stream_kernel"), STREAM, "GOP/s"),
        ("fault_bytes_per_s", kernels.get("fault_kernel"), FRESH_PAGES, "GB/s"),
    ):
        windows = (cal.reference_before, cal.reference_after)
        before, after = (g(getattr(w, key, None) if w else None, unit) for w in windows)
        rounds = _readings(speeds, key)
        if name is None or not any(rounds):
            continue
        parts.append(
            f"{prefix} ({name}): calibration before/after {before}/{after} {unit}, after each "
            f"round {', '.join(g(s, unit) for s in rounds)} {unit}"
        )
    return "; ".join(parts)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def save_lever_check(result: LeverCheckResult, folder: str | Path) -> Path:
    """Write ``result`` as ``levers-DATE.json`` and ``levers-latest.json`` in ``folder``."""
    text = json.dumps(_finite(result.to_dict()), indent=2) + "\n"
    return write_dated_json(folder, "levers", result.date, text, LATEST)


def load_lever_check(path: str | Path) -> LeverCheckResult:
    """A result of :func:`save_lever_check`: a file, or a folder (its ``levers-latest.json``)."""
    what = "a lever measurement file"
    data, path = read_saved_json(
        path,
        LATEST,
        argument="measurements",
        what=what,
        hint="Run `zoomwatt measure --levers ... --validate` to make one.",
        unreadable=what,
    )
    try:
        return LeverCheckResult.from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError("measurements", str(path), what, str(exc)) from exc
