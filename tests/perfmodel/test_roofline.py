"""Per-layer roofline time, energy, power cap and bound against hand-computed numbers.

Toy device (perf_helpers.TOY): fp16 peak 1e12 OP/s, conv efficiency 0.5, other classes 0.25,
bandwidth 1e11 B/s, on-chip buffer 1e6 B, overhead 1e-6 s, fp16 MAC 1 pJ, DRAM 100 pJ/B,
on-chip 1 pJ/B, static 1 W, cap 100 W.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from perf_helpers import layer, q, toy_profile

from zoomwatt.errors import InputError
from zoomwatt.hardware.fresh_buffers import WEIGHT_FAULTS_APART
from zoomwatt.perfmodel import (
    BOUNDS,
    build_layer_table,
    device_params,
    layer_costs,
    make_stage,
)
from zoomwatt.workload.records import OpClass


def costs_of(layers, profile, **kw):
    table = build_layer_table([make_stage("s", layers, 1)])
    return layer_costs(table, device_params(profile, **kw))


def test_compute_bound_conv(toy):
    conv = layer(OpClass.CONV, macs=1e9, weight=1e6, inp=0.5e6, out=0.5e6)
    c = costs_of([conv], toy)
    # ops 2e9 / (1e12 x 0.5) = 4e-3 s
    assert c.compute_time_s[0] == pytest.approx(4e-3)
    # activations 1e6 B fit the 1e6 B buffer: DRAM = weights only, 1e6 B / 1e11 B/s = 1e-5 s
    assert c.dram_bytes[0] == pytest.approx(1e6)
    assert c.memory_time_s[0] == pytest.approx(1e-5)
    # time = max(4e-3, 1e-5) + 1e-6 overhead = 4.001e-3 s
    assert c.time_s[0] == pytest.approx(4.001e-3)
    assert BOUNDS[c.bound[0]] == "compute"
    # energy: 1e9 MAC x 1 pJ = 1e-3 J; DRAM 1e6 B x 100 pJ = 1e-4 J; on-chip 2e6 B x 1 pJ = 2e-6 J
    assert c.compute_energy_j[0] == pytest.approx(1e-3)
    assert c.dram_energy_j[0] == pytest.approx(1e-4)
    assert c.on_chip_energy_j[0] == pytest.approx(2e-6)
    # static 1 W x 4.001e-3 s; total 1.102e-3 + 4.001e-3 = 5.103e-3 J
    assert c.static_energy_j[0] == pytest.approx(4.001e-3)
    assert c.energy_j[0] == pytest.approx(5.103e-3)


def test_memory_bound_elementwise_spills_beyond_the_buffer(toy):
    add = layer(OpClass.ELEMENTWISE, flops=1e6, inp=4e6, out=2e6)
    c = costs_of([add], toy)
    # compute: 1e6 / (1e12 x 0.25) = 4e-6 s
    assert c.compute_time_s[0] == pytest.approx(4e-6)
    # activations 6e6 B, buffer 1e6 B: spill 1 - 1/6 = 5/6 -> 5e6 B DRAM, / 1e11 = 5e-5 s
    assert c.dram_bytes[0] == pytest.approx(5e6)
    assert c.memory_time_s[0] == pytest.approx(5e-5)
    assert c.time_s[0] == pytest.approx(5.1e-5)  # + 1e-6 overhead
    assert BOUNDS[c.bound[0]] == "memory"
    # 1e6 non-MAC ops x 1 pJ / 2 = 5e-7 J; DRAM 5e6 x 100 pJ = 5e-4 J; on-chip 6e6 x 1 pJ
    assert c.compute_energy_j[0] == pytest.approx(5e-7)
    assert c.dram_energy_j[0] == pytest.approx(5e-4)
    assert c.on_chip_energy_j[0] == pytest.approx(6e-6)


def test_power_cap_slows_a_layer_down():
    capped = toy_profile(**{"power.cap": {"value": 1.2, "unit": "W", "estimate": "t"}})
    conv = layer(OpClass.CONV, macs=1e9, weight=1e6, inp=0.5e6, out=0.5e6)
    c = costs_of([conv], capped)
    # dynamic 1.102e-3 J must fit in (1.2 - 1) W: 1.102e-3 / 0.2 = 5.51e-3 s > 4e-3 s compute
    assert c.capped_time_s[0] == pytest.approx(5.51e-3)
    assert c.time_s[0] == pytest.approx(5.511e-3)
    assert BOUNDS[c.bound[0]] == "power"
    # average power stays under the cap: (1.102e-3 + 1 W x 5.511e-3) / 5.511e-3 < 1.2 W
    assert c.power_w[0] <= 1.2


def test_overhead_bound_and_zero_work_layers(toy):
    tiny = layer(OpClass.ELEMENTWISE, flops=1000, inp=100, out=100)
    view = layer(OpClass.DATA_MOVEMENT)  # no work: no kernel, no overhead
    c = costs_of([tiny, view], toy)
    # 200 B of activations fit on chip (no DRAM); compute 1000 / 2.5e11 = 4e-9 s < 1e-6 s overhead
    assert BOUNDS[c.bound[0]] == "overhead"
    assert c.time_s[0] == pytest.approx(1e-6 + 4e-9)
    assert c.time_s[1] == 0.0
    assert c.energy_j[1] == 0.0


def test_sparse_peak_for_conv_only(toy):
    conv = layer(OpClass.CONV, macs=1e9)
    attn = layer(OpClass.ATTENTION, macs=1e9)
    dense = costs_of([conv, attn], toy)
    sparse = costs_of([conv, attn], toy, sparse=True)
    # conv: 2e9 / (2e12 x 0.5) = 2e-3 s sparse vs 4e-3 dense; attention keeps 2e9 / 2.5e11 = 8e-3
    assert dense.compute_time_s[0] == pytest.approx(4e-3)
    assert sparse.compute_time_s[0] == pytest.approx(2e-3)
    assert sparse.compute_time_s[1] == pytest.approx(dense.compute_time_s[1]) == pytest.approx(8e-3)


def test_dtype_fallback_keeps_bytes_but_uses_wider_engine(toy):
    # toy has no int4 engine: int4 computes as int8 (2e12 OP/s, 0.25 pJ/MAC)
    w4 = layer(OpClass.CONV, macs=1e9, weight=0.5e6, dtype="int4")
    params = device_params(toy)
    assert params.compute_dtype["int4"] == "int8"
    assert params.compute_dtype["bf16"] == "fp16"
    c = costs_of([w4], toy)
    assert c.compute_time_s[0] == pytest.approx(2e9 / (2e12 * 0.5))  # 2e-3 s
    assert c.compute_energy_j[0] == pytest.approx(1e9 * 0.25e-12)
    assert c.dram_bytes[0] == pytest.approx(0.5e6)


def test_int4_weights_with_fp16_activations_compute_in_fp16(toy):
    w4a16 = layer(OpClass.LINEAR, macs=1e9, weight=0.5e6, dtype="int4", act="fp16")
    c = costs_of([w4a16], toy)
    # fp16 engine: 2e9 / (1e12 x 0.25) = 8e-3 s; 1e9 x 1 pJ
    assert c.compute_time_s[0] == pytest.approx(8e-3)
    assert c.compute_energy_j[0] == pytest.approx(1e-3)


def test_batched_device_variants_match_one_by_one(toy):
    layers = [
        layer(OpClass.CONV, macs=1e9, weight=1e6, inp=0.5e6, out=0.5e6),
        layer(OpClass.ELEMENTWISE, flops=1e6, inp=4e6, out=2e6),
    ]
    table = build_layer_table([make_stage("s", layers, 1)])
    base = device_params(toy)
    bandwidths = np.array([1e10, 1e11, 1e12])
    batched = layer_costs(table, base.replace(bandwidth_bytes_per_s=bandwidths[:, None]))
    assert batched.time_s.shape == (3, 2)
    for k, bw in enumerate(bandwidths):
        single = layer_costs(table, base.replace(bandwidth_bytes_per_s=float(bw)))
        np.testing.assert_allclose(batched.time_s[k], single.time_s)
        np.testing.assert_allclose(batched.energy_j[k], single.energy_j)


def test_efficiency_override_is_the_calibration_hook(toy):
    conv = layer(OpClass.CONV, macs=1e9)
    params = device_params(toy).with_efficiency({"conv": 0.25})
    table = build_layer_table([make_stage("s", [conv], 1)])
    # 2e9 / (1e12 x 0.25) = 8e-3 s
    assert layer_costs(table, params).compute_time_s[0] == pytest.approx(8e-3)
    with pytest.raises(InputError, match="efficiency"):
        device_params(toy).with_efficiency({"conv": 1.5})
    with pytest.raises(InputError, match="op class"):
        device_params(toy).with_efficiency({"gemm": 0.5})


def test_weight_reuse_is_macs_per_weight_element():
    # conv: 1e9 MACs over 1e6 B of fp16 weights = 5e5 weights -> 2000 rows share each weight
    conv = layer(OpClass.CONV, macs=1e9, weight=1e6)
    norm = layer(OpClass.NORM, flops=1e6, weight=1e3, inp=1e6, out=1e6)  # no MACs
    act = layer(OpClass.ACTIVATION, flops=1e6, inp=1e6, out=1e6)  # no weights
    table = build_layer_table([make_stage("s", [conv, norm, act], 1)])
    assert table.reuse[0] == pytest.approx(2000.0)
    assert np.isinf(table.reuse[1]) and np.isinf(table.reuse[2])


def test_small_reuse_slows_conv_and_linear_only():
    half = {"conv": q(2000, "rows"), "linear": q(10, "rows")}
    profile = toy_profile(**{"compute.reuse_half": half})
    # conv at reuse 2000 with reuse_half 2000: factor 2000 / 4000 = 0.5, so
    # 2e9 ops / (1e12 x 0.5 x 0.5) = 8e-3 s (4e-3 s without the penalty)
    conv = layer(OpClass.CONV, macs=1e9, weight=1e6)
    # linear at reuse 2e6 / 1e3 weights = 2e6 rows: factor 2e6 / (2e6 + 10) ~ 1
    linear = layer(OpClass.LINEAR, macs=2e6 * 1e3, weight=2e3)
    # an activation without weights is untouched: 1e6 / (1e12 x 0.25) = 4e-6 s
    act = layer(OpClass.ACTIVATION, flops=1e6, inp=1e5, out=1e5)
    c = costs_of([conv, linear, act], profile)
    assert c.compute_time_s[0] == pytest.approx(8e-3)
    # 4e9 ops / (1e12 x 0.25) = 1.6e-2 s, x (2e6 + 10) / 2e6
    assert c.compute_time_s[1] == pytest.approx(1.6e-2 * (2e6 + 10) / 2e6)
    assert c.compute_time_s[2] == pytest.approx(4e-6)
    # the same layers on the profile without reuse_half: no penalty
    plain = costs_of([conv], toy_profile())
    assert plain.compute_time_s[0] == pytest.approx(4e-3)


def test_a_fused_attention_calls_reuse_is_its_macs():
    profile = toy_profile(**{"compute.reuse_half": {"attention": q(2e6, "MACs")}})
    eff = profile.efficiency["attention"].si
    sdpa = "aten.scaled_dot_product_attention.default"
    # a text encoder's call, 2 x 16 x 77^2 x 64 = 12,142,592 MACs, 2 ops each: factor
    # 12,142,592 / (12,142,592 + 2e6), so 2 x 14,142,592 / (1e12 x eff)
    small = layer(OpClass.ATTENTION, macs=12_142_592, op=sdpa)
    # a UNet level's, 2 x 10 x 1024^2 x 64 = 1.342e9 MACs: factor ~ 0.9985
    macs = 2 * 10 * 1024**2 * 64
    large = layer(OpClass.ATTENTION, macs=macs, op=sdpa)
    # one matmul of an unfused attention (QK^T, half the MACs): no per-call factor
    bmm = layer(OpClass.ATTENTION, macs=6_071_296, op="aten.bmm.default")
    c = costs_of([small, large, bmm], profile)
    assert c.compute_time_s[0] == pytest.approx(2 * 14_142_592 / (1e12 * eff))
    assert c.compute_time_s[1] == pytest.approx(2 * (macs + 2e6) / (1e12 * eff))
    assert c.compute_time_s[2] == pytest.approx(2 * 6_071_296 / (1e12 * eff))
    # without reuse_half for attention (every shipped profile): no penalty
    assert costs_of([small], toy_profile()).compute_time_s[0] == pytest.approx(
        2 * 12_142_592 / (1e12 * eff)
    )


def test_spill_bandwidth_adds_time_for_activations_beyond_the_buffer():
    profile = toy_profile(**{"memory.spill_bandwidth": q(1, "GB/s")})
    # elementwise: 3e6 B of activations, 1e6 B buffer -> 2e6 B spilled; memory time 2e6 / 1e11
    # = 2e-5 s, compute 1e6 / (1e12 x 0.25) = 4e-6 s; spill 2e6 B / 1e9 B/s = 2e-3 s on top
    ew = layer(OpClass.ELEMENTWISE, flops=1e6, inp=2e6, out=1e6)
    c = costs_of([ew], profile)
    assert c.memory_time_s[0] == pytest.approx(2e-5)
    # time = max(4e-6, 2e-5) + 2e-3 + 1e-6 overhead
    assert c.time_s[0] == pytest.approx(2e-5 + 2e-3 + 1e-6)
    assert BOUNDS[c.bound[0]] == "memory"
    # activations that fit the buffer pay nothing extra
    small = layer(OpClass.ELEMENTWISE, flops=1e6, inp=0.5e6, out=0.5e6)
    assert costs_of([small], profile).time_s[0] == pytest.approx(4e-6 + 1e-6)


def test_eager_cpu_convs_fault_in_a_fresh_weight_buffer_of_at_least_the_buffer():
    """Eager PyTorch on a CPU reorders a conv's weights into a fresh buffer at every call; one
    of at least the on-chip buffer is freshly mapped and faulted in at the spill bandwidth
    (hardware/fresh_buffers.py), where the host calibration priced those faults apart."""
    spill = {"memory.spill_bandwidth": q(1, "GB/s")}
    cpu = toy_profile(**spill, calibration={"conv_weight_faults": WEIGHT_FAULTS_APART})
    # conv: ops 2e9 / (1e12 x 0.5) = 4e-3 s; activations 1e6 B fit the 1e6 B buffer
    big = layer(OpClass.CONV, macs=1e9, weight=2e6, inp=0.5e6, out=0.5e6)
    # memory 2e6 / 1e11 = 2e-5 s under the compute; + 2e6 B / 1e9 B/s = 2e-3 s of faults
    assert costs_of([big], cpu).time_s[0] == pytest.approx(4e-3 + 2e-3 + 1e-6)
    # weights below the buffer are recycled: no faults
    small = layer(OpClass.CONV, macs=1e9, weight=0.5e6, inp=0.5e6, out=0.5e6)
    assert costs_of([small], cpu).time_s[0] == pytest.approx(4e-3 + 1e-6)
    # a linear layer's weights are read in place, and a profile not of a CPU host pays none
    gemm = layer(OpClass.LINEAR, macs=1e9, weight=2e6, inp=0.5e6, out=0.5e6)
    assert costs_of([gemm], cpu).time_s[0] == pytest.approx(2e9 / (1e12 * 0.25) + 1e-6)
    # a profile without the marker (its conv class holds whatever faults it had) pays none
    assert costs_of([big], toy_profile(**spill)).time_s[0] == pytest.approx(4e-3 + 1e-6)
    # nor does a stack other than eager PyTorch (OpenVINO reorders its weights once)
    other = dict(stacks={"openvino": {}})
    ov = toy_profile(**spill, calibration={"conv_weight_faults": WEIGHT_FAULTS_APART}, **other)
    assert costs_of([big], ov, stack="openvino").time_s[0] == pytest.approx(4e-3 + 1e-6)
    # batched device parameters (leading axes, as the optimizer's sweeps): the same per row
    params = device_params(cpu)
    batched = params.replace(on_chip_buffer_bytes=np.array([[1e6], [4e6]]))
    table = build_layer_table([make_stage("s", [big], 1)])
    times = layer_costs(table, batched).time_s[:, 0]
    assert times == pytest.approx([4e-3 + 2e-3 + 1e-6, 4e-3 + 1e-6])  # 2e6 B < 4e6 B: none


def test_a_measured_reorder_fault_rate_prices_a_convs_reorder_buffers_not_other_spills():
    """A host calibration that timed a conv beyond the buffer gives the fault rate of oneDNN's
    fresh reorder buffers (memory.reorder_fault_bandwidth): a conv's weights and a plain-layout
    conv's input and output; other activations spill at the spill bandwidth."""
    memory = {"memory.spill_bandwidth": q(1, "GB/s"),
              "memory.reorder_fault_bandwidth": q(0.5, "GB/s")}  # fmt: skip
    cpu = toy_profile(**memory, calibration={"conv_weight_faults": WEIGHT_FAULTS_APART})
    assert device_params(cpu).reorder_fault_bandwidth_bytes_per_s == pytest.approx(0.5e9)
    # conv: 4e-3 s of compute (as above), channels-last (the VAE encoder's stage), weights
    # 2e6 B / 0.5e9 B/s = 4e-3 s of faults, not 2e6 / 1e9 = 2e-3
    big = layer(OpClass.CONV, macs=1e9, weight=2e6, inp=0.5e6, out=0.5e6)
    stage = [make_stage("vae_encoder", [big], 1)]
    assert layer_costs(build_layer_table(stage), device_params(cpu)).time_s[0] == pytest.approx(
        4e-3 + 4e-3 + 1e-6
    )
    # plain layout, 2e6 B in and 3e6 B out: + (2e6 + 3e6) B / 0.5e9 B/s = 10e-3 s of faults
    # (the spill of its 5e6 B of activations beyond the buffer is the same in both stages)
    plain = layer(OpClass.CONV, macs=1e9, weight=2e6, inp=2e6, out=3e6, dtype="fp32")
    stages = [make_stage(n, [plain], 1) for n in ("vae_decoder", "vae_encoder")]
    t_plain, t_cl = (layer_costs(build_layer_table([st]), device_params(cpu)).time_s[0]
                     for st in stages)  # fmt: skip
    assert t_plain - t_cl == pytest.approx(10e-3)
    # an elementwise op's spill stays at the spill rate: 2e6 B / 1e9 B/s, as without the figure
    ew = layer(OpClass.ELEMENTWISE, flops=1e6, inp=2e6, out=1e6)
    assert costs_of([ew], cpu).time_s[0] == pytest.approx(2e-5 + 2e-3 + 1e-6)


