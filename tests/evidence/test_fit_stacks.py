"""The stacks' fit: the grid is the one-prediction road, the fit is a deterministic grid search
weighing each device the same, leave-one-device-out really leaves the device out, and the
shipped fitted figures are a fresh fit (and what `zoomwatt predict` uses)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from zoomwatt.evidence import load_published
from zoomwatt.evidence.case_model import (
    MULTIPLIERS,
    OVERHEADS_US,
    CaseModel,
    StackParameters,
    case_models,
)
from zoomwatt.evidence.cases import figure_value
from zoomwatt.evidence.fit_stacks import MIN_DEVICES, fit_stack, fit_stacks
from zoomwatt.hardware import load_profile
from zoomwatt.perfmodel import DeviceOptions, predict_workload

FIGURES = {f.id: f for f in load_published()}


def models_of(ids):
    models, _ = case_models([FIGURES[i] for i in ids])
    return {m.figure.id: m for m in models}


@pytest.mark.parametrize(
    ("figure_id", "points"),
    [
        ("D1", [(105, 0), (90, 60), (120, 130)]),  # eager: host issue 0, ~4.4 us, ~150 us
        ("D5b", [(105, 0), (80, 40)]),  # compile: kernel overhead
        ("A13", [(105, 70), (130, 10)]),  # coreml, end to end
        ("Q3", [(60, 100)]),  # qnn, one text encoder call
    ],
)
def test_the_grid_is_the_one_prediction_road(figure_id, points):
    (model,) = models_of([figure_id]).values()
    grid = model.grid_values()
    assert grid.shape == (len(MULTIPLIERS), len(OVERHEADS_US))
    for i, j in points:
        params = StackParameters(model.setup.stack).with_grid_point(i, j)
        # the same layer sums in another order (one-hot matmul vs bincount): last bits only
        assert grid[i, j] == pytest.approx(model.value(params), rel=1e-9)


def test_grid_points_and_the_prior():
    assert MULTIPLIERS[105] == 1.0 and OVERHEADS_US[0] == 0.0
    assert StackParameters("eager").with_grid_point(105, 0) == StackParameters(
        "eager", 1.0, None, 0.0
    )
    assert StackParameters("qnn").with_grid_point(106, 1).kernel_overhead_us == 0.25
    assert StackParameters("qnn").is_prior and not StackParameters("qnn", 1.02).is_prior


def stand_in(figure_id, device):
    return SimpleNamespace(figure=SimpleNamespace(id=figure_id, device=device))


def test_each_device_weighs_the_same_and_one_device_is_not_fitted():
    shape = (len(MULTIPLIERS), len(OVERHEADS_US))

    def bowl(i, j):  # |error| growing away from the grid point (i, j)
        ii, jj = np.indices(shape)
        return np.abs(ii - i) + np.abs(jj - j) + 0.0

    # device a: three figures wanting (100, 10); b and c one each wanting (110, 20)
    errors = {"a1": bowl(100, 10), "a2": bowl(100, 10), "a3": bowl(100, 10),
              "b1": bowl(110, 20), "c1": bowl(110, 20)}  # fmt: skip
    cases = [stand_in("a1", "a"), stand_in("a2", "a"), stand_in("a3", "a"),
             stand_in("b1", "b"), stand_in("c1", "c")]  # fmt: skip
    priors = dict.fromkeys(errors, 50.0)
    fit = fit_stack("qnn", cases, errors, priors)
    # per device means: a at (110, 20) is 20 away, b and c 0: 2 of 3 devices win (110, 20)
    assert fit.fitted == StackParameters("qnn").with_grid_point(110, 20)
    # a held out: b and c alone; b held out: a and c tie everywhere on the segment, first wins
    assert fit.held_out_fits["a"] == StackParameters("qnn").with_grid_point(110, 20)
    assert fit.applied and fit.held_out("a") == fit.held_out_fits["a"]
    single = fit_stack("qnn", cases[:3], errors, priors)
    assert MIN_DEVICES == 2 and single.fitted is None and not single.applied
    assert single.held_out("a") == StackParameters("qnn") == single.in_sample


QNN = [i for i, f in FIGURES.items() if f.stack == "qnn"]


def test_leave_one_device_out_leaves_the_device_out():
    models = models_of(QNN)
    first = fit_stacks(list(models.values())).stacks["qnn"]

    # change every published figure of the 8 Gen 2 (x3): its held-out fit and predictions stay
    def tripled(m):
        figure = dataclasses.replace(m.figure, value=3 * m.figure.value)
        return CaseModel(dataclasses.replace(m.setup, figure=figure), m.table)

    moved = {
        i: tripled(m) if m.figure.device == "snapdragon-8gen2" else m for i, m in models.items()
    }
    second = fit_stacks(list(moved.values())).stacks["qnn"]
    device = "snapdragon-8gen2"
    assert second.held_out_fits[device] == first.held_out_fits[device]
    for i, m in moved.items():
        if m.figure.device == device:
            assert m.value(second.held_out_fits[device]) == models[i].value(
                first.held_out_fits[device]
            )
    # while the fits that saw it move: on every device, and the other devices' held-out ones
    assert second.fitted != first.fitted
    assert second.held_out_fits["snapdragon-8gen3"] != first.held_out_fits["snapdragon-8gen3"]


@pytest.fixture(scope="module")
def run():
    from zoomwatt.evidence.validate import published_run

    return published_run()


def test_the_shipped_fitted_files_are_a_fresh_fit(run):
    from zoomwatt.evidence import shipped_files
    from zoomwatt.evidence.validate import summarize

    fresh = shipped_files.texts_of(run, summarize(run.cases))
    assert shipped_files.stale(fresh) == []  # else: python -m zoomwatt.evidence.fit_stacks --write


def test_predict_uses_the_shipped_fit_as_validate_does_in_sample(run):
    cases = {c.id: c for c in run.cases}
    for model in run.models:
        if model.figure.id not in ("A5", "A7b", "Q4", "Q20", "D1"):
            continue
        spec, stack = model.setup.spec, model.setup.stack
        (p,) = predict_workload(
            spec, [load_profile(model.figure.device)], DeviceOptions(stack=stack)
        )
        stages = [s for s in p.per_stage if not s.per_frame]
        per_call = {s.name: s.latency_per_call_s for s in stages}
        value = figure_value(
            model.figure, per_call, {s.name: s.calls_per_keyframe for s in stages}, spec.batch
        )
        in_unit = value / (model.figure.value_si / model.figure.value)
        # the same figures through the same road (fitted file values are the fit's floats)
        assert in_unit == pytest.approx(cases[model.figure.id].in_sample_predicted, rel=1e-12)
