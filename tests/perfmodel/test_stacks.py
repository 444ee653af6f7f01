"""Predictions with a software stack: the stack's efficiencies, kernel overhead and fusion in
the per-layer roofline (hand-computed), nothing else changed, an unknown stack refused, the
default stack identical to the profile's own numbers, and every result naming its stack.

Toy device (perf_helpers.TOY): fp16 peak 1e12 OP/s, conv efficiency 0.5, other classes 0.25,
bandwidth 1e11 B/s, on-chip buffer 1e6 B, overhead 1e-6 s, fp16 MAC 1 pJ, DRAM 100 pJ/B,
on-chip 1 pJ/B, static 1 W, cap 100 W.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml
from perf_helpers import layer, q, sd_like_stages, toy_data

from zoomwatt.errors import InputError
from zoomwatt.hardware import load_profile, parse_profile, shipped_profile_names
from zoomwatt.hardware.stacks import (
    FITTED_FILE,
    is_shipped,
    load_fitted_stacks,
    resolve_stack,
    with_fitted,
)
from zoomwatt.perfmodel import (
    BOUNDS,
    DeviceOptions,
    PredictOptions,
    Unsupported,
    build_layer_table,
    device_params,
    layer_costs,
    make_stage,
    predict,
    predict_many,
)
from zoomwatt.perfmodel.roofline import fused_layers
from zoomwatt.workload import WorkloadSpec
from zoomwatt.workload.records import OpClass

FAST = {
    "efficiency": {"conv": q(0.8, "1")},
    "kernel_overhead": q(0.5, "us"),
    "fusion": {"elementwise_fused": {"value": True, "estimate": "test"}},
}
BOTH = FAST | {"fusion": FAST["fusion"] | {"pointwise_chains": {"value": True, "estimate": "t"}}}


# conv: 1e8 MACs, weights 1e5 B, activations 2e6 + 2e6 B (4e6 B: 3/4 beyond the 1e6 B buffer)
CONV = layer(OpClass.CONV, macs=1e8, weight=1e5, inp=2e6, out=2e6)
# SiLU on the conv's output: 4e6 FLOPs (1e6 fp16 elements), 2e6 B in, 2e6 B out
SILU = layer(OpClass.ACTIVATION, flops=4e6, inp=2e6, out=2e6)


def without_fusion(profile):
    """``profile`` with its compile stack's fusion switched off (its figures kept)."""
    compile_ = dataclasses.replace(profile.stack("compile"), fusion={})
    return dataclasses.replace(profile, stacks=profile.stacks | {"compile": compile_})


def two_layers(profile, stack=None):
    table = build_layer_table([make_stage("s", [CONV, SILU], 1)])
    return layer_costs(table, device_params(profile, stack=stack))


def test_two_layers_without_a_stack_hand_computed():
    c = two_layers(parse_profile(toy_data(), "t.yaml"))
    # conv: 2e8 ops / (1e12 x 0.5) = 4e-4 s; DRAM 1e5 + 3/4 x 4e6 = 3.1e6 B -> 3.1e-5 s
    assert c.compute_time_s[0] == pytest.approx(4e-4)
    assert c.dram_bytes[0] == pytest.approx(3.1e6)
    assert c.time_s[0] == pytest.approx(4e-4 + 1e-6)  # + overhead
    # SiLU: 4e6 / (1e12 x 0.25) = 1.6e-5 s; DRAM 3/4 x 4e6 = 3e6 B -> 3e-5 s (memory-bound)
    assert c.compute_time_s[1] == pytest.approx(1.6e-5)
    assert c.dram_bytes[1] == pytest.approx(3e6)
    assert c.time_s[1] == pytest.approx(3e-5 + 1e-6)
    assert BOUNDS[c.bound[1]] == "memory"
    # SiLU DRAM energy 3e6 B x 100 pJ = 3e-4 J
    assert c.dram_energy_j[1] == pytest.approx(3e-4)
    assert c.time_s.sum() == pytest.approx(4.01e-4 + 3.1e-5)  # 4.32e-4 s


