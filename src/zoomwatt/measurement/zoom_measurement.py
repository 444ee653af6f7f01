"""Measure a real zoom run, stage by stage, keyframe by keyframe.

The zoom runs as usual (:class:`zoomwatt.pipeline.ZoomRun`); forward hooks on the pipeline's
models (text encoder, VAE encoder, UNet, VAE decoder) time every call and open an energy window
around it, and the run's own :class:`~zoomwatt.pipeline.zoom.KeyframeTimings` give the frame
operations (shrink, paste, in-between frames) and the video write. The first
``warmup_keyframes`` keyframes are excluded (weights paged in, kernels chosen, caches filled);
every figure is the median over the keyframes after them.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.hardware.host_probe import BUSY_CPU_SHARE, cpu_share
from zoomwatt.measurement.energy_meter import EnergyMeter, NullEnergyMeter
from zoomwatt.measurement.timing import (
    Timing,
    summarize_undisturbed,
)
from zoomwatt.workload.stages import INPAINT_TIMING as INPAINT
from zoomwatt.workload.stages import StageName

log = logging.getLogger(__name__)

ProgressFn = Callable[[str], None]


@dataclass
class _Call:
    keyframe: int
    stage: str
    seconds: float
    joules: float | None
    cpu_share: float | None  # of the process's threads during the call (None on CUDA)


@dataclass(frozen=True)
class ZoomMeasurement:
    """Per measured keyframe (warm-up excluded): seconds and joules of each stage."""

    keyframes_measured: tuple[int, ...]
    stage_s: dict[str, list[float]]  # stage -> one total per measured undisturbed keyframe
    stage_j: dict[str, list[float]]  # stage -> one total per measured keyframe (if measured)
    calls: dict[str, Timing]  # stage -> every call's time, warm-up keyframes excluded
    calls_per_keyframe: dict[str, float]
    keyframe_s: list[float]  # the backend's keyframe (model stages + pipeline around them)
    period_j: list[float]  # energy of each keyframe period (keyframe + its frames), if measured
    energy_reason: str | None  # why energy is missing, None when measured
    wall_s: float
    frames: int
    warmup: dict[str, list[float]] = field(default_factory=dict)  # stage -> warm-up seconds
    cpu_share: float | None = None  # process CPU time / (wall x torch threads); < 1: busy host
    disturbed: dict[str, int] = field(default_factory=dict)  # stage -> keyframes left out

    def median_s(self, stage: str) -> float | None:
        values = self.stage_s.get(stage)
        return statistics.median(values) if values else None

    def median_j(self, stage: str) -> float | None:
        values = self.stage_j.get(stage)
        return statistics.median(values) if values else None


class _StageHooks:
    """Hooks that time (and meter) each call of some modules, tagged with the keyframe."""

    def __init__(
        self,
        models: Mapping[str, Any],
        meter: EnergyMeter,
        sync: Callable[[], None],
        threads: int | None,
    ):
        self.models = dict(models)
        self.threads = threads  # None: do not judge CPU share (work on a GPU)
        self._cpu: dict[str, float] = {}
        self.meter = meter
        self.sync = sync
        self.keyframe = 0
        self.calls: list[_Call] = []
        self._open: dict[str, float] = {}
        self._handles: list[Any] = []

    def attach(self) -> None:
        for stage, module in self.models.items():
            self._handles.append(module.register_forward_pre_hook(self._pre(stage)))
            self._handles.append(module.register_forward_hook(self._post(stage)))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _pre(self, stage: str) -> Callable[..., None]:
        def hook(_m: Any, _a: Any) -> None:
            self.sync()
            if self.meter.available:
                self.meter.begin(f"{stage}:{len(self.calls)}")
            self._cpu[stage] = time.process_time()
            self._open[stage] = time.perf_counter()

        return hook

    def _post(self, stage: str) -> Callable[..., None]:
        def hook(_m: Any, _a: Any, _o: Any) -> None:
            self.sync()
            seconds = time.perf_counter() - self._open.pop(stage)
            cpu_s = time.process_time() - self._cpu.pop(stage)
            share = cpu_share(cpu_s, seconds, self.threads) if self.threads else None
            joules = None
            if self.meter.available:
                joules = self.meter.end(f"{stage}:{len(self.calls)}").energy_j
            self.calls.append(_Call(self.keyframe, stage, seconds, joules, share))

        return hook


class _Progress:
    """Moves the hooks' keyframe tag on, meters keyframe periods, reports progress."""

    def __init__(self, hooks: _StageHooks, meter: EnergyMeter, report: ProgressFn | None):
        self.hooks = hooks
        self.meter = meter
        self.report = report
        self.total = 0
        self.period_j: dict[int, float] = {}
        self.started = time.perf_counter()

    def start(self, keyframes: int, frames: int, resumed: int) -> None:
        self.total = keyframes
        if self.meter.available:
            self.meter.begin("period:0")

    def keyframe_done(self, index: int, resumed: bool) -> None:
        # The period of keyframe i: its in-between frames' work comes before keyframe i + 1.
        if self.meter.available and index > 0:
            reading = self.meter.end(f"period:{index - 1}")
            if reading.energy_j is not None:
                self.period_j[index - 1] = reading.energy_j
            self.meter.begin(f"period:{index}")
        self.hooks.keyframe = index + 1
        if self.report:
            elapsed = time.perf_counter() - self.started
            self.report(f"keyframe {index + 1}/{self.total} done ({elapsed:.0f} s)")

    def frame_done(self, index: int) -> None:
        return None

    def finish(self) -> None:
        if self.meter.available:
            last = self.total - 1
            reading = self.meter.end(f"period:{last}")
            if reading.energy_j is not None:
                self.period_j[last] = reading.energy_j