def test_retained_memory_pays_no_first_touch_of_fresh_buffers():
    """With the allocator keeping freed memory (the retain-memory lever: pipeline/allocator.py)
    no buffer is mapped afresh: the spill's fault time and a conv's reorder faults are gone,
    the DRAM traffic of activations beyond the buffer stays."""
    spill = {"memory.spill_bandwidth": q(1, "GB/s")}
    cpu = toy_profile(**spill, calibration={"conv_weight_faults": WEIGHT_FAULTS_APART})
    # elementwise, 3e6 B of activations: memory 2e6 B / 1e11 = 2e-5 s, compute 4e-6 s; the
    # 2e3 us of spill faults (2e6 B / 1e9 B/s) are left out
    ew = layer(OpClass.ELEMENTWISE, flops=1e6, inp=2e6, out=1e6)
    kept = costs_of([ew], cpu, retained_memory=True)
    assert kept.time_s[0] == pytest.approx(2e-5 + 1e-6)
    assert kept.dram_bytes[0] == pytest.approx(costs_of([ew], cpu).dram_bytes[0])  # 2e6 B
    # conv with 2e6 B of weights: 4e-3 s of compute, none of the 2e-3 s of reorder faults
    big = layer(OpClass.CONV, macs=1e9, weight=2e6, inp=0.5e6, out=0.5e6)
    assert costs_of([big], cpu, retained_memory=True).time_s[0] == pytest.approx(4e-3 + 1e-6)
    # a profile without a spill bandwidth (a GPU: its caching allocator) is unchanged
    conv_toy = costs_of([big], toy_profile()).time_s[0]
    assert costs_of([big], toy_profile(), retained_memory=True).time_s[0] == conv_toy


