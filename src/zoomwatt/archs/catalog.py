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
"""Diffusion pipelines with a UNet, a VAE and a text encoder."""

ARCHITECTURES: tuple[str, ...] = (*PIPELINES, "taesd")
"""Everything :func:`load_config` knows: the pipelines plus the tiny autoencoder TAESD."""

VAES: tuple[str, ...] = ("default", "taesd")
"""VAE choices for a pipeline: its own AutoencoderKL, or TAESD (a drop-in for SD 1.x and 2.x)."""

COMPONENTS: tuple[str, ...] = ("text_encoder", "unet", "vae")

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
    return json.loads(_read_config(_CONFIG_FILES[(pipeline, component)]))
