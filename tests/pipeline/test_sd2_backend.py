"""The real SD2 loading and inference code, on a tiny random SD2-architecture pipeline."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from zoomwatt.cli.main import main
from zoomwatt.errors import InputError, WeightsNotFoundError
from zoomwatt.pipeline.backends.sd2 import SD2Inpainter, resolve_model
from zoomwatt.pipeline.video import read_video_frames
from zoomwatt.pipeline.zoom import ZoomConfig, ZoomRun


def sd2_config(tmp_path, model, name="s", **overrides):
    settings = dict(
        prompt="a lighthouse",
        backend="sd2",
        model=str(model),
        size=(64, 64),
        keyframes=2,
        frames_per_keyframe=2,
        steps=2,
        seed=3,
        out=tmp_path / f"{name}.mp4",
        work_dir=tmp_path / f"{name}.work",
    )
    settings.update(overrides)
    return ZoomConfig.from_options(**settings)


def test_sd2_zoom_end_to_end_with_stage_timings(tmp_path, tiny_sd2_dir):
    run = ZoomRun(sd2_config(tmp_path, tiny_sd2_dir))
    result = run.run()
    assert result.frames == 3 and len(read_video_frames(result.out)) == 3
    first, second = result.timings
    for stage in ("vae_encode_s", "denoise_s", "vae_decode_s"):
        assert getattr(first, stage) > 0 and getattr(second, stage) > 0
    assert first.text_encode_s > 0
    assert second.text_encode_s == 0  # same prompt: embeddings reused
    assert run.backend.device == "cpu" and run.backend.dtype == "fp32"


def test_sd2_is_deterministic_and_seeded(tmp_path, tiny_sd2_dir):
    a = [f.image for f in ZoomRun(sd2_config(tmp_path, tiny_sd2_dir, "a")).frames()]
    b = [f.image for f in ZoomRun(sd2_config(tmp_path, tiny_sd2_dir, "b")).frames()]
    c = [f.image for f in ZoomRun(sd2_config(tmp_path, tiny_sd2_dir, "c", seed=4)).frames()]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_sd2_pastes_back_exact_centre(tmp_path, tiny_sd2_dir):
    from zoomwatt.pipeline.geometry import ZoomGeometry

    run = ZoomRun(sd2_config(tmp_path, tiny_sd2_dir, scheduler="ddim", guidance=1.0))
    list(run.frames())
    k0, k1 = run.store.load(0), run.store.load(1)
    assert np.array_equal(k1[16:48, 16:48], ZoomGeometry.from_border(64, 64, 16).shrink(k0))


def test_sd2_cli(tmp_path, tiny_sd2_dir, capsys):
    code = main(
        [
            "zoom",
            "--backend",
            "sd2",
            "--model",
            str(tiny_sd2_dir),
            "--prompt",
            "x",
            "--size",
            "64x64",
            "--keyframes",
            "2",
            "--frames-per-keyframe",
            "2",
            "--steps",
            "1",
            "--out",
            str(tmp_path / "cli.mp4"),
            "--no-progress",
        ]
    )
    assert code == 0
    assert "denoise" in capsys.readouterr().out


def test_incomplete_folder(tmp_path, tiny_sd2_dir):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_sd2_dir, broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(WeightsNotFoundError, match=r"unet/ has a config.json but no"):
        resolve_model(str(broken))
    shutil.rmtree(broken)
    shutil.copytree(tiny_sd2_dir, broken)
    shutil.rmtree(broken / "vae")
    with pytest.raises(WeightsNotFoundError, match=r"'vae' but .* is missing"):
        resolve_model(str(broken))


def test_pickle_only_folder_is_refused(tmp_path, tiny_sd2_dir):
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_sd2_dir, pickled)
    for weights in (pickled / "text_encoder").glob("*.safetensors"):
        weights.rename(weights.with_suffix(".bin"))
    with pytest.raises(InputError, match="only pickle files"):
        resolve_model(str(pickled))


def test_missing_repo_says_where_it_looked(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_model("stabilityai/stable-diffusion-2-inpainting")
    message = str(info.value)
    assert "Hugging Face cache" in message and "hf download" in message
    assert "--allow-download" in message


def test_bad_sd2_options(tiny_sd2_dir):
    with pytest.raises(InputError, match="steps=0"):
        SD2Inpainter(model=str(tiny_sd2_dir), steps=0)
    with pytest.raises(InputError, match="scheduler='fast'"):
        SD2Inpainter(model=str(tiny_sd2_dir), scheduler="fast")
    with pytest.raises(InputError, match="dtype='int3'"):
        SD2Inpainter(model=str(tiny_sd2_dir), dtype="int3")


@pytest.mark.gpu
def test_sd2_on_cuda_fp16(tmp_path, tiny_sd2_dir):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    run = ZoomRun(sd2_config(tmp_path, tiny_sd2_dir))
    assert run.backend.device == "cuda" and run.backend.dtype == "fp16"
    assert run.run().frames == 3
