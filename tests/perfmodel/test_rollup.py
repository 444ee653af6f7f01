"""Roll-up to keyframe latency, output fps, power, energy per frame, FPS/W, battery and memory,
against hand-computed numbers on the toy device (see test_roofline.py for the per-layer ones):

  model stage m: one conv, 4.001e-3 s and 5.103e-3 J per call, 10 calls per keyframe
  frame stage f: one elementwise op, 5.1e-5 s and 5.575e-4 J per call, 10 calls (N = 10)
"""

from __future__ import annotations

import pytest
from perf_helpers import layer, sd_like_stages, toy_profile

from zoomwatt.errors import InputError
from zoomwatt.hardware import load_profile
from zoomwatt.perfmodel import (
    PredictOptions,
    Unsupported,
    make_stage,
    predict,
    predict_many,
)
from zoomwatt.workload.records import OpClass


def toy_stages():
    conv = layer(OpClass.CONV, macs=1e9, weight=1e6, inp=0.5e6, out=0.5e6)
    add = layer(OpClass.ELEMENTWISE, flops=1e6, inp=4e6, out=2e6)
    return [make_stage("m", [conv], 10), make_stage("f", [add], 10, per_frame=True)]


def test_rollup_hand_computed(toy):
    p = predict(toy_stages(), toy, PredictOptions(frames_per_keyframe=10, target_fps=30))
    m, f = p.per_stage
    assert m.latency_per_call_s == pytest.approx(4.001e-3)
    assert m.latency_s == pytest.approx(4.001e-2)  # x 10 calls
    assert m.energy_j == pytest.approx(5.103e-2)
    # f: 5e-7 + 5e-4 + 6e-6 J dynamic + 1 W x 5.1e-5 s = 5.575e-4 J per call
    assert f.energy_per_call_j == pytest.approx(5.575e-4)
    assert (m.bound, f.bound) == ("compute", "memory")
    assert p.keyframe_latency_s == pytest.approx(4.001e-2)
    assert p.frame_work_s == pytest.approx(5.1e-4)
    # 10 / (4.001e-2 + 5.1e-4) = 246.79 fps; overlapped 10 / 4.001e-2 = 249.94
    assert p.output_fps == pytest.approx(10 / 4.052e-2)
    assert p.output_fps_overlapped == pytest.approx(10 / 4.001e-2)
    assert p.realtime and p.delivered_fps == 30
    # smallest N for 30 fps: 30 x 4.001e-2 / (1 - 30 x 5.1e-5) = 1.2021 -> 2
    assert p.min_every_for_target == 2
    # period 1/3 s, idle 1/3 - 4.052e-2 = 0.292813 s at 0.5 W = 0.146407 J
    # busy energy 5.103e-2 + 10 x 5.575e-4 = 5.6605e-2 J -> AI 0.203012 J per period
    assert p.ai_energy_per_frame_j == pytest.approx(0.0203012, rel=1e-5)
    assert p.ai_power_w == pytest.approx(0.609036, rel=1e-5)
    # non-AI 0.5 + 0.25 + 1 + 0.25 = 2 W, shown apart; 2 W / 30 fps = 0.0666667 J per frame
    assert p.non_ai_power_w == pytest.approx(2.0)
    assert p.non_ai_energy_per_frame_j == pytest.approx(2 / 30)
    assert p.avg_power_w == pytest.approx(2.609036, rel=1e-5)
    assert p.energy_per_frame_j == pytest.approx(0.0869679, rel=1e-5)
    assert p.fps_per_watt == pytest.approx(30 / 2.609036, rel=1e-5)
    # battery 10 Wh / 2.609036 W = 3.8328 h
    assert p.battery_hours == pytest.approx(3.8328, rel=1e-4)
    # memory: weights 1e6 + largest activations 6e6 = 7e6 B of 4e9 x 0.5 usable
    assert p.memory_needed_bytes == pytest.approx(7e6)
    assert p.memory_usable_bytes == pytest.approx(2e9)
    assert p.fits_in_memory


def test_below_target_runs_flat_out(toy):
    p = predict(toy_stages(), toy, PredictOptions(frames_per_keyframe=10, target_fps=1000))
    assert not p.realtime
    assert p.delivered_fps == pytest.approx(p.output_fps)
    # no idle time: AI power = 5.6605e-2 J / 4.052e-2 s = 1.39696 W
    assert p.ai_power_w == pytest.approx(1.39696, rel=1e-5)


