"""Which architectures ship with zoomwatt, and which config file describes each model.

Configs are the published ``config.json`` files of the models (diffusers for the UNet and the
autoencoders, transformers for the text encoders), written into the package so that no weights
or network are needed. Keys starting with ``_`` are ours (class name, source) and are not passed
to the model class.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from zoomwatt.errors import InputError

PIPELINES: tuple[str, ...] = ("sd2-inpaint", "sd15-inpaint")
"""The inpainting pipelines the workload layer traces today (a UNet, a VAE, one text encoder).
Every shipped pipeline, txt2img ones included: :data:`ALL_PIPELINES`."""

TXT2IMG_PIPELINES: tuple[str, ...] = ("sd15", "sd21-base", "sd21", "sdxl-base", "sd-turbo")
"""Text-to-image pipelines (no VAE encoder call); described in :mod:`zoomwatt.archs.pipelines`."""

ALL_PIPELINES: tuple[str, ...] = (*PIPELINES, *TXT2IMG_PIPELINES)
"""Every shipped pipeline, as the command line names it."""

ARCHITECTURES: tuple[str, ...] = (*ALL_PIPELINES, "taesd")
"""Everything :func:`load_config` knows: the pipelines plus the tiny autoencoder TAESD."""

VAES: tuple[str, ...] = ("default", "taesd")
"""VAE choices for a pipeline: its own AutoencoderKL, or TAESD (a drop-in for SD 1.x and 2.x)."""

COMPONENTS: tuple[str, ...] = ("text_encoder", "unet", "vae")
ALL_COMPONENTS: tuple[str, ...] = ("text_encoder", "text_encoder_2", "unet", "vae")
"""Every component a shipped pipeline may have (``text_encoder_2``: SDXL's second encoder)."""

ATTENTION_MODES: tuple[str, ...] = ("sdpa", "matmul")
"""How attention runs: ``sdpa`` calls ``torch.nn.functional.scaled_dot_product_attention`` (the
libraries' default: one fused kernel on real devices); ``matmul`` is the explicit path, QK^T and
AV as batched matmuls with the score matrix written out and a softmax between them."""

_CONFIG_FILES: dict[tuple[str, str], str] = {
    ("sd2-inpaint", "unet"): "sd2_inpaint_unet.json",
    ("sd2-inpaint", "vae"): "sd2_inpaint_vae.json",
    ("sd2-inpaint", "text_encoder"): "sd2_inpaint_text_encoder.json",
    ("sd15-inpaint", "unet"): "sd15_inpaint_unet.json",
    ("sd15-inpaint", "vae"): "sd15_inpaint_vae.json",
    ("sd15-inpaint", "text_encoder"): "sd15_inpaint_text_encoder.json",
    ("taesd", "vae"): "taesd_vae.json",
    # Models shared by several pipelines are shipped once: these files hold the same
    # architecture keys as each pipeline's published config.json (only `sample_size`, which
    # sizes no layer, differs in the SD 2.x autoencoders: 512 or 768).
    ("sd15", "unet"): "sd15_unet.json",
    ("sd15", "vae"): "sd15_inpaint_vae.json",
    ("sd15", "text_encoder"): "sd15_inpaint_text_encoder.json",
    ("sd21-base", "unet"): "sd21_base_unet.json",
    ("sd21-base", "vae"): "sd2_inpaint_vae.json",
    ("sd21-base", "text_encoder"): "sd2_inpaint_text_encoder.json",
    ("sd21", "unet"): "sd21_unet.json",
    ("sd21", "vae"): "sd2_inpaint_vae.json",
    ("sd21", "text_encoder"): "sd2_inpaint_text_encoder.json",
    ("sd-turbo", "unet"): "sd21_base_unet.json",
    ("sd-turbo", "vae"): "sd2_inpaint_vae.json",
    ("sd-turbo", "text_encoder"): "sd2_inpaint_text_encoder.json",
    ("sdxl-base", "unet"): "sdxl_base_unet.json",
    ("sdxl-base", "vae"): "sdxl_base_vae.json",
    ("sdxl-base", "text_encoder"): "sd15_inpaint_text_encoder.json",  # CLIP ViT-L/14, as SD 1.5
    ("sdxl-base", "text_encoder_2"): "sdxl_base_text_encoder_2.json",
}

# Where each shared file stands for a published config of another pipeline: load_config sets
# `_source` to this, so that a config names where it was published and the file shipping it.
_SD2_TEXT = "text_encoder/config.json (transformers): OpenCLIP ViT-H/14 text tower, 23 of 24 layers"
_SD2_VAE = "vae/config.json (diffusers): the SD autoencoder (sample_size 768 there)"
_PUBLISHED_AS: dict[tuple[str, str], str] = {
    ("sd15", "vae"): "runwayml/stable-diffusion-v1-5, vae/config.json (diffusers)",
    ("sd15", "text_encoder"): (
        "runwayml/stable-diffusion-v1-5, text_encoder/config.json (transformers): the text "
        "tower of OpenAI CLIP ViT-L/14"
    ),
    ("sd21-base", "vae"): "stabilityai/stable-diffusion-2-1-base, " + _SD2_VAE,
    ("sd21-base", "text_encoder"): "stabilityai/stable-diffusion-2-1-base, " + _SD2_TEXT,
    ("sd21", "vae"): "stabilityai/stable-diffusion-2-1, " + _SD2_VAE,
    ("sd21", "text_encoder"): "stabilityai/stable-diffusion-2-1, " + _SD2_TEXT,
    ("sd-turbo", "unet"): (
        "stabilityai/sd-turbo: SD 2.1 fine-tuned by adversarial diffusion distillation; its "
        "architecture is the 512 px SD 2.1 UNet (Stability's turbo demo builds it from "
        "configs/inference/sd_2_1.yaml)"
    ),
    ("sd-turbo", "vae"): "stabilityai/sd-turbo: the SD 2.1 autoencoder",
    ("sd-turbo", "text_encoder"): "stabilityai/sd-turbo: the SD 2.1 text encoder",
    ("sdxl-base", "text_encoder"): (
        "stabilityai/stable-diffusion-xl-base-1.0, text_encoder/config.json (transformers): "
        "CLIP ViT-L/14 text tower, all 12 layers (the published file, 565 bytes, sha256 "
        "39b8b2e4...1fe7f)"
    ),
}


def check_architecture(pipeline: str, component: str) -> None:
    """Raise :class:`InputError` unless ``(pipeline, component)`` ships with the package."""
    if pipeline not in ARCHITECTURES:
        raise InputError("pipeline", pipeline, f"one of {', '.join(ARCHITECTURES)}")
    if (pipeline, component) not in _CONFIG_FILES:
        known = sorted(c for p, c in _CONFIG_FILES if p == pipeline)
        raise InputError("component", component, f"one of {', '.join(known)} for {pipeline}")


@cache
def _read_config(filename: str) -> str:
    return resources.files("zoomwatt.archs").joinpath(filename).read_text(encoding="utf-8")


def load_config(pipeline: str, component: str) -> dict[str, Any]:
    """The shipped config of one model, as a fresh dict (``_class_name`` and ``_source``
    included)."""
    check_architecture(pipeline, component)
    config = json.loads(_read_config(_CONFIG_FILES[(pipeline, component)]))
    published = _PUBLISHED_AS.get((pipeline, component))
    if published is not None:
        config["_source"] = f"{published}; shipped as {_CONFIG_FILES[(pipeline, component)]}"
    return config


def config_file(pipeline: str, component: str) -> str:
    """The name of the shipped JSON file a model's config is read from (shared files are
    shipped once and named by the first pipeline that used them)."""
    check_architecture(pipeline, component)
    return _CONFIG_FILES[(pipeline, component)]


def components_of(pipeline: str) -> tuple[str, ...]:
    """The components shipped for ``pipeline``, in :data:`ALL_COMPONENTS` order."""
    if pipeline not in ARCHITECTURES:
        raise InputError("pipeline", pipeline, f"one of {', '.join(ARCHITECTURES)}")
    return tuple(c for c in ALL_COMPONENTS if (pipeline, c) in _CONFIG_FILES)