def test_two_layers_with_a_fusing_stack_hand_computed():
    profile = parse_profile(toy_data(stacks={"compile": FAST}), "t.yaml")
    c = two_layers(profile, "compile")
    # conv at the stack's efficiency 0.8: 2e8 / 8e11 = 2.5e-4 s; its DRAM bytes as before
    assert c.compute_time_s[0] == pytest.approx(2.5e-4)
    assert c.dram_bytes[0] == pytest.approx(3.1e6)
    assert c.time_s[0] == pytest.approx(2.5e-4 + 0.5e-6)  # the stack's overhead, 0.5 us
    # SiLU fused into the conv: no DRAM bytes (no weights, activations on chip), no overhead;
    # its arithmetic at the activation efficiency the stack leaves alone: 1.6e-5 s
    assert c.dram_bytes[1] == 0.0 and c.memory_time_s[1] == 0.0
    assert c.compute_time_s[1] == pytest.approx(1.6e-5)
    assert c.time_s[1] == pytest.approx(1.6e-5)
    assert BOUNDS[c.bound[1]] == "compute"
    assert c.dram_energy_j[1] == 0.0
    # on-chip bytes are counted as before: 4e6 B x 1 pJ = 4e-6 J
    assert c.on_chip_energy_j[1] == pytest.approx(4e-6)
    assert c.time_s.sum() == pytest.approx(2.505e-4 + 1.6e-5)  # 2.665e-4 s, was 4.32e-4
    # the same two layers, the stack's figures without its fusion: SiLU as in the eager case
    c2 = two_layers(without_fusion(profile), "compile")
    assert c2.time_s[1] == pytest.approx(3e-5 + 0.5e-6)
    assert c2.time_s[0] == pytest.approx(c.time_s[0])


def test_a_stack_changes_only_its_own_figures():
    profile = parse_profile(toy_data(stacks={"compile": FAST}), "t.yaml")
    base, fast = device_params(profile), device_params(profile, stack="compile")
    assert base.stack == "eager" and fast.stack == "compile"
    changed = {
        f.name
        for f in dataclasses.fields(base)
        if not np.array_equal(
            np.asarray(getattr(base, f.name), dtype=object),
            np.asarray(getattr(fast, f.name), dtype=object),
        )
    }
    assert changed == {"efficiency", "kernel_overhead_s", "elementwise_fused", "stack"}
    diff = np.flatnonzero(base.efficiency != fast.efficiency)
    assert diff.tolist() == [0] and fast.efficiency[0] == 0.8  # conv only
    assert fast.kernel_overhead_s == pytest.approx(0.5e-6)
    # an explicit efficiency override still comes last
    over = device_params(profile, stack="compile", efficiency={"conv": 0.3})
    assert over.efficiency[0] == 0.3 and over.kernel_overhead_s == pytest.approx(0.5e-6)


def test_which_layers_fuse():
    e, a, n, cv, dm = (
        OpClass.ELEMENTWISE,
        OpClass.ACTIVATION,
        OpClass.NORM,
        OpClass.CONV,
        OpClass.DATA_MOVEMENT,
    )
    kinds1 = [cv, n, a, dm, e, e, cv]  # stage 1
    kinds2 = [e, a]  # stage 2: its first op follows stage 1's conv, but in another stage
    table = build_layer_table(
        [
            make_stage("s1", [layer(k, flops=1, inp=1, out=1) for k in kinds1], 1),
            make_stage("s2", [layer(k, flops=1, inp=1, out=1) for k in kinds2], 1),
        ]
    )

    def fused(elementwise, chains):
        mask = fused_layers(table, elementwise_fused=elementwise, pointwise_chains=chains)
        return np.flatnonzero(mask).tolist()

    assert fused(False, False) == []
    # epilogue: the run norm, SiLU after the conv; the adds follow a copy; stage 2 starts anew
    assert fused(True, False) == [1, 2]
    # chains: every op of a run but its first: SiLU (run 1-2), 2nd add (4-5), stage 2's SiLU
    assert fused(False, True) == [2, 5, 8]
    assert fused(True, True) == [1, 2, 5, 8]


