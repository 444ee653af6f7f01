"""Frequency scaling: a two-layer DFS case worked by hand, and the study on a real profile."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoomwatt.optimizer.frequency import (
    FrequencyPoint,
    _lagrange_choice,
    no_loss_choice,
    pick,
    scaled_params,
)
from zoomwatt.perfmodel import DeviceParams, build_layer_table, layer_costs, make_stage
from zoomwatt.perfmodel.layer_table import DTYPES, OP_CLASSES
from zoomwatt.workload.records import LayerRecord, OpClass

NOMINAL = FrequencyPoint("1GHz", 1e9, 1.0)


def _device() -> DeviceParams:
    nd = len(DTYPES)
    return DeviceParams(
        name="toy",
        peak_ops_per_s=np.full(nd, 1e12),
        sparse_peak_ops_per_s=np.full(nd, 1e12),
        use_sparse=False,
        efficiency=np.ones(len(OP_CLASSES)),
        mac_energy_j=np.full(nd, 1e-12),
        dram_j_per_byte=0.0,
        on_chip_j_per_byte=0.0,
        bandwidth_bytes_per_s=1e9,
        on_chip_buffer_bytes=0.0,
        static_power_w=2.0,
        idle_power_w=1.0,
        power_cap_w=math.inf,
        kernel_overhead_s=0.0,
        compute_dtype={d: d for d in DTYPES},
    )


def _table():
    # A: 5e8 MACs = 1e9 ops -> 1 ms at 1e12 op/s; 1e5 B -> 0.1 ms at 1e9 B/s (compute-bound)
    # B: 5e7 MACs -> 0.1 ms; 1e6 B -> 1 ms (memory-bound)
    a = LayerRecord("A", "conv", OpClass.CONV, 5 * 10**8, 10**9, 1e5, 0.0, 0.0, "fp16")
    b = LayerRecord("B", "conv", OpClass.CONV, 5 * 10**7, 10**8, 1e6, 0.0, 0.0, "fp16")
    return build_layer_table([make_stage("s", [a, b], 1)])


def test_scaling_of_a_point():
    p = scaled_params(_device(), NOMINAL, [(0.5e9, 0.8)], leak_share=0.5)
    # static: 2 W x (0.5 x 0.8 + 0.5 x 0.8^2 x 0.5) = 2 x (0.4 + 0.16) = 1.12 W
    assert float(p.static_power_w[0, 0]) == pytest.approx(1.12)
    assert p.peak_ops_per_s[0, 0] == pytest.approx(0.5e12)
    assert p.mac_energy_j[0, 0] == pytest.approx(0.64e-12)


def test_two_layer_dfs_by_hand():
    table = _table()
    # frequencies 0.5 and 1 GHz at the run's voltage 1 V; static at 0.5 GHz:
    # 2 W x (0.5 + 0.5 x 0.5) = 1.5 W
    costs = layer_costs(table, scaled_params(_device(), NOMINAL, [(0.5e9, 1.0), (1e9, 1.0)]))
    # fixed 1 GHz: A 1 ms, 5e-4 J + 2 W x 1 ms = 2.5 mJ; B 1 ms, 5e-5 J + 2 mJ = 2.05 mJ
    assert costs.time_s[1].tolist() == pytest.approx([1e-3, 1e-3])
    assert costs.energy_j[1].tolist() == pytest.approx([2.5e-3, 2.05e-3])
    # at 0.5 GHz A takes 2 ms (slower: not allowed); B still 1 ms (memory), 5e-5 + 1.5 mJ
    assert costs.time_s[0].tolist() == pytest.approx([2e-3, 1e-3])
    assert costs.energy_j[0, 1] == pytest.approx(1.55e-3)
    choice = no_loss_choice(costs, run=1)
    assert choice.tolist() == [1, 0]  # the memory-bound layer is clocked down
    # layer-wise: 2 ms and 2.5 + 1.55 = 4.05 mJ against 4.55 mJ fixed (-11%)
    assert pick(costs.time_s, choice).sum() == pytest.approx(2e-3)
    assert pick(costs.energy_j, choice).sum() == pytest.approx(4.05e-3)
    # least energy within 2 ms: the same plan; within 3 ms: A may slow down too
    # (A at 0.5 GHz: 5e-4 + 1.5 W x 2 ms = 3.5 mJ, more than 2.5 mJ: it stays at 1 GHz)
    calls = np.ones(2)
    assert _lagrange_choice(costs, calls, 2e-3).tolist() == [1, 0]
    assert _lagrange_choice(costs, calls, 3e-3).tolist() == [1, 0]


def test_whole_run_dvfs_by_hand():
    # one point for the run: 0.5 GHz at 0.8 V. A: 2 ms, 5e-4 x 0.64 + 1.12 W x 2 ms = 2.56 mJ;
    # B: 1 ms, 5e-5 x 0.64 + 1.12 W x 1 ms = 1.152 mJ. 3 ms, 3.712 mJ against 2 ms, 4.55 mJ.
    costs = layer_costs(_table(), scaled_params(_device(), NOMINAL, [(0.5e9, 0.8)]))
    assert costs.time_s[0].sum() == pytest.approx(3e-3)
    assert costs.energy_j[0].tolist() == pytest.approx([2.56e-3, 1.152e-3])


def test_study_on_orin_nano_clocks_memory_bound_layers_down():
    from zoomwatt.hardware import load_profile
    from zoomwatt.optimizer.frequency import frequency_study
    from zoomwatt.perfmodel import device_params

    profile = load_profile("jetson-orin-nano")
    a = LayerRecord("A", "conv", OpClass.CONV, 10**11, 2 * 10**11, 1e6, 0.0, 0.0, "fp16")
    b = LayerRecord("B", "linear", OpClass.LINEAR, 10**8, 2 * 10**8, 1e9, 0.0, 0.0, "fp16")
    table = build_layer_table([make_stage("s", [a, b], 1)])
    params = device_params(profile)
    fixed = frequency_study(table, np.ones(2), profile, params)
    capped = fixed.plans[-1]  # under the 15 W cap: as fast as the cap allows, B clocked down
    assert capped.meets_constraint
    assert capped.memory_bound_mhz < capped.compute_bound_mhz
    target = fixed.plans[0].latency_s
    study = frequency_study(table, np.ones(2), profile, params, latency_target_s=target)
    fixed_plan, _, layer = study.plans
    assert layer.latency_s <= target * (1 + 1e-9)
    assert layer.energy_j < fixed_plan.energy_j
    assert layer.memory_bound_mhz < layer.compute_bound_mhz
