"""The search: baseline equals ``zoomwatt predict``, fronts and targets, speed, JSON."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from zoomwatt.errors import InputError
from zoomwatt.optimizer import OptimizeOptions, SearchSpace, explore
from zoomwatt.optimizer.search import pareto_indices


def test_pareto_by_hand():
    fps = np.array([1.0, 2.0, 2.0, 3.0, -np.inf])
    power = np.array([5.0, 4.0, 6.0, 7.0, 1.0])
    # (1, 5) is beaten by (2, 4); (2, 6) by (2, 4); (3, 7) is fastest; the last is ineligible
    assert pareto_indices(fps, power) == [1, 3]
    # with give-ups [0, 2, 0, 2, 0]: (1, 5) and (2, 6) have 0 give-ups and nothing with 0 beats
    # them on both; (2, 4) is kept at 2; (3, 7) too
    gu = np.array([0, 2, 0, 2, 0])
    assert pareto_indices(fps, power, gu) == [0, 2, 1, 3]


def test_baseline_is_zoomwatt_predict(orin_result):
    from zoomwatt.hardware import load_profile
    from zoomwatt.perfmodel import PredictOptions, predict, stages_from_workload
    from zoomwatt.workload import characterize

    p = predict(
        stages_from_workload(characterize()),
        load_profile("jetson-orin-nano"),
        PredictOptions(frames_per_keyframe=30, target_fps=30.0),
    )
    b = orin_result.baseline
    assert b.label == "baseline"
    assert b.error_db is None
    assert b.output_fps == pytest.approx(p.output_fps, rel=1e-9)
    assert b.avg_power_w == pytest.approx(p.avg_power_w, rel=1e-9)
    assert b.energy_per_frame_j == pytest.approx(p.energy_per_frame_j, rel=1e-9)
    assert b.keyframe_latency_s == pytest.approx(p.keyframe_latency_s, rel=1e-9)
    assert b.fps_per_watt == pytest.approx(p.fps_per_watt, rel=1e-9)


def test_front_and_answers(orin_result):
    r = orin_result
    assert r.hardware == "jetson-orin-nano"
    assert r.candidates_evaluated > 1000
    fps = [c.output_fps for c in r.pareto]
    assert fps == sorted(fps)
    assert not r.baseline.meets_targets  # 3.2 fps on the board
    assert r.best is not None and r.best.meets_targets
    assert r.best.output_fps >= 30
    assert r.least_change is not None and r.least_change.meets_targets
    assert len(r.least_change.give_ups) <= len(r.best.give_ups)
    assert r.best.avg_power_w <= r.least_change.avg_power_w
    # no point on the front beats the cheapest at 30 fps on power while meeting the target
    assert all(c.avg_power_w >= r.best.avg_power_w - 1e-12 for c in r.pareto if c.meets_targets)


def test_to_dict_is_json(orin_result):
    data = json.loads(json.dumps(orin_result.to_dict()))
    assert data["baseline"]["label"] == "baseline"
    assert {"offchip", "frequency"} <= set(data["studies"])
    assert data["error_source"]["model"]


def test_limits_are_respected():
    small = SearchSpace(
        resolution_px=(512,), cfg=(True,), vae=("default",), steps=(10, 20), every=(30, 120)
    )
    r = explore(
        "jetson-orin-nano",
        OptimizeOptions(
            target_fps=5.0, power_cap_w=9.0, max_error_db=-25.0, space=small, studies=False
        ),
    )
    assert r.best is not None
    assert r.best.avg_power_w <= 9.0 and r.best.output_fps >= 5.0
    for c in [r.best, *r.pareto]:
        assert c.error_db is None or c.error_db <= -25.0
    # 2 x 5 x 3 x 2 compressions (less share4 on int4) x 3 points x 2 modes x 2 x 2
    assert r.candidates_evaluated == (5 * 3 * 2 - 2 * 3) * 3 * 2 * 2 * 2


def test_fast_once_traced(orin_result):
    start = time.perf_counter()
    explore("jetson-orin-nano", OptimizeOptions(studies=False))
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        (OptimizeOptions(target_fps=0), "target_fps"),
        (OptimizeOptions(max_error_db=30), "max_error_db"),
        (OptimizeOptions(power_cap_w=-1), "power_cap_w"),
        (OptimizeOptions(space=SearchSpace(steps=())), "space.steps"),
    ],
)
def test_bad_options(options, argument):
    with pytest.raises(InputError, match=argument):
        explore("jetson-orin-nano", options)


# --- the stack axis -----------------------------------------------------------------------------

ONE_WORKLOAD = SearchSpace(
    resolution_px=(512,),
    cfg=(True,),
    vae=("default",),
    quant=("fp16",),
    sparsity=("dense",),
    share_bits=(0,),
    layerwise_frequency=(False,),
    steps=(20,),
    every=(30,),
)


def test_each_stack_is_zoomwatt_predict_on_that_stack():
    """Every stack of the A100 profile at the baseline workload: the search's figures are
    `zoomwatt predict --stack NAME`'s (the same roll-up on the same parameters: 1e-9)."""
    from zoomwatt.hardware import load_profile
    from zoomwatt.optimizer.plan import make_plan
    from zoomwatt.perfmodel import PredictOptions, predict, stages_from_workload
    from zoomwatt.workload import characterize

    r = explore(
        "nvidia-a100-sxm4-80gb",
        OptimizeOptions(target_fps=1.0, space=ONE_WORKLOAD, studies=False),
    )
    assert r.space["stack"] == ["eager", "compile"]  # the baseline's first
    assert r.candidates_evaluated == 2  # 2 stacks x 1 operating point x 1 workload
    assert r.baseline.knobs["stack"] == "eager"
    stages = stages_from_workload(characterize())
    profile = load_profile("nvidia-a100-sxm4-80gb")
    for c in (r.baseline, *r.pareto):
        options = PredictOptions(frames_per_keyframe=30, target_fps=1.0, stack=c.knobs["stack"])
        p = predict(stages, profile, options)
        assert c.keyframe_latency_s == pytest.approx(p.keyframe_latency_s, rel=1e-9)
        assert c.avg_power_w == pytest.approx(p.avg_power_w, rel=1e-9)
    fastest = r.fastest
    assert fastest.knobs["stack"] != "eager"  # compiled graphs beat eager launches
    assert fastest.give_ups == ()  # a stack changes no picture knob
    plan = make_plan(r, "fastest")
    assert plan.stack == fastest.knobs["stack"]
    assert [lv.name for lv in plan.levers] == [fastest.knobs["stack"]]


