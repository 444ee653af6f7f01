"""The whole pipeline, against USE_CASE.md's table, FlopCounterMode and hand arithmetic."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from zoomwatt.archs.build import build_model
from zoomwatt.errors import InputError
from zoomwatt.workload import STAGES, OpClass, characterize, trace_call


@pytest.fixture(scope="module")
def report():
    return characterize()  # sd2-inpaint, 512x512, 20 steps, CFG, fp16, every 30, 30 fps


def test_stages_and_use_case_table(report):
    assert [s.name for s in report.stages] == list(STAGES)
    # USE_CASE.md: parameters (exact here) and FLOPs per call = 2 x MACs (within 1 %)
    table = {
        "text_encoder": (340_387_840, 45e9),
        "vae_encoder": (34_163_664, 1.12e12),
        "unet": (865_925_124, 1.61e12),
        "vae_decoder": (49_490_199, 2.51e12),
    }
    for name, (params, flops) in table.items():
        s = report.stage(name)
        assert s.params == params, name
        assert abs(2 * s.macs_per_call - flops) <= 0.01 * flops, (name, 2 * s.macs_per_call)


def test_exact_macs(report):
    # Recorded once from this tracer and equal to FlopCounterMode / 2 (checked below).
    assert report.stage("text_encoder").macs_per_call == 22_563_616_768
    assert report.stage("vae_encoder").macs_per_call == 558_329_233_408
    assert report.stage("unet").macs_per_call == 804_375_429_120
    assert report.stage("vae_decoder").macs_per_call == 1_257_259_466_752


def _flop_counter(module, fn, *args):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    counts = counter.get_flop_counts()["Global"]
    conv = sum(v for k, v in counts.items() if "conv" in str(k))
    matmul = sum(v for k, v in counts.items() if "conv" not in str(k))
    return conv, matmul


@pytest.mark.parametrize("attention", ["sdpa", "matmul"])
def test_conv_and_matmul_match_flop_counter(attention):
    unet = build_model("sd2-inpaint", "unet", attention=attention)
    args = (
        torch.empty(2, 9, 64, 64, device="meta"),
        torch.zeros((), device="meta"),
        torch.empty(2, 77, 1024, device="meta"),
    )
    conv, matmul = _flop_counter(unet, unet, *args)
    t = trace_call(unet, unet, *args)
    mine = {c: sum(r.macs for r in t.records if r.op_class == c) for c in OpClass}
    assert 2 * mine[OpClass.CONV] == conv
    assert 2 * (mine[OpClass.LINEAR] + mine[OpClass.ATTENTION]) == matmul
    assert mine[OpClass.ATTENTION] == 63_026_135_040 * 2  # same whichever path runs


def test_vae_and_text_encoder_match_flop_counter(report):
    vae = build_model("sd2-inpaint", "vae")
    conv, matmul = _flop_counter(vae, vae.encode, torch.empty(1, 3, 512, 512, device="meta"))
    s = report.stage("vae_encoder")
    assert 2 * s.macs_by_class["conv"] == conv
    assert 2 * (s.macs_by_class["linear"] + s.macs_by_class["attention"]) == matmul
    conv, matmul = _flop_counter(vae, vae.decode, torch.empty(1, 4, 64, 64, device="meta"))
    s = report.stage("vae_decoder")
    assert 2 * s.macs_by_class["conv"] == conv
    assert 2 * (s.macs_by_class["linear"] + s.macs_by_class["attention"]) == matmul
    text = build_model("sd2-inpaint", "text_encoder")
    conv, matmul = _flop_counter(text, text, torch.zeros(1, 77, dtype=torch.long, device="meta"))
    s = report.stage("text_encoder")
    assert conv == 0 and s.macs_by_class["conv"] == 0
    assert 2 * s.macs_per_call == matmul


def test_fast_meta_shapes_give_identical_records():
    vae = build_model("sd2-inpaint", "vae")
    text = build_model("sd2-inpaint", "text_encoder")
    unet = build_model("sd2-inpaint", "unet")
    cases = [
        (vae, vae.encode, (torch.empty(1, 3, 128, 128, device="meta"),)),
        (vae, vae.decode, (torch.empty(1, 4, 16, 16, device="meta"),)),
        (text, text, (torch.zeros(1, 77, dtype=torch.long, device="meta"),)),
        (unet, unet, (torch.empty(2, 9, 16, 16, device="meta"), torch.zeros((), device="meta"),
                      torch.empty(2, 77, 1024, device="meta"))),
    ]  # fmt: skip
    for module, fn, args in cases:
        fast = trace_call(module, fn, *args, fast=True)
        slow = trace_call(module, fn, *args, fast=False)
        assert fast.records == slow.records
        assert fast.peak_activation_bytes == slow.peak_activation_bytes
        assert fast.unknown_ops == slow.unknown_ops == ()


def test_shapes(report):
    assert report.stage("text_encoder").output_shape == (1, 77, 1024)
    assert report.stage("vae_encoder").output_shape == (1, 4, 64, 64)
    assert report.stage("unet").output_shape == (2, 4, 64, 64)
    assert report.stage("unet").input_shapes == ((2, 9, 64, 64), (), (2, 77, 1024))
    assert report.stage("vae_decoder").output_shape == (1, 3, 512, 512)


def test_rollup_arithmetic(report):
    unet, dec = report.stage("unet"), report.stage("vae_decoder")
    assert unet.calls_per_keyframe == 20 and dec.calls_per_keyframe == 1
    assert report.stage("text_encoder").calls_per_keyframe == 0  # one prompt throughout
    expected = sum(s.macs_per_call * s.calls_per_keyframe for s in report.stages)
    assert report.per_keyframe.macs == expected
    assert report.per_output_frame.macs == pytest.approx(expected / 30)
    assert report.per_second.flops == pytest.approx(report.per_output_frame.flops * 30)
    weights = sum(s.weight_bytes * s.calls_per_keyframe for s in report.stages)
    assert report.per_keyframe.weight_bytes == weights
    assert unet.weight_bytes == 865_925_124 * 2  # fp16
    assert report.weight_bytes == 2 * (340_387_840 + 34_163_664 + 865_925_124 + 49_490_199)
    peak = max(s.peak_activation_bytes for s in report.stages)
    assert report.peak_memory_bytes == report.weight_bytes + peak
    assert unet.peak_memory_bytes == unet.weight_bytes + unet.peak_activation_bytes


def test_no_cfg_halves_the_unet_and_prompt_every_amortises():
    r = characterize(cfg=False, prompt_every=4)
    full = characterize()
    assert r.stage("unet").batch == 1
    assert 2 * r.stage("unet").macs_per_call == full.stage("unet").macs_per_call
    assert r.stage("text_encoder").calls_per_keyframe == 1 / 4  # 1 call per change, no CFG
    r = characterize(prompt_every=4)
    assert r.stage("text_encoder").calls_per_keyframe == 2 / 4  # prompt + negative prompt


def test_every_and_fps_scale_only_the_rollup():
    a = characterize(every=30, fps=30)
    b = characterize(every=5, fps=24)
    model_macs = sum(s.macs_per_call * s.calls_per_keyframe for s in a.stages)
    assert b.per_output_frame.macs == pytest.approx(model_macs / 5)
    assert b.per_second.macs == pytest.approx(model_macs / 5 * 24)


def test_attention_modes_same_macs_different_bytes():
    sdpa = characterize(attention="sdpa")
    explicit = characterize(attention="matmul")
    for a, b in zip(sdpa.stages, explicit.stages, strict=True):
        assert a.macs_by_class == b.macs_by_class, a.name
        assert a.flops_by_class["softmax"] == b.flops_by_class["softmax"], a.name
    u_sdpa, u_explicit = sdpa.stage("unet"), explicit.stage("unet")
    assert u_explicit.peak_activation_bytes > 4 * u_sdpa.peak_activation_bytes
    assert u_explicit.activation_bytes_per_call > u_sdpa.activation_bytes_per_call


def test_taesd_and_sd15():
    r = characterize(pipeline="sd15-inpaint", vae="taesd")
    assert r.stage("text_encoder").output_shape == (1, 77, 768)
    assert r.stage("text_encoder").params == 123_060_480
    assert r.stage("vae_encoder").params == 1_222_532
    assert r.stage("vae_decoder").params == 1_222_531
    assert r.stage("vae_encoder").output_shape == (1, 4, 64, 64)
    assert r.stage("vae_decoder").output_shape == (1, 3, 512, 512)
    assert r.stage("unet").input_shapes[2] == (2, 77, 768)


def test_2048_needs_no_activation_memory():
    r = characterize(size=2048)
    assert r.stage("vae_encoder").output_shape == (1, 4, 256, 256)
    assert r.stage("vae_decoder").output_shape == (1, 3, 2048, 2048)
    # 16x the pixels: convolutions scale exactly 16x
    base = characterize()
    ratio = r.stage("unet").macs_by_class["conv"] / base.stage("unet").macs_by_class["conv"]
    assert ratio == 16


def test_dtypes_scale_bytes_not_work():
    fp16, int8 = characterize(dtype="fp16"), characterize(dtype="int8")
    int4 = characterize(dtype="int4")
    assert int8.per_keyframe.macs == fp16.per_keyframe.macs
    assert int8.stage("unet").weight_bytes * 2 == fp16.stage("unet").weight_bytes
    assert int4.stage("unet").weight_bytes * 4 == fp16.stage("unet").weight_bytes
    assert int4.activation_dtype == "int8"  # W4A8 by default
    assert (
        int4.stage("unet").activation_bytes_per_call == int8.stage("unet").activation_bytes_per_call
    )


def test_to_dict_is_json_with_the_issue_shape(report):
    d = json.loads(json.dumps(report.to_dict()))
    assert [s["name"] for s in d["stages"]] == list(STAGES)
    for s in d["stages"]:
        for key in ("name", "params", "weight_bytes", "macs_per_call", "calls_per_keyframe",
                    "macs_by_class", "activation_bytes_per_call"):  # fmt: skip
            assert key in s
        assert set(s["macs_by_class"]) == {c.value for c in OpClass}
    for scope in ("per_keyframe", "per_output_frame", "per_second"):
        assert {"macs", "flops", "weight_bytes", "activation_bytes"} <= set(d[scope])
    with_layers = report.to_dict(layers=True)
    assert len(with_layers["stages"][2]["layers"]) == len(report.stage("unet").layers)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"size": 500}, "size"),
        ({"size": 0}, "size"),
        ({"pipeline": "sdxl"}, "pipeline"),
        ({"vae": "tiny"}, "vae"),
        ({"steps": 0}, "steps"),
        ({"dtype": "fp64"}, "dtype"),
        ({"every": 0}, "every"),
        ({"fps": -1.0}, "fps"),
        ({"cfg": "yes"}, "cfg"),
        ({"attention": "flash"}, "attention"),
        ({"prompt_every": 0}, "prompt_every"),
        ({"border_px": 256}, "border_px"),
    ],
)
def test_bad_inputs(kwargs, argument):
    with pytest.raises(InputError) as info:
        characterize(**kwargs)
    assert info.value.argument == argument
