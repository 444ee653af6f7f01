"""Predictions move the way physics says on every shipped device."""

from __future__ import annotations

import numpy as np
import pytest
from perf_helpers import sd_like_stages

from zoomwatt.hardware import load_profile, shipped_profile_names
from zoomwatt.perfmodel import (
    PredictOptions,
    build_layer_table,
    device_params,
    layer_costs,
    predict,
)

PROFILES = shipped_profile_names()
# storage dtype -> bytes relative to fp16
BYTES = {"fp32": 2.0, "fp16": 1.0, "fp8": 0.5, "int8": 0.5, "int4": 0.25}


@pytest.fixture(scope="module")
def table():
    return build_layer_table(sd_like_stages())


# Host-bound stages (a fitted eager host issue) take host issue x kernels whatever the device
# does: the host's wait is spread over the stage's kernels, so a layer the device runs faster
# takes a larger share of it (per-layer checks are of the device's own time, host issue 0), and
# equal stage totals summed from different shares may differ in the last bits (1e-12 relative:
# ~700 additions round to at most 700 x 2.2e-16 = 1.6e-13 relative, about 3e-15 typically).
REL = 1e-12


def _not_slower(totals: np.ndarray) -> bool:
    return bool(np.all(np.diff(totals) <= REL * totals[:-1]))


@pytest.mark.parametrize("name", PROFILES)
def test_more_bandwidth_is_never_slower(name, table):
    params = device_params(load_profile(name))
    bandwidths = params.bandwidth_bytes_per_s * np.array([0.25, 0.5, 1, 2, 4, 16])
    device_only = params.replace(bandwidth_bytes_per_s=bandwidths[:, None], host_issue_s=0.0)
    assert np.all(np.diff(layer_costs(table, device_only).time_s, axis=0) <= 1e-15)  # per layer
    costs = layer_costs(table, params.replace(bandwidth_bytes_per_s=bandwidths[:, None]))
    assert _not_slower(costs.time_s.sum(axis=1))


@pytest.mark.parametrize("name", PROFILES)
def test_bigger_buffer_never_more_dram_traffic(name, table):
    params = device_params(load_profile(name))
    buffers = np.array([0, 1e6, 4e6, 32e6, 1e9])
    costs = layer_costs(table, params.replace(on_chip_buffer_bytes=buffers[:, None]))
    assert np.all(np.diff(costs.dram_bytes, axis=0) <= 0)
    assert _not_slower(costs.time_s.sum(axis=1))


@pytest.mark.parametrize("name", PROFILES)
def test_lower_cap_is_never_faster(name, table):
    params = device_params(load_profile(name))
    caps = float(params.static_power_w) + np.array([0.1, 1, 10, 100, 1000])
    costs = layer_costs(table, params.replace(power_cap_w=caps[:, None]))
    assert _not_slower(costs.time_s.sum(axis=1))
    assert np.all(costs.power_w <= caps[:, None] * (1 + 1e-9))


@pytest.mark.parametrize("target_fps", [30.0, 1e9])  # 1e9: never idle, busy figures only
@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize(
    "wide, narrow", [("fp32", "fp16"), ("fp16", "int8"), ("fp16", "fp8"), ("int8", "int4")]
)
def test_lower_precision_never_more_energy_or_time(name, wide, narrow, target_fps):
    profile = load_profile(name)
    params = device_params(profile)
    if not (params.supports(wide) and params.supports(narrow)):
        pytest.skip(f"{name} cannot compute {wide} or {narrow}")
    options = PredictOptions(target_fps=target_fps)
    hi = predict(sd_like_stages(wide, BYTES[wide]), profile, options)
    lo = predict(sd_like_stages(narrow, BYTES[narrow]), profile, options)
    assert lo.keyframe_latency_s <= hi.keyframe_latency_s * (1 + REL)
    assert lo.ai_energy_per_frame_j <= hi.ai_energy_per_frame_j * (1 + 1e-12)
    assert lo.energy_per_frame_j <= hi.energy_per_frame_j * (1 + 1e-12)
    for s_lo, s_hi in zip(lo.per_stage, hi.per_stage, strict=True):
        assert s_lo.energy_j <= s_hi.energy_j * (1 + 1e-12)
