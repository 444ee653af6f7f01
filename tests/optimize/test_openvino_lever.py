"""The ``openvino`` lever applied for real: the UNet and the encode/decode stages of the lean SD2
keyframe run by OpenVINO's CPU plugin in fp32 (tiny random pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends.levers import (
    LEVERS,
    check_together,
    parse_levers,
    quality_note,
    unavailable_reason,
)

pytest.importorskip("openvino")

STEPS = 4


def _picture(size: int = 64):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[: size // 4] = 255
    return image, mask


def _backend(pipe, levers=(), **kw):
    from zoomwatt.pipeline.backends.sd2_levers import LeverInpainter

    return LeverInpainter(
        pipeline=pipe, steps=STEPS, scheduler="ddim", device="cpu", levers=levers, **kw
    )


def _keyframe(backend, size: int = 64, seed: int = 3) -> np.ndarray:
    image, mask = _picture(size)
    return backend.inpaint(image, mask, "a cat", "", seed=seed).image


def _stages(backend) -> tuple:
    return backend._encode_stage, backend._unet.stage, backend._decode_stage


def _state(pipe) -> dict:
    """Every tensor and training flag of the pipeline's models, copied."""
    out = {}
    for part in ("unet", "vae", "text_encoder"):
        module = getattr(pipe, part)
        out[part] = type(module)
        for key, value in module.state_dict().items():
            out[f"{part}.{key}"] = value.detach().clone()
        out[f"{part}.training"] = [m.training for m in module.modules()]
    return out


def _same_state(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    return all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a
    )


@pytest.fixture(scope="module")
def run(tiny_sd2_dir):
    """One pipeline; the eager lean baseline, then an openvino inpainter's two keyframes of the
    same size (the conversion counts after each), then the baseline again."""
    from diffusers import StableDiffusionInpaintPipeline

    from zoomwatt.pipeline.backends.sd2_fast import SD2FastInpainter

    pipe = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)
    before = _state(pipe)
    lean = SD2FastInpainter(pipeline=pipe, steps=STEPS, scheduler="ddim", device="cpu")
    base = _keyframe(lean)
    shared: dict = {}
    backend = _backend(pipe, parse_levers("openvino"), shared=shared)
    first = _keyframe(backend)
    counts_first = [s.conversions for s in _stages(backend)]
    second = _keyframe(backend)
    counts_second = [s.conversions for s in _stages(backend)]
    return {
        "pipe": pipe,
        "before": before,
        "base": base,
        "backend": backend,
        "shared": shared,
        "first": first,
        "second": second,
        "counts": (counts_first, counts_second),
        "base_after": _keyframe(lean),
    }


def test_openvino_keyframe_is_the_lean_baseline_within_rounding(run):
    base, out = run["base"].astype(int), run["first"].astype(int)
    assert out.shape == base.shape == (64, 64, 3)
    diff = np.abs(out - base)
    # Same fp32 arithmetic, other kernels (oneDNN through OpenVINO vs through torch): the final
    # latents differ by ~3e-5 (of ~1) after 4 CFG steps, the decoded picture by ~4e-4 of a
    # level; a pixel changes only where its value sits that close to a rounding boundary
    # (x.5). Measured on this tiny pipeline, seeds 0-7: at most 1 level, on 2 to 19 of the
    # 12288 values (<= 0.16%). Bound: 1 level on at most 1% of the values (6x margin).
    assert diff.max() <= 1
    assert np.count_nonzero(diff) <= 0.01 * diff.size  # 0.01 * 64*64*3 = 122.88
    assert LEVERS["openvino"].exact
    assert quality_note(parse_levers("openvino")).startswith("lossless")


def test_each_stage_converts_once_per_shape(run):
    backend = run["backend"]
    first_counts, second_counts = run["counts"]
    assert first_counts == [1, 1, 1]  # encode, UNet, decode: converted on the first keyframe
    assert second_counts == [1, 1, 1]  # same size: the compiled models are reused
    assert np.array_equal(run["second"], run["first"])  # same inputs, same compiled model
    unet = backend._unet.stage
    assert [list(shape) for shape, _ in next(iter(unet.convert_s))] == [
        [2, 9, 8, 8],  # CFG batch 2; 4 latents + 1 mask + 4 masked latents; 64 px / 8 = 8
        [],  # the timestep, a scalar
        [2, 77, 32],  # the tiny text tower's width
    ]