def test_a_plain_layout_eager_conv_also_faults_in_its_reordered_input_and_output():
    """A conv on plain (NCHW) tensors: oneDNN reorders its input and output through fresh
    blocked buffers too (hardware/fresh_buffers.py); channels-last convs (16-bit dtypes on a
    CPU, or the VAE encoder, fed a permuted picture: workload/conv_layout.py) do not."""
    spill = {"memory.spill_bandwidth": q(1, "GB/s")}
    cpu = toy_profile(**spill, calibration={"conv_weight_faults": WEIGHT_FAULTS_APART})
    # an fp32 conv with 2e6 B in and 3e6 B out, each at least the 1e6 B buffer, its weights
    # below it; the same conv in the VAE encoder's stage differs only by its layout
    conv = layer(OpClass.CONV, macs=1e9, weight=0.5e6, inp=2e6, out=3e6, dtype="fp32")
    params = device_params(cpu)
    plain = layer_costs(build_layer_table([make_stage("vae_decoder", [conv], 1)]), params)
    cl = layer_costs(build_layer_table([make_stage("vae_encoder", [conv], 1)]), params)
    # (2e6 + 3e6) B / 1e9 B/s = 5e-3 s of faults for the plain one
    assert plain.time_s[0] - cl.time_s[0] == pytest.approx(5e-3)
    # in a 16-bit dtype every stage's convs are channels-last on a CPU
    half = dataclasses.replace(conv, dtype="fp16")
    plain16 = layer_costs(build_layer_table([make_stage("vae_decoder", [half], 1)]), params)
    cl16 = layer_costs(build_layer_table([make_stage("vae_encoder", [half], 1)]), params)
    assert plain16.time_s[0] == pytest.approx(cl16.time_s[0])


