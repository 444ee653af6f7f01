"""The shipped configs build the published architectures, parameter for parameter."""

from __future__ import annotations

import pytest
import torch

from zoomwatt.archs.build import build_from_config, build_model, count_params
from zoomwatt.archs.catalog import load_config
from zoomwatt.errors import InputError


@pytest.mark.parametrize(
    ("pipeline", "component", "params"),
    [
        # SD2 inpainting UNet: the SD2 UNet (865,910,724) with conv_in taking 9 channels
        # instead of 4: 5 more channels * 3*3 taps * 320 filters = 14,400 more
        ("sd2-inpaint", "unet", 865_910_724 + 5 * 9 * 320),
        ("sd2-inpaint", "vae", 83_653_863),
        ("sd2-inpaint", "text_encoder", 340_387_840),
        ("sd15-inpaint", "unet", 859_520_964 + 5 * 9 * 320),  # SD1.5 UNet + 14,400
        ("sd15-inpaint", "vae", 83_653_863),
        ("sd15-inpaint", "text_encoder", 123_060_480),
        ("taesd", "vae", 2_445_063),
    ],
)
def test_parameter_counts_exact(pipeline, component, params):
    assert count_params(build_model(pipeline, component)) == params


def test_four_channel_sd2_unet_is_the_published_865_910_724():
    config = load_config("sd2-inpaint", "unet")
    config["in_channels"] = 4
    assert count_params(build_from_config(config)) == 865_910_724


def test_vae_halves_and_text_tower_shape():
    vae = build_model("sd2-inpaint", "vae")
    assert count_params(vae.encoder) + count_params(vae.quant_conv) == 34_163_664
    assert count_params(vae.decoder) + count_params(vae.post_quant_conv) == 49_490_199
    text = build_model("sd2-inpaint", "text_encoder")
    assert text.config.hidden_size == 1024 and text.config.num_hidden_layers == 23
    assert text.config.num_attention_heads == 16 and text.config.intermediate_size == 4096


def test_meta_by_default_and_seeded_on_cpu():
    assert next(build_model("taesd", "vae").parameters()).device.type == "meta"
    a = build_model("taesd", "vae", device="cpu", seed=1)
    b = build_model("taesd", "vae", device="cpu", seed=1)
    c = build_model("taesd", "vae", device="cpu", seed=2)
    pa, pb, pc = (next(m.parameters()) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    half = build_model("taesd", "vae", device="cpu", dtype="fp16")
    assert next(half.parameters()).dtype == torch.float16


def test_attention_modes():
    from diffusers.models.attention_processor import AttnProcessor

    unet = build_model("sd2-inpaint", "unet", attention="matmul")
    assert all(isinstance(p, AttnProcessor) for p in unet.attn_processors.values())
    text = build_model("sd2-inpaint", "text_encoder", attention="matmul")
    assert text.config._attn_implementation == "eager"


def test_bad_inputs():
    with pytest.raises(InputError, match="pipeline"):
        build_model("sdxl", "unet")
    with pytest.raises(InputError, match="component"):
        build_model("taesd", "unet")
    with pytest.raises(InputError, match="attention"):
        build_model("taesd", "vae", attention="flash")
    with pytest.raises(InputError, match="dtype"):
        build_model("taesd", "vae", dtype="fp64")