def test_fusion_never_makes_a_layer_slower_or_costlier():
    profile = parse_profile(toy_data(stacks={"compile": BOTH}), "t.yaml")
    plain = without_fusion(profile)
    table = build_layer_table(sd_like_stages())
    fused = layer_costs(table, device_params(profile, stack="compile"))
    unfused = layer_costs(table, device_params(plain, stack="compile"))
    assert np.all(fused.time_s <= unfused.time_s)
    assert np.all(fused.energy_j <= unfused.energy_j)
    assert fused.time_s.sum() < unfused.time_s.sum()


def test_unknown_stack_is_refused_naming_the_stacks_the_profile_has():
    profile = parse_profile(toy_data(stacks={"compile": FAST}), "t.yaml")
    with pytest.raises(InputError) as err:
        predict(sd_like_stages(), profile, PredictOptions(stack="tensorrt"))
    assert str(err.value) == "stack='tensorrt': expected a stack toy has: eager, compile"
    with pytest.raises(InputError) as err:
        predict(sd_like_stages(), profile, PredictOptions(stack="cuda"))
    assert str(err.value).startswith("stack='cuda': expected one of eager, compile, tensorrt")
    assert "\n" not in str(err.value)


def test_predictions_carry_the_stack_name():
    profile = parse_profile(toy_data(stacks={"compile": FAST}), "t.yaml")
    default = predict(sd_like_stages(), profile)
    fast = predict(sd_like_stages(), profile, PredictOptions(stack="compile"))
    assert default.stack == "eager" and default.to_dict()["stack"] == "eager"
    assert fast.stack == "compile" and fast.to_dict()["stack"] == "compile"
    assert fast.keyframe_latency_s < default.keyframe_latency_s
    int8_only = parse_profile(
        toy_data(**{"compute.dense": {"int8": q(2, "TOP/s")}, "compute.sparse": {},
                    "energy.mac": {"int8": q(0.25, "pJ")}, "stacks": {"compile": FAST}}),
        "t.yaml",
    )  # fmt: skip
    (none,) = predict_many(sd_like_stages("fp32"), [int8_only], PredictOptions(stack="compile"))
    assert isinstance(none, Unsupported) and none.to_dict()["stack"] == "compile"
    (npu,) = predict_many(sd_like_stages("fp32"), [load_profile("apple-a17-pro")])
    assert isinstance(npu, Unsupported) and npu.to_dict()["stack"] == "coreml"


def test_device_options_pass_the_stack_on():
    spec = WorkloadSpec()
    options = DeviceOptions(stack="compile", fitted_stacks=False).predict_options(spec)
    assert options.stack == "compile" and options.fitted_stacks is False
    assert DeviceOptions().predict_options(spec).stack is None


@pytest.mark.parametrize("name", shipped_profile_names())
def test_default_stack_is_the_profiles_own_numbers(name):
    """stack=None without the fitted figures is what a profile without stacks gives (the
    model before stacks): the compute section's efficiencies and overhead, no fusion, no host
    issue time, the same prediction to the bit."""
    profile = load_profile(name)
    params = device_params(profile, fitted=False)
    assert params.stack == profile.default_stack
    assert not params.elementwise_fused and not params.pointwise_chains
    assert params.kernel_overhead_s == profile.kernel_overhead.si and params.host_issue_s == 0
    assert params.efficiency.tolist() == [profile.efficiency[c].si for c in profile.efficiency]
    stages = sd_like_stages("int8" if "fp16" not in profile.peak_dense else "fp16")
    own = PredictOptions(fitted_stacks=False)
    today = predict(stages, dataclasses.replace(profile, stacks={}), own)
    assert predict(stages, profile, own).to_dict() == today.to_dict()
    named = PredictOptions(stack=profile.default_stack, fitted_stacks=False)
    assert predict(stages, profile, named).to_dict() == today.to_dict()


