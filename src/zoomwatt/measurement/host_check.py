"""The host check: is the performance model right on this machine, or was the machine busy?

A model stage's measured time differs from its prediction for two kinds of reasons: the model
is wrong, or the machine the stage ran on was not the machine that was calibrated (another
program held the cores, the hypervisor stole time, the clock changed). The check tells them
apart by watching the machine around every measurement:

- **interleaved rounds**: each round times every model stage once (one keyframe's calls), with
  the *reference kernels* run before and after each stage: a short fp32 matmul that stays in
  the cache (:data:`~zoomwatt.hardware.host_calibration.REFERENCE_KERNEL`) and a linear layer
  that streams its weights from memory
  (:data:`~zoomwatt.hardware.host_calibration.STREAM_REFERENCE_KERNEL`: what other tenants of
  a shared machine contend for, and what a text encoder's 77-row layers wait on); the host
  profile is calibrated just before the first round, and calibration runs the same reference
  kernels before and after itself;
- **a sample is clean** when, during the stage, the process got at least
  :data:`~zoomwatt.hardware.host_probe.BUSY_CPU_SHARE` of its threads' CPU time and the
  hypervisor stole less than the rest (``/proc/stat``), and the reference kernels before and
  after it ran within ``drift_pct`` of their speed during calibration (the matmul each time,
  the streaming kernel as the mean of the two readings: :func:`stream_drift_pct`; else the
  machine is not the calibrated one any more: *drifting*);
- **warm after calibration**: each stage runs once, untimed, before its first timed run after
  a calibration: on the AMD EPYC VM here the text encoder's first call after one took
  1.4-2x its later calls in 5 of the 12 cases recorded (2026-12-02: 2.08, 1.61, 1.59, 1.54,
  1.23 s against 0.83-1.15 s), which with two clean samples made a -20% "model error" out of
  one slow call;
- **bounded retries**: after the first ``rounds`` rounds, a stage with fewer than ``min_clean``
  clean samples under one calibration is measured again, up to ``max_rounds`` rounds in all
  (each retry round after a bounded wait for the other processes to calm down);
  a calibration that was itself disturbed, or a reference kernel that moved, triggers a new
  calibration after a bounded wait (``max_calibrations`` in all, one of them kept back at the
  start for after a round), so prediction and measurement see the same machine again;
- **verdict**: a stage with enough clean samples is ``ok`` or ``outside_target`` (a model
  error: median of the clean samples against the prediction of their calibration); one
  without is ``busy`` or ``drifting`` and gets no error at all, and the check says "not
  comparable: machine busy (x% of CPU)" instead of blaming the model.

The loop (:func:`run_check`) reaches the machine only through :class:`CheckMachine`, so tests
drive it with scripted timings and CPU shares. :class:`HostCheck` is the result, kept as JSON
beside the measurement (:func:`save_host_check`, ``out/measure/host_check.json``) for
``zoomwatt validate --set host`` and the report (:func:`load_host_check`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from zoomwatt.errors import InputError
from zoomwatt.hardware.host_probe import BUSY_CPU_SHARE
from zoomwatt.measurement.results import error_pct, read_saved_json, write_dated_json

log = logging.getLogger(__name__)

HOST_CHECK_SCHEMA = 1
HOST_CHECK_FILE = "host_check.json"
#: A reference kernel further than this from its speed during calibration means the machine
#: is not the calibrated one: below the 15% target, so that a stage outside the target is not
#: explained by the machine's speed alone.
REFERENCE_DRIFT_PCT = 10.0
STREAM = "streaming reference kernel"

OK, OUTSIDE, BUSY, DRIFTING, NOT_PREDICTED = (
    "ok",
    "outside_target",
    "busy",
    "drifting",
    "not_predicted",
)
STATUSES = (OK, OUTSIDE, BUSY, DRIFTING, NOT_PREDICTED)
#: pass: every model stage within the target; fail: a clean stage outside it (a model
#: error); busy / drifting: not comparable; not_checked: a dtype this CPU does not compute
#: natively.
VERDICTS = ("pass", "fail", BUSY, DRIFTING, "not_checked")


@dataclass(frozen=True)
class CheckPlan:
    """How many measurements the check takes, and what it calls clean."""

    rounds: int = 3  # rounds of every stage
    min_clean: int = 2  # clean samples a stage needs under one calibration
    max_rounds: int = 6  # rounds in all, retries included
    max_calibrations: int = 3  # the first and the recalibrations
    drift_pct: float = REFERENCE_DRIFT_PCT
    busy_share: float = BUSY_CPU_SHARE
    target_error_pct: float = 15.0

    def check(self) -> None:
        for name in ("rounds", "min_clean", "max_calibrations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(name, value, "an integer >= 1")
        if isinstance(self.max_rounds, bool) or not isinstance(self.max_rounds, int):
            raise InputError("max_rounds", self.max_rounds, f"an integer >= rounds ({self.rounds})")
        if self.max_rounds < self.rounds:
            raise InputError("max_rounds", self.max_rounds, f"an integer >= rounds ({self.rounds})")
        for name in ("drift_pct", "target_error_pct"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value < 1000:
                raise InputError(name, value, "a percentage in (0, 1000)")
        if not isinstance(self.busy_share, int | float) or not 0 < self.busy_share <= 1:
            raise InputError("busy_share", self.busy_share, "a share in (0, 1]")


@dataclass(frozen=True)
class Window:
    """One timed piece of work and what the machine did meanwhile."""

    seconds: float
    cpu_share: float | None  # this process's CPU time / (wall x its threads); None off a CPU
    others_cpu_share: float | None = None  # other processes, share of all CPUs (/proc/stat)
    steal_share: float | None = None  # stolen by the hypervisor, share of all CPUs
    ops_per_s: float | None = None  # the reference kernel's speed (reference windows only)
    stream_ops_per_s: float | None = None  # the streaming reference kernel's (likewise)
    fault_bytes_per_s: float | None = None  # the fresh-page reference kernel's (likewise)


@dataclass(frozen=True)
class Calibration:
    """One calibration of the host profile and the predictions made on it."""

    predicted_s: dict[str, float | None]  # per stage, one keyframe's calls
    cpu_share: float | None  # during calibration's fp32 matmul
    reference_before: Window | None  # the reference kernel before and after calibration
    reference_after: Window | None
    date: str = ""
    index: int = 0
    problem: str = ""  # "", busy or drifting (judged by run_check)
    note: str = ""
    profile: Any = field(default=None, compare=False, repr=False)  # not kept in the JSON

    @property
    def lowest_cpu_share(self) -> float | None:
        """The lowest share of its matmul and the two reference kernels."""
        shares = [self.cpu_share] + [
            w.cpu_share for w in (self.reference_before, self.reference_after) if w
        ]
        known = [x for x in shares if x is not None]
        return min(known) if known else None

    @property
    def reference_ops_per_s(self) -> float | None:
        return _mean_rate((self.reference_before, self.reference_after), "ops_per_s")

    @property
    def stream_ops_per_s(self) -> float | None:
        return _mean_rate((self.reference_before, self.reference_after), "stream_ops_per_s")

    @property
    def fault_bytes_per_s(self) -> float | None:
        return _mean_rate((self.reference_before, self.reference_after), "fault_bytes_per_s")

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "date": self.date,
            "predicted_s": dict(self.predicted_s),
            "cpu_share": self.cpu_share,
            "reference_ops_per_s": self.reference_ops_per_s,
            "stream_ops_per_s": self.stream_ops_per_s,
            "fault_bytes_per_s": self.fault_bytes_per_s,
            "reference_before": _window_dict(self.reference_before),
            "reference_after": _window_dict(self.reference_after),
            "problem": self.problem,
            "note": self.note,
        }


@dataclass(frozen=True)
class StageSample:
    """One timed keyframe's worth of a stage in one round."""

    round: int
    calibration: int  # index of the calibration in force
    measured_s: float
    cpu_share: float | None
    others_cpu_share: float | None
    steal_share: float | None
    reference_drift_pct: float | None  # the reference kernel around it against calibration
    problem: str = ""  # "" (clean), busy or drifting
    note: str = ""
    busy_cpu_share: float | None = None  # busy: the share that made it so (its calibration's
    # where that was the busy part)
    stream_drift_pct: float | None = None  # the streaming reference kernel around it (mean of
    # the readings before and after) against calibration's

    @property
    def clean(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class HostStageCheck:
    """A model stage: prediction against the clean measurement, or why there is none."""

    name: str
    predicted_s: float | None  # per keyframe (all its calls), of the calibration used
    measured_s: float | None  # median of the clean samples (of all, where none is clean)
    error_pct: float | None  # None unless status is ok or outside_target
    status: str  # one of STATUSES
    cpu_share: float | None  # median over the samples behind measured_s
    others_cpu_share: float | None
    steal_share: float | None
    reference_drift_pct: float | None  # worst over the samples behind measured_s
    clean_samples: int
    calibration: int | None  # index of the calibration whose prediction is compared
    samples: tuple[StageSample, ...] = ()
    note: str = ""
    stream_drift_pct: float | None = None  # the streaming reference's worst, likewise

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["samples"] = [dataclasses.asdict(s) for s in self.samples]
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> HostStageCheck:
        values = dict(data)
        values["samples"] = tuple(StageSample(**s) for s in data.get("samples", ()))
        return HostStageCheck(**values)


@dataclass(frozen=True)
class HostCheck:
    """``zoomwatt measure --validate`` on this machine: per model stage and overall."""

    date: str  # UTC, ISO 8601
    device: str  # in words: "Intel(R) Xeon(R) ... (cpu, 2 threads)"
    cpu_model: str  # with its vendor, family and model numbers where /proc/cpuinfo has them
    cpu_flags: dict[str, bool] | None  # the flags in host_probe.RECORDED_FLAGS
    pipeline: str
    size: int
    steps: int
    cfg: bool
    dtype: str
    target_error_pct: float
    verdict: str  # one of VERDICTS
    headline: str  # the verdict in words
    stages: tuple[HostStageCheck, ...]
    calibrations: tuple[Calibration, ...]
    dtype_notes: tuple[str, ...] = ()  # e.g. "bf16: not native on this CPU (...): not checked"
    plan: dict[str, Any] = field(default_factory=dict)
    load_average_1min: float | None = None  # at the end of the check
    wall_s: float = 0.0
    schema: int = HOST_CHECK_SCHEMA

    @property
    def worst_error_pct(self) -> float | None:
        errors = [abs(s.error_pct) for s in self.stages if s.error_pct is not None]
        return max(errors) if errors else None

    def stage(self, name: str) -> HostStageCheck | None:
        return next((s for s in self.stages if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["kind"] = "host_check"
        data["stages"] = [s.to_dict() for s in self.stages]
        data["calibrations"] = [c.to_dict() for c in self.calibrations]
        data["dtype_notes"] = list(self.dtype_notes)
        data["worst_error_pct"] = self.worst_error_pct
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> HostCheck:
        if not isinstance(data, dict) or data.get("schema") != HOST_CHECK_SCHEMA:
            raise InputError("host check", str(data)[:60], f"a schema {HOST_CHECK_SCHEMA} record")
        names = {f.name for f in dataclasses.fields(HostCheck)}
        values = {k: v for k, v in data.items() if k in names}
        values["stages"] = tuple(HostStageCheck.from_dict(s) for s in data["stages"])
        values["calibrations"] = tuple(_calibration(c) for c in data.get("calibrations", ()))
        values["dtype_notes"] = tuple(data.get("dtype_notes", ()))
        return HostCheck(**values)


def _mean_rate(windows: Sequence[Window | None], name: str) -> float | None:
    """The mean of the windows' ``name`` rates (None where none was read)."""
    rates = [getattr(w, name) for w in windows if w is not None]
    rates = [r for r in rates if r]
    return statistics.mean(rates) if rates else None


def _window_dict(window: Window | None) -> dict[str, Any] | None:
    return None if window is None else dataclasses.asdict(window)


def _calibration(data: dict[str, Any]) -> Calibration:
    def window(x: dict[str, Any] | None) -> Window | None:
        return None if x is None else Window(**x)

    return Calibration(
        predicted_s=dict(data.get("predicted_s", {})),
        cpu_share=data.get("cpu_share"),
        reference_before=window(data.get("reference_before")),
        reference_after=window(data.get("reference_after")),
        date=data.get("date", ""),
        index=data.get("index", 0),
        problem=data.get("problem", ""),
        note=data.get("note", ""),
    )


# ---------------------------------------------------------------- the loop


class CheckMachine(Protocol):
    """What the check needs from the machine (validation gives the real one)."""

    def calibrate(self, index: int) -> Calibration:
        """Calibrate the host profile (the first may come from the cache) and predict every
        stage on it."""
        ...

    def reference(self) -> Window:
        """Run the reference kernel once."""
        ...

    def run_stage(self, name: str) -> Window:
        """Time one keyframe's calls of stage ``name``."""
        ...

    def settle(self) -> None:
        """Before a retry round: wait (bounded) for the other processes to calm down."""
        ...

    def warm_up(self, name: str) -> None:
        """Run stage ``name`` once, untimed (its first run after a calibration)."""
        ...


def _busy(window: Window | None, plan: CheckPlan) -> bool:
    """The process got less than ``busy_share`` of its threads' CPU time and other
    processes took at least half of what it lacked (where ``/proc/stat`` says: a low share
    with the CPUs idle is the process's own serial work, e.g. small kernels on many cores),
    or the hypervisor stole more than ``1 - busy_share``."""
    if window is None:
        return False
    share, others = window.cpu_share, window.others_cpu_share
    low = share is not None and share < plan.busy_share
    if low and others is not None:
        low = others >= 0.5 * (1.0 - share)
    stolen = window.steal_share is not None and window.steal_share > 1.0 - plan.busy_share
    return low or stolen


def _got(window: Window) -> float | None:
    """The share of its CPU the process really got: its own share, less what the
    hypervisor stole."""
    share, steal = window.cpu_share, window.steal_share
    if share is None or steal is None:
        return share if steal is None else 1.0 - steal
    return min(share, 1.0 - steal)


def drift_pct(rate: float | None, reference: float | None) -> float | None:
    """How far ``rate`` is from ``reference``, in percent (None where either is unknown)."""
    if not rate or not reference:
        return None
    return 100.0 * (rate - reference) / reference


def worst_move(values: Sequence[float | None]) -> float | None:
    """The value furthest from 0 (None where none is known)."""
    known = [v for v in values if v is not None]
    return max(known, key=abs) if known else None


def judge_calibration(cal: Calibration, index: int, plan: CheckPlan) -> Calibration:
    """``cal`` with its index and problem: busy when its matmul or either reference reading
    ran below ``busy_share``; drifting when the matmul reference after it ran more than
    ``drift_pct`` from the one before. The streaming kernel's two readings are not judged
    here: one reading against one scatters by about the threshold itself (see
    :func:`stream_drift_pct`); their mean is the base every stage's pair is held against."""
    before, after = cal.reference_before, cal.reference_after
    problem, note = "", ""
    low = cal.lowest_cpu_share
    matmul_low = cal.cpu_share is not None and cal.cpu_share < plan.busy_share
    if matmul_low or _busy(before, plan) or _busy(after, plan):
        got = "CPU time stolen" if low is None else f"the process got {low:.0%} of its CPU"
        problem, note = BUSY, f"calibrated while busy ({got})"
    else:
        drift = drift_pct(after.ops_per_s if after else None, before.ops_per_s if before else None)
        if drift is not None and abs(drift) > plan.drift_pct:
            problem = DRIFTING
            note = f"the reference kernel moved {drift:+.0f}% during calibration"
    return dataclasses.replace(cal, index=index, problem=problem, note=note)


def stream_drift_pct(before: Window, after: Window, cal: Calibration) -> float | None:
    """The streaming reference kernel around a stage against calibration's, in percent: the
    mean of the readings before and after it against the mean of calibration's two. Means,
    not the worst reading: its 0.2 s readings scatter more than the matmul's (back to back on
    the AMD EPYC VM here, 2026-12-02: a median move of 11% against the matmul's 2%), while a
    stage of a second or more sees the memory's speed averaged over its run."""
    return drift_pct(_mean_rate((before, after), "stream_ops_per_s"), cal.stream_ops_per_s)


def judge_sample(
    round_: int, window: Window, before: Window, after: Window, cal: Calibration, plan: CheckPlan
) -> StageSample:
    """One stage measurement, judged: busy (the stage or a reference kernel beside it got
    less than ``busy_share`` of the CPU, or the hypervisor stole the rest), drifting (the
    matmul reference beside it more than ``drift_pct`` from calibration's, or from each other
    where calibration has none; or the streaming one, :func:`stream_drift_pct`), or the
    calibration's own problem; else clean."""
    base = cal.reference_ops_per_s
    if base:
        drift = worst_move([drift_pct(w.ops_per_s, base) for w in (before, after)])
    else:
        drift = drift_pct(after.ops_per_s, before.ops_per_s)
    stream = stream_drift_pct(before, after, cal)
    problem, note, busy_share = "", "", None
    if _busy(window, plan) or _busy(before, plan) or _busy(after, plan):
        shares = [_got(w) for w in (window, before, after) if _got(w) is not None]
        problem, busy_share = BUSY, min(shares) if shares else None
        note = f"the process got {min(shares):.0%} of its CPU" if shares else "busy"
    elif drift is not None and abs(drift) > plan.drift_pct:
        problem, note = DRIFTING, f"reference kernel {drift:+.0f}% from calibration"
    elif stream is not None and abs(stream) > plan.drift_pct:
        problem, note = DRIFTING, f"{STREAM} {stream:+.0f}% from calibration"
    elif cal.problem:
        problem, note = cal.problem, f"calibration {cal.index}: {cal.note}"
        busy_share = cal.lowest_cpu_share if cal.problem == BUSY else None
    return StageSample(
        round=round_,
        calibration=cal.index,
        measured_s=window.seconds,
        cpu_share=window.cpu_share,
        others_cpu_share=window.others_cpu_share,
        steal_share=window.steal_share,
        reference_drift_pct=drift,
        problem=problem,
        note=note,
        busy_cpu_share=busy_share,
        stream_drift_pct=stream,
    )


def _clean_epoch(samples: Sequence[StageSample], plan: CheckPlan) -> int | None:
    """The latest calibration with at least ``min_clean`` clean samples of a stage."""
    counts: dict[int, int] = {}
    for s in samples:
        if s.clean:
            counts[s.calibration] = counts.get(s.calibration, 0) + 1
    enough = [c for c, n in counts.items() if n >= plan.min_clean]
    return max(enough) if enough else None


def _calibrate(machine: CheckMachine, plan: CheckPlan, cals: list[Calibration], limit: int) -> None:
    """One calibration, then more while it was disturbed, ``limit`` in all so far; every
    recalibration after a bounded wait for the other processes to calm down."""
    while True:
        index = len(cals)
        if index:
            machine.settle()
        cals.append(judge_calibration(machine.calibrate(index), index, plan))
        log.info("calibration %d: %s", index, cals[-1].problem or "clean")
        if not cals[-1].problem or len(cals) >= limit:
            return


def run_check(
    machine: CheckMachine, stages: Sequence[str], plan: CheckPlan
) -> tuple[list[Calibration], dict[str, list[StageSample]]]:
    """Calibrate, then rounds of every stage with the reference kernel between them (see the
    module text); returns the calibrations and every stage's samples."""
    # 1. inputs
    plan.check()
    if not stages:
        raise InputError("stages", list(stages), "at least one stage")
    # 2. calibration, 3. rounds, recalibrating when the machine moved
    cals: list[Calibration] = []
    # at the start, one calibration is kept back for after a round (the machine may calm
    # down while the stages are measured)
    _calibrate(machine, plan, cals, max(1, plan.max_calibrations - 1))
    samples: dict[str, list[StageSample]] = {s: [] for s in stages}
    cold = set(stages)  # not run since the last calibration
    for round_ in range(plan.max_rounds):
        todo = [s for s in stages if round_ < plan.rounds or _clean_epoch(samples[s], plan) is None]
        if not todo:
            break
        if round_ >= plan.rounds:
            machine.settle()
        for name in (s for s in todo if s in cold):
            machine.warm_up(name)
        cold -= set(todo)
        moved = False
        before = machine.reference()
        for name in todo:
            window = machine.run_stage(name)
            after = machine.reference()
            sample = judge_sample(round_, window, before, after, cals[-1], plan)
            samples[name].append(sample)
            moved |= sample.problem == DRIFTING
            before = after
        if (moved or cals[-1].problem) and len(cals) < plan.max_calibrations:
            _calibrate(machine, plan, cals, plan.max_calibrations)
            cold = set(stages)
    return cals, samples


# ---------------------------------------------------------------- the verdict


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def stage_check(
    name: str, samples: Sequence[StageSample], cals: Sequence[Calibration], plan: CheckPlan
) -> HostStageCheck:
    """One stage's result from its samples (see the module text)."""
    epoch = _clean_epoch(samples, plan)
    used = [s for s in samples if s.clean and s.calibration == epoch] if epoch is not None else []
    behind = used or list(samples)
    cal = cals[epoch] if epoch is not None else cals[-1]
    predicted = cal.predicted_s.get(name)
    measured = _median([s.measured_s for s in behind])
    clean = sum(s.clean for s in samples)
    if predicted is None:
        status, error, note = NOT_PREDICTED, None, "the model predicts nothing for this stage"
    elif used:
        error = error_pct(predicted, measured)
        ok = error is not None and abs(error) <= plan.target_error_pct
        status = OK if ok else OUTSIDE
        note = f"median of {len(used)} clean samples under calibration {epoch}"
    else:
        problems = [s.problem for s in samples if s.problem]
        # no problem at all: clean samples, but spread over calibrations the machine moved
        # between (fewer than min_clean under any one)
        status = BUSY if problems and problems.count(BUSY) >= problems.count(DRIFTING) else DRIFTING
        error = None
        notes = sorted({s.note for s in samples if s.problem == status}) or [
            f"fewer than {plan.min_clean} clean samples under any one calibration"
        ]
        note = f"not comparable: {clean} clean of {len(samples)} samples; " + "; ".join(notes)
    return HostStageCheck(
        name=name,
        predicted_s=predicted,
        measured_s=measured,
        error_pct=error,
        status=status,
        cpu_share=_median([s.cpu_share for s in behind]),
        others_cpu_share=_median([s.others_cpu_share for s in behind]),
        steal_share=_median([s.steal_share for s in behind]),
        reference_drift_pct=worst_move([s.reference_drift_pct for s in behind]),
        clean_samples=clean,
        calibration=epoch,
        samples=tuple(samples),
        note=note,
        stream_drift_pct=worst_move([s.stream_drift_pct for s in behind]),
    )


def verdict(
    stages: Sequence[HostStageCheck], plan: CheckPlan, not_native: str | None = None
) -> tuple[str, str]:
    """(verdict, headline). A clean stage outside the target is a model error whatever the
    others did; else a busy or drifting stage makes the run not comparable; ``not_native``
    (a dtype this CPU emulates, in words) makes it not checked."""
    target = plan.target_error_pct
    outside = [s for s in stages if s.status == OUTSIDE]
    busy = [s for s in stages if s.status == BUSY]
    drifting = [s for s in stages if s.status == DRIFTING]
    checked = [s for s in stages if s.error_pct is not None]
    if not_native:
        return "not_checked", f"{not_native}: not checked"
    if outside:
        worst = ", ".join(f"{s.name} {s.error_pct:+.0f}%" for s in outside)
        return "fail", f"model error: {worst} (target {target:g}%, clean measurements)"
    if busy:
        share = _median([x.busy_cpu_share for s in busy for x in s.samples if x.problem == BUSY])
        text = "?" if share is None else f"{share:.0%}"
        return BUSY, f"not comparable: machine busy ({text} of CPU)"
    if drifting:
        return DRIFTING, f"not comparable: machine speed drifting ({_worst_drift(drifting)})"
    if not checked:
        return "not_checked", "no model stage could be compared"
    worst = max(checked, key=lambda s: abs(s.error_pct or 0.0))
    return "pass", (
        f"every model stage within {target:g}% (worst: {worst.name} {worst.error_pct:+.0f}%)"
    )


def _worst_drift(stages: Sequence[HostStageCheck]) -> str:
    """The reference kernel that moved furthest from its calibration, in words."""
    matmul = worst_move([s.reference_drift_pct for s in stages])
    stream = worst_move([s.stream_drift_pct for s in stages])
    if stream is not None and (matmul is None or abs(stream) > abs(matmul)):
        return f"{STREAM} {stream:+.0f}% from its calibration"
    text = "?" if matmul is None else f"{matmul:+.0f}%"
    return f"reference kernel {text} from its calibration"


# ---------------------------------------------------------------- files


def save_host_check(check: HostCheck, folder: str | Path) -> Path:
    """Write ``check`` as ``host-check-DATE.json`` and ``host_check.json`` (the latest, what
    ``zoomwatt validate --set host`` and the report read) in ``folder``; returns the dated
    file."""
    text = json.dumps(check.to_dict(), indent=2) + "\n"
    return write_dated_json(folder, "host-check", check.date, text, HOST_CHECK_FILE)


def load_host_check(path: str | Path) -> HostCheck:
    """A host check written by :func:`save_host_check`: a file, or a folder (its
    ``host_check.json``)."""
    data, _ = read_saved_json(
        path,
        HOST_CHECK_FILE,
        argument="host check",
        what="a host-check file",
        hint="Run `zoomwatt measure --validate`.",
    )
    return HostCheck.from_dict(data)
