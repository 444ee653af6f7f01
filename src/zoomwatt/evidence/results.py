"""Result objects of ``zoomwatt validate``; field names carry their units.

A :class:`CaseResult` is one published figure held against the model: held out (the headline:
no figure fitted to its own device went into it), in-sample and with the profiles' own figures
(the prior), or the reason it cannot be predicted. :class:`ErrorSummary` gives the median, 80th
percentile and worst absolute error of a group of cases; :class:`ValidationResult` is the whole
command.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The targets' thresholds: a case "within" is |error| <= this; "beyond 2x" is off by more
#: than a factor 2 either way.
WITHIN_PCT = 35.0
FACTOR_LIMIT = 2.0


@dataclass(frozen=True)
class CaseResult:
    """One published figure against the model; values in the figure's published ``unit``."""

    id: str
    device: str
    device_class: str
    pipeline: str
    stack: str
    timed: str  # the kind of figure (published.TIMED_UNITS)
    group: str  # "latency" or "energy"
    unit: str
    published: float
    predicted: float | None  # held out; None where not predictable
    error_pct: float | None  # (predicted - published) / published, held out
    held_out: bool | None  # True: the prediction used no figure fitted to this device
    in_sample_predicted: float | None = None
    in_sample_error_pct: float | None = None
    prior_predicted: float | None = None  # the profile's own figures, nothing fitted
    prior_error_pct: float | None = None
    assumptions: tuple[str, ...] = ()
    reason: str | None = None  # why the model cannot predict it
    source: str = ""

    @property
    def predictable(self) -> bool:
        return self.reason is None

    @property
    def ratio(self) -> float | None:
        """predicted / published, held out."""
        return None if self.predicted is None else self.predicted / self.published

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["assumptions"] = list(self.assumptions)
        return data | {"predictable": self.predictable}


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile, linear between the closest ranks (numpy's default)."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


@dataclass(frozen=True)
class ErrorSummary:
    """Absolute errors of a group of predicted cases (None fields where it has none)."""

    cases: int
    median_abs_error_pct: float | None
    p80_abs_error_pct: float | None
    worst_abs_error_pct: float | None
    within_35_pct_share: float | None  # share of cases with |error| <= 35 %
    beyond_2x_cases: int  # cases off by more than 2x either way

    @staticmethod
    def of(errors_pct: Sequence[float]) -> ErrorSummary:
        """From the signed errors in percent."""
        if not errors_pct:
            return ErrorSummary(0, None, None, None, None, 0)
        absolute = [abs(e) for e in errors_pct]
        ratios = [1.0 + e / 100.0 for e in errors_pct]
        beyond = sum(1 for r in ratios if r <= 0 or max(r, 1.0 / r) > FACTOR_LIMIT)
        return ErrorSummary(
            cases=len(absolute),
            median_abs_error_pct=percentile(absolute, 50),
            p80_abs_error_pct=percentile(absolute, 80),
            worst_abs_error_pct=max(absolute),
            within_35_pct_share=sum(1 for a in absolute if a <= WITHIN_PCT) / len(absolute),
            beyond_2x_cases=beyond,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Target:
    """One target of the issue, on the held-out published set."""

    name: str  # "latency median |error|"
    value: float | None  # what was measured (percent or share)
    threshold: float
    unit: str  # "%" or "share" or "cases"
    met: bool
    caveat: str = ""  # what the figure does not show, e.g. a rule chosen with the data in view

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StackFitSummary:
    """One software stack's fit: what was fitted, and whether it is used."""

    stack: str
    devices: tuple[str, ...]
    figures: int  # latency figures of the stack
    fitted: bool  # figures fitted and shipped (they beat the prior held out)
    efficiency_multiplier: float | None  # of the fit on every device (None: no fit)
    overhead_figure: str  # kernel_overhead or host_issue
    overhead_us: float | None
    held_out_median_abs_error_pct: float | None  # of the fitted figures, held out
    prior_median_abs_error_pct: float | None  # of the profiles' own figures
    # what decides whether the fit is used: mean over devices of the mean |ln(pred/pub)|
    held_out_mean_log_error: float | None
    prior_mean_log_error: float
    note: str

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["devices"] = list(self.devices)
        return data


@dataclass(frozen=True)
class HostCheck:
    """The last recorded ``zoomwatt measure --validate`` run, or why there is none."""

    recorded: bool
    message: str  # one line: the result, or how to get one
    path: str | None = None
    device: str | None = None
    date: str | None = None
    worst_error_pct: float | None = None
    target_error_pct: float | None = None
    within_target: bool | None = None
    stages: tuple[
        dict[str, Any], ...
    ] = ()  # name, predicted_latency_s, measured_latency_s, error_pct
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stages"] = list(self.stages)
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class ValidationResult:
    """Everything ``zoomwatt validate`` shows."""

    set: str  # published, host or all
    cases: tuple[CaseResult, ...] = ()
    # mode (held_out, in_sample, prior) -> group (latency, energy) -> class or "all" -> summary
    summary: dict[str, dict[str, dict[str, ErrorSummary]]] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    stacks: tuple[StackFitSummary, ...] = ()
    host_check: HostCheck | None = None
    shipped_fit_up_to_date: bool | None = None  # the shipped fitted files equal a fresh fit
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        summary = {
            mode: {g: {k: s.to_dict() for k, s in by.items()} for g, by in groups.items()}
            for mode, groups in self.summary.items()
        }
        return {
            "set": self.set,
            "cases": [c.to_dict() for c in self.cases],
            "summary": summary,
            "targets": [t.to_dict() for t in self.targets],
            "stacks": [s.to_dict() for s in self.stacks],
            "host_check": None if self.host_check is None else self.host_check.to_dict(),
            "shipped_fit_up_to_date": self.shipped_fit_up_to_date,
            "seconds": self.seconds,
        }