def measure_zoom(
    config: Any,
    backend: Any = None,
    *,
    models: Mapping[str, Any] | None = None,
    meter: EnergyMeter | None = None,
    warmup_keyframes: int = 1,
    sync: Callable[[], None] = lambda: None,
    progress: ProgressFn | None = None,
    cpu_threads: int | None = None,
) -> ZoomMeasurement:
    """Run the zoom ``config`` (a :class:`~zoomwatt.pipeline.ZoomConfig`) with ``backend`` and
    measure it. ``models`` maps stages to the torch modules whose calls are timed (e.g.
    ``{StageName.UNET: pipe.unet, StageName.VAE_DECODER: pipe.vae.decoder}``). With
    ``cpu_threads`` (a run on the CPU), a keyframe during which a stage's calls got less than 80%
    of those threads' CPU time (other programs held the cores) is left out of that stage's
    median, unless all were."""
    from zoomwatt.pipeline.zoom import ZoomRun

    # 1. inputs
    keyframes = getattr(config, "keyframes", None)
    if isinstance(warmup_keyframes, bool) or not isinstance(warmup_keyframes, int):
        raise InputError("warmup_keyframes", warmup_keyframes, "an integer >= 0")
    if warmup_keyframes < 0 or not isinstance(keyframes, int) or keyframes <= warmup_keyframes:
        raise InputError(
            "warmup_keyframes",
            warmup_keyframes,
            f"an integer >= 0 below the number of keyframes ({keyframes})",
        )
    if getattr(config, "direction", "out") != "out":
        raise InputError("direction", config.direction, "'out' (measured keyframe by keyframe)")
    meter = meter or NullEnergyMeter("no energy meter given")

    # 2. run with hooks
    hooks = _StageHooks(models or {}, meter, sync, cpu_threads)
    tracker = _Progress(hooks, meter, progress)
    started = time.perf_counter()
    cpu_started = time.process_time()
    hooks.attach()
    try:
        run = ZoomRun(config, backend=backend, progress=tracker)
        result = run.run()
        tracker.finish()
    finally:
        hooks.detach()
    wall_s = time.perf_counter() - started
    run_share = _cpu_share(time.process_time() - cpu_started, wall_s)

    # 3. per keyframe: model calls (hooks), frame ops and video write (the run's timings)
    measured = tuple(range(warmup_keyframes, keyframes))
    per_stage = _StageTotals.of(hooks, measured, warmup_keyframes)
    keyframe_s = _run_timings(result.timings, measured, per_stage.stage_s)
    period_j = [tracker.period_j[k] for k in measured if k in tracker.period_j]
    reason = None if meter.available else meter.reason
    log.info("measured %d keyframes of %d in %.1f s", len(measured), keyframes, wall_s)
    return ZoomMeasurement(
        keyframes_measured=measured,
        stage_s=dict(per_stage.stage_s),
        stage_j=dict(per_stage.stage_j),
        calls={
            s: summarize_undisturbed([x[0] for x in v], [x[1] for x in v], per_stage.warm_s[s])
            for s, v in per_stage.call_s.items()
            if v
        },
        calls_per_keyframe={s: statistics.median(v) for s, v in per_stage.counts.items() if v},
        keyframe_s=keyframe_s,
        period_j=period_j,
        energy_reason=reason,
        wall_s=wall_s,
        frames=result.frames,
        warmup=dict(per_stage.warm_s),
        cpu_share=run_share,
        disturbed={k: v for k, v in per_stage.disturbed.items() if v},
    )


