"""A case and the model's prediction of it, for given stack parameters: one prediction through
the model's one road (device parameters -> :func:`~zoomwatt.perfmodel.rollup.rollup`), or a
whole grid of parameter values at once for the fit.

:class:`StackParameters` are what a fit changes in a software stack: one multiplier on the
efficiency of every op class (capped at 1) and one overhead figure, the kernel overhead or, for
eager PyTorch, the host's time to issue a kernel (see :mod:`zoomwatt.perfmodel.roofline`). The
prior, ``StackParameters(stack)``, changes nothing: the profile's own figures.

The grid (:meth:`CaseModel.grid_values`) uses that a stage call's time is
``max(B(m) + k x n, h x n)``: B(m) the sum of its layers' busy times at efficiency multiplier m
(one batched :func:`~zoomwatt.perfmodel.roofline.layer_costs` call over every m), n its launched
kernels, k the kernel overhead and h the host issue time; so only m needs the layers, and the
overhead axis is arithmetic. A test holds it to the one-prediction road.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from zoomwatt.evidence.cases import (
    LATENCY_KINDS,
    CaseSetup,
    NotPredictable,
    case_setup,
    energy_value,
    figure_value,
)
from zoomwatt.evidence.published import PublishedFigure
from zoomwatt.hardware.quantity import make_quantity
from zoomwatt.perfmodel.device_params import DeviceParams, device_params
from zoomwatt.perfmodel.layer_table import LayerTable, build_layer_table
from zoomwatt.perfmodel.results import Prediction
from zoomwatt.perfmodel.rollup import PredictOptions, rollup
from zoomwatt.perfmodel.roofline import fused_layers, layer_costs
from zoomwatt.workload.spec import WorkloadSpec

#: Efficiency multipliers the fit tries: 1.02^i from 1/8 to 8 (4 significant digits; 1 exact).
MULTIPLIERS = tuple(sorted({float(f"{1.02**i:.4g}") for i in range(-105, 106)}))
#: Overheads the fit tries, in us: 0, then 0.25 x 1.05^j up to about 190 us.
OVERHEADS_US = (0.0, *sorted({float(f"{0.25 * 1.05**j:.4g}") for j in range(137)}))
#: The overhead figure each stack fits (the others: ``kernel_overhead``): eager PyTorch's
#: per-op cost is the host's (Python and dispatch, overlapped with the device's work).
OVERHEAD_FIGURE = {"eager": "host_issue"}


@dataclass(frozen=True)
class StackParameters:
    """A stack's fitted figures; None and 1 leave the profile's (the prior)."""

    stack: str
    efficiency_multiplier: float = 1.0  # on every op class's efficiency, capped at 1
    kernel_overhead_us: float | None = None  # None: the profile's
    host_issue_us: float | None = None  # None: the stack's (0 unless it gives one)

    @property
    def is_prior(self) -> bool:
        return (
            self.efficiency_multiplier == 1.0
            and self.kernel_overhead_us is None
            and self.host_issue_us is None
        )

    def apply(self, params: DeviceParams) -> DeviceParams:
        """``params`` (the profile's, ``fitted=False``) with these figures."""
        changes: dict[str, object] = {}
        if self.efficiency_multiplier != 1.0:
            eff = np.asarray(params.efficiency, dtype=float)
            changes["efficiency"] = np.minimum(eff * self.efficiency_multiplier, 1.0)
        if self.kernel_overhead_us is not None:
            changes["kernel_overhead_s"] = make_quantity(self.kernel_overhead_us, "us").si
        if self.host_issue_us is not None:
            changes["host_issue_s"] = make_quantity(self.host_issue_us, "us").si
        return params.replace(**changes) if changes else params

    def with_grid_point(self, i: int, j: int) -> StackParameters:
        """The parameters at grid point (MULTIPLIERS[i], OVERHEADS_US[j]) of this stack."""
        figure = OVERHEAD_FIGURE.get(self.stack, "kernel_overhead")
        return StackParameters(self.stack, MULTIPLIERS[i], **{f"{figure}_us": OVERHEADS_US[j]})


@dataclass(frozen=True)
class CaseModel:
    """One predictable case and the layers of its workload."""

    setup: CaseSetup
    table: LayerTable

    @property
    def figure(self) -> PublishedFigure:
        return self.setup.figure

    @property
    def is_latency(self) -> bool:
        return self.figure.timed in LATENCY_KINDS

    @cached_property
    def base_params(self) -> DeviceParams:
        """The profile's own figures for the case's stack (no fitted ones)."""
        setup = self.setup
        return device_params(
            setup.profile, stack=setup.stack, fitted=False, tf32_matmul=setup.tf32_matmul
        )

    def prediction(self, parameters: StackParameters) -> Prediction:
        """The model's prediction of the case's workload with ``parameters``."""
        params = parameters.apply(self.base_params)
        options = PredictOptions(frames_per_keyframe=1, stack=self.setup.stack)
        return rollup(self.table, self.setup.profile, params, options)

    def value(self, parameters: StackParameters) -> float:
        """The predicted figure, in the SI unit of its kind."""
        p = self.prediction(parameters)
        model = [s for s in p.per_stage if not s.per_frame]
        if not self.is_latency:
            energy = sum(s.energy_j for s in model)
            return energy_value(self.figure, energy, p.keyframe_latency_s)
        per_call = {s.name: s.latency_per_call_s for s in model}
        calls = {s.name: s.calls_per_keyframe for s in model}
        return float(figure_value(self.figure, per_call, calls, self.setup.spec.batch))

    def grid_values(self) -> np.ndarray:
        """The predicted figure (SI) at every grid point of the case's stack: an array
        (len(MULTIPLIERS), len(OVERHEADS_US)); latency kinds only."""
        base, table = self.base_params, self.table
        multipliers = np.asarray(MULTIPLIERS)[:, None]
        eff = np.minimum(np.asarray(base.efficiency)[None, :] * multipliers, 1.0)
        zero = np.zeros((len(MULTIPLIERS), 1))
        costs = layer_costs(
            table, base.replace(efficiency=eff, kernel_overhead_s=zero, host_issue_s=0.0)
        )
        one_hot = (table.stage_index[:, None] == np.arange(table.n_stages)).astype(float)
        fused = fused_layers(
            table, elementwise_fused=base.elementwise_fused, pointwise_chains=base.pointwise_chains
        )
        kernels = (table.is_kernel & ~fused).astype(float) @ one_hot  # (S,)
        busy = costs.time_s @ one_hot  # (M, S)
        x = np.asarray([make_quantity(v, "us").si for v in OVERHEADS_US])[None, :, None]
        overhead_is_host = OVERHEAD_FIGURE.get(self.setup.stack) == "host_issue"
        k = float(base.kernel_overhead_s) if overhead_is_host else x
        h = x if overhead_is_host else float(base.host_issue_s)
        per_call = np.maximum(busy[:, None, :] + k * kernels, h * kernels)  # (M, X, S)
        stages = [s for s in table.stages if not s.per_frame]
        index = {s.name: i for i, s in enumerate(table.stages)}
        per_call_s = {s.name: per_call[..., index[s.name]] for s in stages}
        calls = {s.name: s.calls_per_keyframe for s in stages}
        return figure_value(self.figure, per_call_s, calls, self.setup.spec.batch)


def error_pct(predicted: float, published: float) -> float:
    """(predicted - published) / published in percent: positive, the model predicts more
    (a longer time, a higher rate, more energy)."""
    return 100.0 * (predicted - published) / published


def log_ratio(predicted: float, published: float) -> float:
    """|ln(predicted / published)|: the symmetric error the fit minimizes (2x either way is
    ln 2)."""
    return abs(math.log(predicted / published))


def case_models(
    figures: Sequence[PublishedFigure], *, cache: bool = True
) -> tuple[list[CaseModel], list[NotPredictable]]:
    """Every figure as a case the model predicts, or as one it cannot (with the reason), in
    the figures' order; each workload is characterized once (from the workload cache on disk
    when ``cache``) and its layer table built once."""
    from zoomwatt.hardware import load_profile
    from zoomwatt.perfmodel.workload_adapter import load_workload

    profiles = {name: load_profile(name) for name in sorted({f.device for f in figures})}
    tables: dict[WorkloadSpec, LayerTable] = {}
    models: list[CaseModel] = []
    unpredictable: list[NotPredictable] = []
    for figure in figures:
        setup = case_setup(figure, profiles)
        if isinstance(setup, NotPredictable):
            unpredictable.append(setup)
            continue
        if setup.spec not in tables:
            tables[setup.spec] = build_layer_table(load_workload(setup.spec, cache=cache).stages)
        models.append(CaseModel(setup, tables[setup.spec]))
    return models, unpredictable
