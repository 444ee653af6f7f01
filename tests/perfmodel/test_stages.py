"""Stages: checks, defaults, and the adapter from a workload report."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from perf_helpers import layer

from zoomwatt.errors import InputError
from zoomwatt.perfmodel import build_layer_table, make_stage, stages_from_workload
from zoomwatt.workload.records import OpClass


def test_defaults_from_layers():
    layers = [
        layer(OpClass.CONV, macs=10, weight=100, inp=4, out=6),
        layer(OpClass.LINEAR, macs=5, weight=50, inp=20, out=1),
    ]
    stage = make_stage("s", layers, 2)
    assert stage.weight_bytes == 150  # 100 + 50
    assert stage.peak_activation_bytes == 21  # max(4 + 6, 20 + 1)


def test_layer_table_arrays():
    layers = [layer(OpClass.CONV, macs=10, weight=100, inp=4, out=6)]
    table = build_layer_table([make_stage("a", layers, 1), make_stage("b", layers * 2, 3)])
    assert table.n_layers == 3
    assert list(table.stage_index) == [0, 1, 1]
    assert list(table.ops) == [20, 20, 20]  # 2 x 10 MACs
    assert list(table.total_bytes) == [110, 110, 110]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "layers": [], "calls_per_keyframe": 1},
        {"name": "s", "layers": [], "calls_per_keyframe": -1},
        {"name": "s", "layers": ["conv"], "calls_per_keyframe": 1},
        {"name": "s", "layers": [layer(OpClass.CONV, dtype="fp64")], "calls_per_keyframe": 1},
        {"name": "s", "layers": [layer(OpClass.CONV, weight=-1)], "calls_per_keyframe": 1},
    ],
)
def test_bad_stages(kwargs):
    with pytest.raises(InputError):
        make_stage(**kwargs)


def test_stages_from_workload_report():
    unet = SimpleNamespace(
        name="unet",
        layers=[layer(OpClass.CONV, macs=10, weight=100, inp=4, out=6)],
        calls_per_keyframe=20,
        weight_bytes=1e9,
        peak_activation_bytes=5e7,
    )
    frames = SimpleNamespace(
        name="frame_ops",
        layers=[layer(OpClass.RESAMPLE, flops=8, inp=3, out=3, dtype="uint8")],
        calls_per_keyframe=30,
        weight_bytes=0,
        peak_activation_bytes=6,
    )
    stages = stages_from_workload(SimpleNamespace(stages=[unet, frames]))
    assert [(s.name, s.per_frame, s.calls_per_keyframe) for s in stages] == [
        ("unet", False, 20.0),
        ("frame_ops", True, 30.0),
    ]
    assert stages[0].weight_bytes == 1e9
    with pytest.raises(InputError):
        stages_from_workload(SimpleNamespace(stages=[]))
