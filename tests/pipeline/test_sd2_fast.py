"""The SD2 fast keyframe path against the plain pipeline, on the tiny random SD2 pipeline (CPU).

Same seed, same inputs: the lean path runs the plain pipeline's operations on tensors of the
same memory layout (checked exactly), so its picture is the plain backend's up to
:data:`SAME_PICTURE_GREY_LEVELS` (see :func:`assert_same_picture` for why any difference is
allowed at all); the memory-format and fused-projection switches within rounding. CUDA graphs
and compiled kernels are checked by the GPU-marked test and by ``benchmarks/sd2_keyframe.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from zoomwatt.errors import InputError, WeightsNotFoundError
from zoomwatt.pipeline.backends import create_backend
from zoomwatt.pipeline.backends.sd2 import SD2Inpainter
from zoomwatt.pipeline.backends.sd2_fast import FastOptions, SD2FastInpainter, resolve_taesd
from zoomwatt.pipeline.geometry import ZoomGeometry
from zoomwatt.pipeline.zoom import ZoomConfig, ZoomRun


@pytest.fixture(scope="module")
def canvas():
    rng = np.random.default_rng(0)
    previous = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return ZoomGeometry.from_border(64, 64, 16).canvas(previous)


def keyframe(backend, canvas, seed=5):
    image, mask = canvas
    return backend.inpaint(image, mask, "a lighthouse", "blurry", seed)


def plain(model, **kwargs):
    return SD2Inpainter(model=str(model), steps=3, device="cpu", dtype="fp32", **kwargs)


def fast(model, options, **kwargs):
    return SD2FastInpainter(
        model=str(model), steps=3, device="cpu", dtype="fp32", fast=options, **kwargs
    )


def tiny_taesd():
    """A 4-block AutoencoderTiny (8x, 4 latent channels, like TAESD) with seeded weights."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    return AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
        latent_channels=4,
    )


SAME_PICTURE_GREY_LEVELS = 1
SAME_PICTURE_SHARE = 0.001


def assert_same_picture(a: np.ndarray, b: np.ndarray) -> None:
    """ "Same picture" (docs: README, "Real time"): at most 1 grey level apart, at no more than
    0.1% of the values. Why not exact: the two paths hand the models the same values in the
    same layouts (checked in the layout test), but oneDNN chooses convolution kernels by the
    CPU's instruction set (AVX2, AVX-512, AMX) and by each call's context, and two kernels may
    sum in another order; a 1e-6 difference in a latent can move one value across a rounding
    boundary of the uint8 picture (seen on an Intel Xeon: 1 of 12,288 values, 1 level)."""
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= SAME_PICTURE_GREY_LEVELS, diff.max()
    assert (diff > 0).mean() <= SAME_PICTURE_SHARE, (diff > 0).mean()


