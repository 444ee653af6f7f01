"""The ``nncf-int8`` lever: the openvino lever's stages with NNCF's data-free int8 weight
compression. Predicted from the traced workload on the ``openvino-int8`` stack (the host
calibration's rates of OpenVINO layers with int8 weights) with every linear layer of the
OpenVINO stages reading 1 byte a weight (the CPU plugin decompresses convolutions' weights when
it compiles); applied for real on the tiny random pipeline where openvino and nncf are
installed."""

from __future__ import annotations

import numpy as np
import pytest

from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends.levers import check_together, parse_levers, unavailable_reason
from zoomwatt.workload.records import OpClass
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import StageName

BASE = WorkloadSpec(size=128, steps=2, cfg=True, dtype="fp32", every=8)


def test_nncf_int8_runs_on_the_openvino_int8_stack():
    from zoomwatt.measurement.lever_workload import _listed_stack, lever_stack

    assert lever_stack(parse_levers("nncf-int8")) == "openvino-int8"
    assert lever_stack(parse_levers("nncf-int8,taesd")) == "openvino-int8"
    assert lever_stack(parse_levers("openvino")) == "openvino"

    class Listing:  # a profile's stack names, as HardwareProfile.stack_names gives them
        def __init__(self, *names):
            self.stack_names = names

    # a profile that lists only openvino (a shipped device): its openvino stack
    assert _listed_stack("openvino-int8", Listing("eager", "openvino")) == "openvino"
    assert _listed_stack("openvino-int8", Listing("openvino", "openvino-int8")) == "openvino-int8"
    assert _listed_stack("openvino", Listing("eager", "openvino")) == "openvino"


def test_its_linear_weights_read_one_byte_in_the_openvino_stages_only():
    from zoomwatt.measurement.lever_workload import lever_stages

    plain = {s.name: s for s in lever_stages(BASE, parse_levers("openvino"))}
    int8 = {s.name: s for s in lever_stages(BASE, parse_levers("nncf-int8"))}
    for name in (StageName.UNET, StageName.VAE_ENCODER, StageName.VAE_DECODER):
        for a, b in zip(plain[name].layers, int8[name].layers, strict=True):
            layer = a.op_class == OpClass.LINEAR and a.weight_bytes > 0
            # fp32 -> int8: 4 bytes a weight -> 1; convolutions' weights are decompressed when
            # the model is compiled (they stay 4); nothing else changes
            assert b.weight_bytes == pytest.approx(a.weight_bytes / 4 if layer else a.weight_bytes)
            assert (b.macs, b.flops, b.input_bytes, b.dtype) == (
                a.macs,
                a.flops,
                a.input_bytes,
                a.dtype,
            )
        # the resident weights shrink as the layers' do (same sums, two code paths: 1e-9)
        shrink = sum(r.weight_bytes for r in int8[name].layers) / sum(
            r.weight_bytes for r in plain[name].layers
        )
        assert int8[name].weight_bytes == pytest.approx(plain[name].weight_bytes * shrink, 1e-9)
    # the UNet's linear layers hold about a third of its weights: 3.46 GB -> 2.56 GB
    unet = int8[StageName.UNET].weight_bytes / plain[StageName.UNET].weight_bytes
    assert 0.6 < unet < 0.85
    # the text encoder stays eager PyTorch (the levers never give it to OpenVINO)
    assert int8[StageName.TEXT_ENCODER] == plain[StageName.TEXT_ENCODER]


def test_fewer_weight_bytes_predict_no_slower_keyframe():
    from zoomwatt.hardware import load_profile
    from zoomwatt.measurement.lever_workload import predict_levers

    profile = load_profile("intel-meteorlake-npu")  # a shipped profile that lists openvino
    base = WorkloadSpec(size=128, steps=2, cfg=False, dtype="fp16", every=8)  # an NPU's dtype
    ov = predict_levers(base, parse_levers("openvino"), profile)
    int8 = predict_levers(base, parse_levers("nncf-int8"), profile)
    assert int8.keyframe_latency_s < ov.keyframe_latency_s  # the NPU streams its weights