def test_battery_override_and_no_battery():
    no_battery = toy_profile(battery=None)
    p = predict(toy_stages(), no_battery, PredictOptions(frames_per_keyframe=10))
    assert p.battery_wh is None and p.battery_hours is None
    p = predict(toy_stages(), no_battery, PredictOptions(frames_per_keyframe=10, battery_wh=20))
    assert p.battery_hours == pytest.approx(20 / p.avg_power_w)


def test_does_not_fit_in_memory():
    small = toy_profile(**{"memory.capacity": {"value": 10, "unit": "MB", "estimate": "t"}})
    p = predict(toy_stages(), small, PredictOptions(frames_per_keyframe=10))
    # 7e6 B needed > 10e6 x 0.5 usable
    assert not p.fits_in_memory


def test_unsupported_dtype_on_an_npu():
    npu = load_profile("snapdragon-8gen3")
    (result,) = predict_many(sd_like_stages("fp32"), [npu])
    assert isinstance(result, Unsupported)
    assert "fp32" in result.reason
    with pytest.raises(InputError, match="fp32"):
        predict(sd_like_stages("fp32"), npu)


@pytest.mark.parametrize(
    "options",
    [
        PredictOptions(frames_per_keyframe=0),
        PredictOptions(target_fps=0),
        PredictOptions(battery_wh=-1),
        PredictOptions(non_ai_w={"speaker": 1.0}),
    ],
)
def test_bad_options(toy, options):
    with pytest.raises(InputError):
        predict(toy_stages(), toy, options)


def test_json_fields(toy):
    data = predict(toy_stages(), toy, PredictOptions(frames_per_keyframe=10)).to_dict()
    for key in (
        "per_stage",
        "keyframe_latency_s",
        "output_fps",
        "avg_power_w",
        "energy_per_frame_j",
        "fps_per_watt",
        "battery_hours",
        "fits_in_memory",
        "non_ai_power_w",
    ):
        assert key in data
    assert set(data["per_stage"][0]) >= {"name", "latency_s", "energy_j", "bound"}


def test_roll_up_on_arrays_is_the_roll_up_on_floats():
    """The optimizer's search and ``predict`` share one roll-up: floats and arrays through the
    same code give the same numbers, element by element."""
    import numpy as np

    from zoomwatt.perfmodel import roll_up

    keyframe = np.array([0.01, 0.5, 3.0, 40.0])[:, None]
    frame_work = np.array([0.002, 0.2])[None, :]
    energy = keyframe * 7.0 + frame_work * 3.0
    n = np.array([30.0, 10.0])
    kwargs = {"target_fps": 30.0, "idle_power_w": 1.5, "non_ai_power_w": 2.25}
    grid = roll_up(keyframe, frame_work, energy, frames_per_keyframe=n, **kwargs)
    for i, j in np.ndindex(4, 2):
        one = roll_up(float(keyframe[i, 0]), float(frame_work[0, j]), float(energy[i, j]),
                      frames_per_keyframe=float(n[j]), **kwargs)  # fmt: skip
        for name in ("output_fps", "delivered_fps", "idle_s", "ai_power_w", "avg_power_w",
                     "energy_per_frame_j", "fps_per_watt", "output_fps_overlapped"):  # fmt: skip
            assert getattr(grid, name)[i, j] == getattr(one, name), name
        assert isinstance(one.avg_power_w, float)


def test_predict_workload_is_predict_on_the_characterized_stages():
    from zoomwatt.hardware import load_profile
    from zoomwatt.perfmodel import (
        DeviceOptions,
        PredictOptions,
        load_workload,
        predict,
        predict_workload,
        stages_from_workload,
    )
    from zoomwatt.workload import WorkloadSpec, characterize

    spec = WorkloadSpec(size=128, steps=4, every=12, fps=24.0)
    profile = load_profile("jetson-orin-nano")
    options = DeviceOptions(battery_wh=20.0, non_ai_w={"display": 0.0})
    (road,) = predict_workload(spec, [profile], options)
    by_hand = predict(
        stages_from_workload(characterize(spec)),
        profile,
        PredictOptions(frames_per_keyframe=12, target_fps=24.0, battery_wh=20.0,
                       non_ai_w={"display": 0.0}),
    )  # fmt: skip
    assert road == by_hand
    (again,) = predict_workload(load_workload(spec), [profile], options)
    assert again == road
