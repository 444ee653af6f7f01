"""Engine-time energy (``power.engine_time_energy``, perfmodel.roofline): a compute-bound layer
pays its MAC energy per engine cycle of its compute time, so it draws static + peak MAC rate x
MAC energy whatever its efficiency; profiles without the field keep energy per useful MAC."""

from __future__ import annotations

import pytest

from zoomwatt.hardware import load_profile
from zoomwatt.perfmodel import build_layer_table, device_params, layer_costs, make_stage
from zoomwatt.workload.records import LayerRecord, OpClass


def _conv(macs: float) -> LayerRecord:
    # 1 MB of fp16 weights, activations that fit the 40 MB L2: compute-bound on an A100
    return LayerRecord(
        module="m", op="conv", op_class=OpClass.CONV, macs=int(macs), flops=int(2 * macs),
        weight_bytes=1e6, input_bytes=1e6, output_bytes=1e6, dtype="fp16", activation_dtype=None,
    )  # fmt: skip


def test_a100_conv_draws_static_plus_full_rate_mac_power():
    profile = load_profile("nvidia-a100-sxm4-40gb")
    assert profile.engine_time_energy is not None and profile.engine_time_energy.value
    params = device_params(profile, fitted=False)
    table = build_layer_table([make_stage("s", [_conv(1e12)], 1)])
    on = layer_costs(table, params)
    off = layer_costs(table, params.replace(engine_time_energy=False))
    # compute time: 2e12 OP / (312e12 x 0.5 conv efficiency) = 12.82 ms, on and off alike
    assert on.time_s[0] == pytest.approx(off.time_s[0])
    assert on.compute_time_s[0] == pytest.approx(2e12 / 156e12)
    # MAC energy: 1e12 x 1.92 pJ = 1.92 J per useful MAC; / 0.5 efficiency = 3.84 J
    assert off.compute_energy_j[0] == pytest.approx(1.92)
    assert on.compute_energy_j[0] == pytest.approx(3.84)
    # power: 80 W static + 3.84 J / 12.82 ms = 80 + 299.5 = 379.5 W (+ DRAM and L2 bytes,
    # 1e6 B x 56 pJ + 3e6 B x 4 pJ = 68 uJ: under 0.01 W); 400 W cap not reached
    assert float(on.power_w[0]) == pytest.approx(379.5, abs=0.1)


def test_profiles_without_the_field_keep_energy_per_useful_mac():
    profile = load_profile("nvidia-v100-sxm2")
    assert profile.engine_time_energy is None
    params = device_params(profile, fitted=False)
    assert params.engine_time_energy is False
    table = build_layer_table([make_stage("s", [_conv(1e12)], 1)])
    # 1e12 MAC x 3.36 pJ (the V100 profile's fp16 MAC energy) = 3.36 J
    assert layer_costs(table, params).compute_energy_j[0] == pytest.approx(3.36)
