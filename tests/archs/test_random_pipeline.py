"""The full-size random SD2 inpainting pipeline (for speed and energy benchmarks)."""

from __future__ import annotations

import pytest

from zoomwatt.archs.random_pipeline import (
    build_random_sd2_inpaint,
    build_random_taesd,
    write_random_sd2_inpaint,
)
from zoomwatt.errors import InputError


def test_bad_options_are_refused_before_building(tmp_path):
    with pytest.raises(InputError, match="dtype='fp8'"):
        build_random_sd2_inpaint(dtype="fp8")
    with pytest.raises(InputError, match="vae='big'"):
        build_random_sd2_inpaint(vae="big")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("taken")
    with pytest.raises(InputError, match="folder"):
        write_random_sd2_inpaint(tmp_path / "x")


def test_random_taesd_is_seeded_and_small():
    import torch

    a, b = build_random_taesd(seed=1), build_random_taesd(seed=1)
    params = sum(p.numel() for p in a.parameters())
    assert 2_000_000 < params < 3_000_000  # TAESD: about 2.4 M parameters
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_full_size_pipeline_has_the_published_sizes():
    pipe = build_random_sd2_inpaint(device="meta")  # shapes only: no memory, no time
    unet = sum(p.numel() for p in pipe.unet.parameters())
    vae = sum(p.numel() for p in pipe.vae.parameters())
    assert unet == 865_925_124  # SD2 inpainting UNet, 9 input channels
    assert 83_000_000 < vae < 84_000_000
    assert pipe.unet.config.in_channels == 9