def test_the_shipped_fitted_file_fits_the_shipped_profiles():
    fitted = load_fitted_stacks(FITTED_FILE)  # written by zoomwatt.evidence.fit_stacks
    for name, stacks in fitted.items():
        profile = load_profile(name)  # a shipped profile
        for stack_name, stack in stacks.items():
            assert stack_name in profile.stack_names
            assert all(figure.is_fitted for _, figure in stack.quantities())
            merged = dict(resolve_stack(profile, stack_name).quantities())
            for path, figure in stack.quantities():
                assert merged[path] == figure
        with_fitted(profile)  # every fitted stack is one the profile lists


FITTED_4090 = """schema: 1
profiles:
  nvidia-rtx-4090:
    compile:
      kernel_overhead: {value: 2.93, unit: us, fitted: "a test figure"}
"""


def test_fitted_figures_apply_to_the_shipped_profile_only(tmp_path, monkeypatch):
    from zoomwatt.hardware import stacks

    (tmp_path / "fitted.yaml").write_text(FITTED_4090)
    monkeypatch.setattr(stacks, "FITTED_FILE", tmp_path / "fitted.yaml")
    shipped = load_profile("nvidia-rtx-4090")
    assert is_shipped(shipped)
    fitted = resolve_stack(shipped, "compile").kernel_overhead
    prior = resolve_stack(shipped, "compile", fitted=False).kernel_overhead
    assert fitted.is_fitted and fitted.si == pytest.approx(2.93e-6)
    assert prior.is_estimate and prior.si == pytest.approx(1e-6)
    assert device_params(shipped, stack="compile").kernel_overhead_s == fitted.si
    assert device_params(shipped, stack="compile", fitted=False).kernel_overhead_s == prior.si
    # a user's copy of the file is another device: its own figures only
    copy_path = tmp_path / "my-4090.yaml"
    with open(shipped.origin) as f:
        copy_path.write_text(yaml.safe_dump(yaml.safe_load(f)))
    mine = load_profile(str(copy_path))
    assert not is_shipped(mine)
    assert resolve_stack(mine, "compile").kernel_overhead == prior


def test_a_stack_reuse_half_replaces_the_compute_sections_hand_computed():
    """A stack that packs weights at compile time (OpenVINO on a CPU) has its own reuse_half:
    the conv below (1e8 MACs on 1e5 B of fp16 weights: 5e4 weights, reuse 1e8 / 5e4 = 2000)
    runs at 2000 / (2000 + half) of its rate."""
    half = {"conv": {"value": 2000, "unit": "rows", "source": "test"}}
    packed = {"conv": {"value": 0, "unit": "rows", "source": "test"}}
    data = toy_data(stacks={"openvino": {"reuse_half": packed}})
    data["compute"]["reuse_half"] = half
    profile = parse_profile(data, "t.yaml")
    assert profile.stack("openvino").reuse_half["conv"].si == 0.0
    eager, ov = two_layers(profile), two_layers(profile, "openvino")
    # eager: 2e8 ops / (1e12 x 0.5 x 2000 / 4000) = 8e-4 s; openvino: factor 1, 4e-4 s
    assert eager.compute_time_s[0] == pytest.approx(8e-4)
    assert ov.compute_time_s[0] == pytest.approx(4e-4)
    assert ov.compute_time_s[1] == pytest.approx(eager.compute_time_s[1])  # SiLU: no weights
    # merged over: the stack's classes replace, the others stay the compute section's
    linear = {"linear": {"value": 30, "unit": "rows", "estimate": "t"}}
    over = dataclasses.replace(profile.stack("openvino"), reuse_half={})
    assert over.merged(profile.stack("openvino")).reuse_half == profile.stack("openvino").reuse_half
    with_linear = parse_profile(toy_data(stacks={"openvino": {"reuse_half": linear}}), "t.yaml")
    assert set(with_linear.stack("openvino").reuse_half) == {"linear"}
    paths = [p for p, _q in with_linear.stack_quantities()]
    assert "stacks.openvino.reuse_half.linear" in paths


def test_the_default_stack_may_not_change_reuse_half():
    data = toy_data(
        stacks={"eager": {"reuse_half": {"conv": {"value": 1, "unit": "rows", "source": "t"}}}}
    )
    with pytest.raises(InputError, match="reuse_half"):
        parse_profile(data, "t.yaml")