def test_a_new_shape_converts_again():
    from zoomwatt.pipeline.backends.openvino_stage import OpenVINOStage

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1).eval()

    def two(x):
        y = conv(x)
        return y, y.sum(dim=1)

    stage = OpenVINOStage(two, "test stage", (conv,))
    for shape, conversions in (((1, 3, 8, 8), 1), ((1, 3, 8, 8), 1), ((1, 3, 16, 8), 2)):
        x = torch.randn(shape)
        got = stage(x)
        assert stage.conversions == conversions
        assert isinstance(got, tuple) and len(got) == 2  # the callable's structure
        with torch.no_grad():
            want = two(x)
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape
            # one 3x3x3 convolution in fp32 by two libraries: rounding, ~1e-7 per term
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
    assert conv.training is False  # the module is as it was given


def test_unconvertible_stage_says_which_and_that_the_lever_cannot_apply():
    from zoomwatt.pipeline.backends.openvino_stage import OpenVINOStage

    hidden = torch.nn.Linear(4, 4)

    class Odd(torch.nn.Module):  # computes with a module it does not register: the tracer
        def forward(self, x):  # meets weights that need grad and cannot make them constants
            return hidden(x)

    stage = OpenVINOStage(Odd(), "odd stage")
    with pytest.raises(InputError, match=r"odd stage.*cannot apply") as err:
        stage(torch.randn(2, 4))
    assert err.value.argument == "levers" and err.value.value == "openvino"


def test_the_callers_pipeline_is_unchanged(run):
    pipe = run["pipe"]
    assert _same_state(_state(pipe), run["before"])  # weights, types, training flags
    assert np.array_equal(run["base_after"], run["base"])  # the baseline still computes it
    assert type(pipe.unet).__name__ == "UNet2DConditionModel"


def test_openvino_with_taesd_runs_taesd_through_openvino(run):
    pipe = run["pipe"]
    eager = _keyframe(_backend(pipe, parse_levers("taesd"), taesd="random"))
    backend = _backend(pipe, parse_levers("taesd,openvino"), taesd="random", shared=run["shared"])
    out = _keyframe(backend)
    # TAESD's encode and decode stages converted once; the UNet is the one converted for the
    # first inpainter (same pipeline, same shapes: shared, not converted again)
    assert backend._unet is run["backend"]._unet
    assert [s.conversions for s in _stages(backend)] == [1, 1, 1]
    diff = np.abs(out.astype(int) - eager.astype(int))
    assert diff.max() <= 1  # rounding, as in the KL test above (measured: 0 levels here)
    assert np.count_nonzero(diff) <= 0.01 * diff.size


def test_openvino_is_not_for_cuda_and_needs_its_package(monkeypatch):
    from zoomwatt.pipeline.backends import levers

    assert "Intel GPUs, not CUDA" in unavailable_reason("openvino", "cuda")
    assert unavailable_reason("openvino", "cpu") is None
    monkeypatch.setattr(levers, "_has_module", lambda name: name != "openvino")
    assert "pip install openvino" in levers.unavailable_reason("openvino", "cpu")


@pytest.mark.parametrize(
    "other",
    [
        "int8-dynamic",
        "int8-weight",
        "deepcache=3",
        "tome=0.5",
        "compile",
        "tensorrt",
        "bf16",
        "fp16",
    ],
)
def test_refused_combinations_name_both_levers(tiny_sd2_dir, other):
    name = other.partition("=")[0]
    chosen = parse_levers(f"openvino,{other}")
    with pytest.raises(InputError, match=f"openvino with {name}"):
        check_together(chosen)
    with pytest.raises(InputError, match=f"openvino with {name}") as err:
        # refused before anything loads, and before whether this machine runs the other lever
        _backend(None, chosen, model=str(tiny_sd2_dir))
    assert err.value.argument == "levers"
    check_together(parse_levers(f"openvino=false,{other}"))  # openvino off: nothing refused


def test_openvino_refuses_a_non_fp32_pipeline(tiny_sd2_dir):
    with pytest.raises(InputError, match="fp32 with the openvino lever") as err:
        _backend(None, parse_levers("openvino"), model=str(tiny_sd2_dir), dtype="bf16")
    assert err.value.argument == "dtype"