def test_a_gemm_at_a_few_rows_reads_its_weights_at_the_measured_rate():
    few = {
        "dtype": "fp32",
        "conv": {"2": q(8, "GB/s"), "4": q(8, "GB/s"), "8": q(16, "GB/s")},
        "linear": {"2": q(10, "GB/s"), "16": q(20, "GB/s")},
    }
    half = {"linear": q(100, "rows")}
    profile = toy_profile(**{"compute.few_rows": few, "compute.reuse_half": half})
    conv = "aten.convolution.default"  # a native convolution's GEMM: the conv layout
    layers = [  # fp32, 1e6 weights (4e6 B); reuse = MACs / weights
        layer(OpClass.LINEAR, macs=4e6, weight=4e6, dtype="fp32", op=conv),
        layer(OpClass.LINEAR, macs=4e6, weight=4e6, dtype="fp32", op="aten.addmm.default"),
        layer(OpClass.LINEAR, macs=6e6, weight=4e6, dtype="fp32", op=conv),
        layer(OpClass.LINEAR, macs=64e6, weight=4e6, dtype="fp32", op="aten.addmm.default"),
        layer(OpClass.LINEAR, macs=1e6, weight=4e6, dtype="fp32", op="aten.addmm.default"),
        layer(OpClass.LINEAR, macs=4e6, weight=2e6, dtype="fp16", op="aten.addmm.default"),
    ]
    c = costs_of(layers, profile)
    # the fit: 2 x MACs / (0.5e12 x 0.25 x reuse / (reuse + 100)); at 4 rows 1.664e-3 s
    fit_4_rows = 2 * 4e6 / (1.25e11 * 4 / 104)
    plain = costs_of(layers[:1], toy_profile(**{"compute.reuse_half": half}))
    assert plain.compute_time_s[0] == pytest.approx(fit_4_rows)
    # within the measured rows the measured rate replaces the fit (here faster than it):
    # conv layout at 4 rows: 4e6 B / 8e9 B/s = 5e-4 s
    assert c.compute_time_s[0] == pytest.approx(5e-4)
    # linear layout at 4 rows, between 2 and 16 (log2: 1/3 of the way): 1e-10 s/B less a third
    # of (1e-10 - 5e-11): 8.333e-11 s/B x 4e6 B = 3.333e-4 s
    assert c.compute_time_s[1] == pytest.approx(4e6 * (1e-10 - (1e-10 - 5e-11) / 3))
    # conv layout at 6 rows: log2(6) - 2 = 0.585 of the way from 4 rows (1.25e-10 s/B) to 8
    # (6.25e-11)
    frac = np.log2(6) - 2
    assert c.compute_time_s[2] == pytest.approx(4e6 * (1.25e-10 - frac * 6.25e-11))
    # 64 rows and 1 row are outside the measured rows: the fit, 2 x 64e6 x 164 / (1.25e11 x 64)
    # and 2 x 1e6 x 101 / 1.25e11
    assert c.compute_time_s[3] == pytest.approx(2 * 64e6 * 164 / (1.25e11 * 64))
    assert c.compute_time_s[4] == pytest.approx(2 * 1e6 * 101 / 1.25e11)
    # an fp16 layer is not priced by fp32 rates: 2 x 4e6 x 104 / (1e12 x 0.25 x 4) = 8.32e-4 s
    assert c.compute_time_s[5] == pytest.approx(8.32e-4)
    # int8 weights computed in fp32 (their 1e6 bytes are not fp32 bytes): the fit,
    # 2 x 4e6 x 104 / (0.5e12 x 0.25 x 4) = 1.664e-3 s
    int8 = layer(OpClass.LINEAR, macs=4e6, weight=1e6, dtype="int8", act="fp32", op=conv)
    assert costs_of([int8], profile).compute_time_s[0] == pytest.approx(1.664e-3)


def test_few_rows_rates_name_rows_and_a_dtype():
    for key in ("two", "\u00b2", "0"):  # not a whole number from 1 (a superscript two neither)
        bad = {"dtype": "fp32", "conv": {key: q(8, "GB/s")}}
        with pytest.raises(InputError, match=r"few_rows\.conv.*whole numbers"):
            toy_profile(**{"compute.few_rows": bad})
    bad_rows = {"dtype": "fp32", "conv": {"two": q(8, "GB/s")}}
    with pytest.raises(InputError, match=r"few_rows\.conv.*whole numbers"):
        toy_profile(**{"compute.few_rows": bad_rows})
    with pytest.raises(InputError, match=r"few_rows\.dtype.*one of"):
        toy_profile(**{"compute.few_rows": {"dtype": "fp64", "conv": {"2": q(8, "GB/s")}}})
    with pytest.raises(InputError, match=r"few_rows\.conv\.2"):
        toy_profile(**{"compute.few_rows": {"dtype": "fp32", "conv": {"2": q(8, "GHz")}}})