def encoder_inputs(backend, canvas) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(shape, strides) of every tensor the VAE encoder is handed during one keyframe."""
    seen = []
    backend.inpaint(*canvas, "warm", "", 0)  # load the pipeline
    hook = backend.pipe.vae.encoder.register_forward_pre_hook(
        lambda module, args: seen.append((tuple(args[0].shape), tuple(args[0].stride())))
    )
    try:
        keyframe(backend, canvas)
    finally:
        hook.remove()
    return seen


def test_lean_path_hands_the_models_the_same_layout(tiny_sd2_dir, canvas):
    # The layout decides oneDNN's kernel: equal by construction, so compared exactly.
    reference = encoder_inputs(plain(tiny_sd2_dir), canvas)
    assert reference and encoder_inputs(fast(tiny_sd2_dir, FastOptions()), canvas) == reference


def test_lean_path_gives_the_plain_pipelines_picture(tiny_sd2_dir, canvas):
    reference = keyframe(plain(tiny_sd2_dir), canvas)
    out = keyframe(fast(tiny_sd2_dir, FastOptions()), canvas)
    assert out.image.dtype == np.uint8 and out.image.shape == (64, 64, 3)
    assert_same_picture(out.image, reference.image)
    assert set(out.stage_s) >= {"vae_encode", "denoise", "vae_decode", "text_encode"}
    assert all(v >= 0 for v in out.stage_s.values())


def test_lean_path_without_guidance_and_with_another_scheduler(tiny_sd2_dir, canvas):
    for kwargs in ({"guidance": 1.0}, {"scheduler": "ddim"}):
        reference = keyframe(plain(tiny_sd2_dir, **kwargs), canvas)
        out = keyframe(fast(tiny_sd2_dir, FastOptions(), **kwargs), canvas)
        assert_same_picture(out.image, reference.image)


def test_memory_format_and_fused_projections_stay_within_rounding(tiny_sd2_dir, canvas):
    reference = keyframe(plain(tiny_sd2_dir), canvas).image.astype(int)
    options = FastOptions(channels_last=True, fuse_qkv=True)
    out = keyframe(fast(tiny_sd2_dir, options), canvas).image.astype(int)
    assert np.abs(out - reference).max() <= 2  # grey levels: fp32 summation order only


def test_prompt_is_encoded_once(tiny_sd2_dir, canvas):
    backend = fast(tiny_sd2_dir, FastOptions())
    first = keyframe(backend, canvas, seed=1)
    second = keyframe(backend, canvas, seed=2)
    assert first.stage_s["text_encode"] > 0 and "text_encode" not in second.stage_s
    assert not np.array_equal(first.image, second.image)  # the seed matters


def test_taesd_decoder_is_a_different_model(tiny_sd2_dir, canvas):
    reference = keyframe(plain(tiny_sd2_dir), canvas).image
    for options in (FastOptions(decoder="taesd"), FastOptions(encoder="taesd", decoder="taesd")):
        out = keyframe(fast(tiny_sd2_dir, options, taesd=tiny_taesd()), canvas).image
        assert out.shape == (64, 64, 3) and out.dtype == np.uint8
        assert not np.array_equal(out, reference)


@pytest.mark.slow
def test_compiled_path_matches_on_cpu(tiny_sd2_dir, canvas):
    reference = keyframe(plain(tiny_sd2_dir), canvas).image.astype(int)
    backend = fast(tiny_sd2_dir, FastOptions(compile="default"))
    backend.warmup(64, 64, "a lighthouse", "blurry")
    out = keyframe(backend, canvas).image.astype(int)
    assert np.abs(out - reference).max() <= 2


def test_bad_switches_are_refused_before_loading(tiny_sd2_dir):
    with pytest.raises(InputError, match="compile='fast'"):
        fast(tiny_sd2_dir, FastOptions(compile="fast"))
    with pytest.raises(InputError, match="decoder='tiny'"):
        fast(tiny_sd2_dir, FastOptions(decoder="tiny"))
    with pytest.raises(InputError, match="cuda_graph=True"):
        fast(tiny_sd2_dir, FastOptions(cuda_graph=True))


def test_missing_taesd_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="hf download madebyollin/taesd"):
        resolve_taesd("madebyollin/taesd")
    empty = tmp_path / "taesd"
    empty.mkdir()
    with pytest.raises(WeightsNotFoundError, match=r"config\.json"):
        resolve_taesd(str(empty))


def test_recommended_switches_per_device():
    assert FastOptions.recommended("cpu") == FastOptions()
    cuda = FastOptions.recommended("cuda")
    assert cuda.cuda_graph and cuda.compile != "none" and cuda.encoder == cuda.decoder == "vae"
    assert FastOptions().label() == "lean"


def test_realtime_zoom_uses_the_fast_path_and_the_same_keyframes(tmp_path, tiny_sd2_dir):
    def cfg(name, **kw):
        return ZoomConfig.from_options(
            prompt="a lighthouse",
            backend="sd2",
            model=str(tiny_sd2_dir),
            size=(64, 64),
            keyframes=3,
            frames_per_keyframe=2,
            steps=2,
            seed=3,
            fps=240.0,
            out=tmp_path / f"{name}.mp4",
            work_dir=tmp_path / f"{name}.work",
            **kw,
        )

    realtime = ZoomRun(cfg("rt", realtime=True))
    assert isinstance(realtime.backend, SD2FastInpainter)
    assert realtime.backend.fast == FastOptions.recommended("cpu")
    fast_result = realtime.run()
    realtime.close()
    assert fast_result.stream is not None and fast_result.stream.frames_shown == 5
    plain_run = ZoomRun(cfg("plain"))
    assert type(plain_run.backend) is SD2Inpainter
    plain_run.run()
    # The keyframes, as saved losslessly in the work folders (the video is lossy).
    for index in range(3):
        a, b = realtime.store.load(index), plain_run.store.load(index)
        assert_same_picture(a, b)


def test_create_backend_fast_option(tiny_sd2_dir):
    backend = create_backend("sd2", model=str(tiny_sd2_dir), device="cpu", fast="recommended")
    assert isinstance(backend, SD2FastInpainter) and backend.fast == FastOptions()
    assert backend.fingerprint()["fast"]["compile"] == "none"


@pytest.mark.gpu
def test_cuda_graph_and_compile_match_the_plain_pipeline_on_cuda(tiny_sd2_dir, canvas):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    reference = keyframe(
        SD2Inpainter(model=str(tiny_sd2_dir), steps=3, device="cuda", dtype="fp32"), canvas
    ).image.astype(int)
    options = FastOptions(channels_last=True, fuse_qkv=True, compile="default", cuda_graph=True)
    backend = SD2FastInpainter(
        model=str(tiny_sd2_dir), steps=3, device="cuda", dtype="fp32", fast=options
    )
    backend.warmup(64, 64, "a lighthouse", "blurry")
    out = keyframe(backend, canvas).image.astype(int)
    assert np.abs(out - reference).max() <= 2


@pytest.mark.parametrize("dtype, channels_last", [("bf16", True), ("fp32", False)])
def test_cpu_convs_run_in_the_layout_the_host_calibration_times(tiny_sd2_dir, dtype, channels_last):
    """16-bit convs on a CPU run channels-last (workload/conv_layout.py): the UNet's and the
    VAE's weights are moved to it at load, and the calibration's conv benchmark uses the same
    rule; fp32 keeps PyTorch's default layout."""
    import torch

    from zoomwatt.workload.conv_layout import channels_last_convs

    assert channels_last_convs("cpu", dtype) is channels_last
    for device in ("cuda", "cuda:1", "mps", "xpu:0"):  # the fast path's own switch there
        assert channels_last_convs(device, dtype) is False
    pipe = SD2Inpainter(model=str(tiny_sd2_dir), steps=3, device="cpu", dtype=dtype).pipe
    for conv in (pipe.unet.conv_in, pipe.vae.decoder.conv_in):
        weight = conv.weight
        assert weight.is_contiguous(memory_format=torch.channels_last) is channels_last
        assert weight.is_contiguous() is not channels_last