def test_unavailable_reasons_name_the_package(monkeypatch):
    from zoomwatt.pipeline.backends import levers

    assert "Intel GPUs, not CUDA" in unavailable_reason("nncf-int8", "cuda")
    monkeypatch.setattr(levers, "_has_module", lambda name: name != "nncf")
    assert "pip install nncf" in levers.unavailable_reason("nncf-int8", "cpu")
    monkeypatch.setattr(levers, "_has_module", lambda name: name != "openvino")
    assert "pip install openvino" in levers.unavailable_reason("nncf-int8", "cpu")


@pytest.mark.parametrize("other", ["openvino", "int8-dynamic", "deepcache=3", "compile", "bf16"])
def test_refused_combinations_name_both_levers(other):
    name = other.partition("=")[0]
    with pytest.raises(InputError, match=f"nncf-int8 with {name}"):
        check_together(parse_levers(f"nncf-int8,{other}"))


def test_a_bad_weights_mode_names_the_argument():
    from zoomwatt.pipeline.backends.openvino_stage import OpenVINOStage

    with pytest.raises(InputError, match="weights"):
        OpenVINOStage(lambda x: x, "stage", weights="int4")


def test_the_int8_stage_computes_close_to_fp32_with_int8_weights(capfd):
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    import torch

    from zoomwatt.pipeline.backends.openvino_stage import OpenVINOStage

    torch.manual_seed(0)
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.SiLU(),
        torch.nn.Conv2d(32, 16, 3, padding=1),
    ).eval()
    x = torch.randn(1, 16, 16, 16)
    with torch.no_grad():
        ref = conv(x).numpy()
    fp32 = OpenVINOStage(conv, "tiny convs", threads=1)(x).numpy()
    stage = OpenVINOStage(conv, "tiny convs", threads=1, weights="int8")
    int8 = stage(x).numpy()
    nsr_db = lambda out: 10 * np.log10(np.mean((out - ref) ** 2) / np.mean(ref**2))  # noqa: E731
    assert nsr_db(fp32) < -80  # the same arithmetic, within fp32 rounding
    # 8-bit weights, per output channel: measured -44.9 dB here (AMD EPYC); a bound with room
    assert -80 < nsr_db(int8) < -25
    assert stage.conversions == 1 and stage.weights == "int8"
    out, err = capfd.readouterr()
    assert "Weight Compression" not in out + err and "bitwidth" not in out + err  # logs only


def test_the_inpainter_runs_its_openvino_stages_with_int8_weights(tiny_sd2_dir):
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    from diffusers import StableDiffusionInpaintPipeline

    from zoomwatt.pipeline.backends.sd2_fast import SD2FastInpainter
    from zoomwatt.pipeline.backends.sd2_levers import LeverInpainter

    pipe = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[:16] = 255
    kw = dict(pipeline=pipe, steps=2, scheduler="ddim", device="cpu")
    base = SD2FastInpainter(**kw).inpaint(image, mask, "a cat", "", seed=3).image
    backend = LeverInpainter(levers=parse_levers("nncf-int8"), **kw)
    out = backend.inpaint(image, mask, "a cat", "", seed=3).image
    stages = (backend._encode_stage, backend._unet.stage, backend._decode_stage)
    assert [(s.weights, s.conversions) for s in stages] == [("int8", 1)] * 3
    # int8 weights change the picture a little, not wholly: mean difference under 8 levels
    # (tiny random model; measured 1.6 levels here, AMD EPYC), and not none at all
    diff = np.abs(out.astype(int) - base.astype(int))
    assert 0 < diff.mean() < 8


def test_the_optimizer_prices_openvino_w8a16_on_the_int8_stack_where_calibrated():
    from types import SimpleNamespace

    from zoomwatt.optimizer.search import priced_stack, search_stacks

    calibrated = SimpleNamespace(stack_params={"eager": 0, "openvino": 0, "openvino-int8": 0})
    shipped = SimpleNamespace(stack_params={"eager": 0, "openvino": 0})
    assert priced_stack("openvino", "w8a16", calibrated) == "openvino-int8"
    assert priced_stack("openvino", "w8a16", shipped) == "openvino"  # bytes only there
    assert priced_stack("openvino", "fp16", calibrated) == "openvino"
    assert priced_stack("eager", "w8a16", calibrated) == "eager"  # torch's int8-weight
    # openvino-int8 prices a point; it is no stack of its own in the search
    host = SimpleNamespace(stack_names=("eager", "openvino", "openvino-int8"))
    assert search_stacks(host) == ("eager", "openvino")