def test_stack_applies_follows_the_levers_exclusions():
    from zoomwatt.optimizer.search import stack_applies

    assert not stack_applies("openvino", "w8a8", "dense", 0)  # torch's dynamic int8 modules
    assert stack_applies("openvino", "w8a16", "dense", 0)  # NNCF's: the nncf-int8 lever
    assert not stack_applies("openvino", "w4a16", "dense", 0)  # torch's int4: excluded
    assert stack_applies("openvino", "fp16", "dense", 0)
    assert stack_applies("compile", "w8a8", "dense", 0)  # torchao + compile go together
    assert stack_applies("eager", "w8a8", "2:4", 4)


def test_openvino_stack_has_no_point_with_torch_int8():
    """A profile with an OpenVINO stack (the host's once calibrated): its dynamic int8 points
    exist on eager only; its weight-only int8 is NNCF's (the nncf-int8 lever)."""
    import dataclasses

    from zoomwatt.hardware import load_profile
    from zoomwatt.hardware.schema import SoftwareStack

    base = load_profile("jetson-orin-nano")
    profile = dataclasses.replace(
        base, stacks={**base.stacks, "openvino": SoftwareStack("openvino")}
    )
    space = dataclasses.replace(ONE_WORKLOAD, quant=("fp16", "w8a8", "w8a16"))
    r = explore(profile, OptimizeOptions(target_fps=1.0, space=space, studies=False))
    assert r.space["stack"] == ["eager", "openvino"]
    points = len(r.space["operating_point"])
    # eager: 3 quantizations; openvino: fp16 and w8a16 (nncf-int8) -> 5 per operating point
    assert r.candidates_evaluated == 5 * points
    for c in (r.baseline, *r.pareto, r.fastest):
        assert c.knobs["stack"] == "eager" or c.knobs["quant"] in ("fp16", "w8a16")


def test_openvino_weight_only_int8_is_one_lever_in_a_plan():
    from zoomwatt.optimizer.plan import levers_of

    base = {"resolution_px": 512, "cfg": True, "vae": "default", "steps": 20, "every": 30,
            "quant": "fp16", "sparsity": "dense", "share_bits": 0, "stack": "eager",
            "operating_point": "nominal", "layerwise_frequency": False}  # fmt: skip
    knobs = {**base, "quant": "w8a16", "stack": "openvino"}
    assert [lv.text() for lv in levers_of(knobs, base)] == ["nncf-int8"]
    knobs = {**base, "quant": "w8a16"}  # eager: torch's weight-only int8
    assert [lv.text() for lv in levers_of(knobs, base)] == ["int8-weight"]
    knobs = {**base, "stack": "openvino"}
    assert [lv.text() for lv in levers_of(knobs, base)] == ["openvino"]


def test_unknown_stack_names_the_profiles():
    with pytest.raises(InputError, match=r"space\.stack.*eager"):
        explore(
            "jetson-orin-nano",
            OptimizeOptions(space=SearchSpace(stack=("openvino",)), studies=False),
        )