@dataclass
class _StageTotals:
    """Per stage, what the hooks saw over the measured keyframes: seconds and joules per
    keyframe (undisturbed keyframes only, unless all were), every call, warm-up calls."""

    stage_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stage_j: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    call_s: dict[str, list[tuple[float, float | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    warm_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    disturbed: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, hooks: _StageHooks, measured: tuple[int, ...], warmup: int) -> _StageTotals:
        totals = cls()
        for stage in hooks.models:
            per_kf = []  # (seconds, joules or None, share of the keyframe's calls)
            for k in measured:
                mine = [c for c in hooks.calls if c.stage == stage and c.keyframe == k]
                totals.counts[stage].append(len(mine))
                if not mine:
                    continue
                shares = [c.cpu_share for c in mine]
                share = None if None in shares else min(shares)
                joules = sum(c.joules or 0.0 for c in mine)
                measured_j = all(c.joules is not None for c in mine)
                seconds = sum(c.seconds for c in mine)
                per_kf.append((seconds, joules if measured_j else None, share))
                totals.call_s[stage].extend((c.seconds, c.cpu_share) for c in mine)
            quiet = [x for x in per_kf if x[2] is None or x[2] >= BUSY_CPU_SHARE] or per_kf
            totals.disturbed[stage] = len(per_kf) - len(quiet)
            totals.stage_s[stage] = [x[0] for x in quiet]
            totals.stage_j[stage] = [x[1] for x in quiet if x[1] is not None]
            totals.warm_s[stage] = [
                c.seconds for c in hooks.calls if c.stage == stage and c.keyframe < warmup
            ]
        return totals


def _run_timings(timings, measured: tuple[int, ...], stage_s: dict[str, list[float]]):
    """The model seconds of each measured keyframe (the run's own timings); frame ops, video
    write and classical inpainting are added to ``stage_s``."""
    keyframe_s = []
    for k in measured:
        t = timings[k]
        keyframe_s.append(t.text_encode_s + t.vae_encode_s + t.denoise_s + t.vae_decode_s)
        if k >= 1:  # keyframe 0 has no in-between frames
            stage_s[StageName.FRAME_OPS].append(t.paste_s + t.interpolation_s)
            stage_s["video_write"].append(t.video_write_s)
        if t.inpaint_s:
            stage_s[INPAINT].append(t.inpaint_s)
    return keyframe_s


def _cpu_share(cpu_s: float, wall_s: float) -> float | None:
    """How much of its threads' time the process got: near 1 on a quiet machine for a CPU run
    (lower when other programs compete for the cores, or when work waits on a GPU)."""
    import torch

    threads = torch.get_num_threads()
    return cpu_share(cpu_s, wall_s, threads)
