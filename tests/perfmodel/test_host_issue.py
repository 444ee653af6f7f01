"""A stack's host issue time (eager PyTorch): a stage call takes at least its launched kernels x
the host's time per kernel; the wait is spread over those kernels; a call whose device time is
longer is unchanged; host issue 0 changes nothing (hand-computed on the toy device).

Toy device (perf_helpers.TOY): fp16 peak 1e12 OP/s, conv efficiency 0.5, other classes 0.25,
bandwidth 1e11 B/s, on-chip buffer 1e6 B, kernel overhead 1e-6 s, static 1 W.
"""

from __future__ import annotations

import numpy as np
import pytest
from perf_helpers import layer

from zoomwatt.perfmodel import BOUNDS, build_layer_table, device_params, layer_costs, make_stage
from zoomwatt.workload.records import OpClass

# 1000 FLOPs, 1000 B in and out (on chip): compute 1000 / (1e12 x 0.25) = 4e-9 s
TINY = layer(OpClass.ELEMENTWISE, flops=1000, inp=1000, out=1000)
# 1e8 MACs: compute 2e8 / (1e12 x 0.5) = 4e-4 s; weights 1e5 B: memory 1e5 / 1e11 = 1e-6 s
CONV = layer(OpClass.CONV, macs=1e8, weight=1e5, inp=1000, out=1000)


def test_a_call_of_short_kernels_waits_for_the_host(toy):
    table = build_layer_table([make_stage("unet", [TINY, TINY, TINY], 1)])
    params = device_params(toy)
    device = layer_costs(table, params).time_s
    assert device == pytest.approx([4e-9 + 1e-6] * 3, rel=1e-3)  # busy + kernel overhead
    waited = layer_costs(table, params.replace(host_issue_s=10e-6))
    # the call takes 3 kernels x 10 us = 30 us; each kernel 10 us (its 1.004 us + 8.996 us wait)
    assert waited.time_s.sum() == pytest.approx(30e-6, rel=1e-12)
    assert waited.time_s == pytest.approx([10e-6] * 3, rel=1e-12)
    assert [BOUNDS[b] for b in waited.bound] == ["overhead"] * 3
    # the device waits at its static power: 1 W x 30 us more than the dynamic energy
    extra = waited.energy_j.sum() - layer_costs(table, params).energy_j.sum()
    assert extra == pytest.approx(1.0 * (30e-6 - device.sum()), rel=1e-9)


def test_a_call_longer_than_its_host_issue_is_unchanged(toy):
    table = build_layer_table(
        [make_stage("text_encoder", [TINY], 1), make_stage("unet", [CONV, TINY], 1)]
    )
    params = device_params(toy)
    base = layer_costs(table, params).time_s
    waited = layer_costs(table, params.replace(host_issue_s=10e-6)).time_s
    # text encoder: 1 kernel of 1.004 us < 10 us -> 10 us; UNet: 4e-4 s >> 2 x 10 us, as it was
    assert waited[0] == pytest.approx(10e-6, rel=1e-12)
    assert waited[1:].tolist() == base[1:].tolist()


def test_host_issue_batches_over_variants_and_zero_changes_nothing(toy):
    table = build_layer_table(
        [make_stage("unet", [TINY, TINY], 1), make_stage("vae_decoder", [CONV], 1)]
    )
    params = device_params(toy)
    assert params.host_issue_s == 0.0
    assert layer_costs(table, params.replace(host_issue_s=0.0)).time_s.tolist() == (
        layer_costs(table, params).time_s.tolist()
    )
    variants = params.replace(host_issue_s=np.array([[0.0], [5e-6], [20e-6]]))
    per_stage = layer_costs(table, variants).time_s[:, :2].sum(axis=1)
    # 2 kernels of 1.004 us: 2.008 us; at 5 us each 10 us; at 20 us each 40 us
    assert per_stage == pytest.approx([2.008e-6, 10e-6, 40e-6], rel=1e-9)
