"""A full-size Stable Diffusion 2 inpainting pipeline with random weights.

The UNet (866 M parameters, 9 input channels), the KL autoencoder and the OpenCLIP text tower
are built at their published sizes from the configs shipped in :mod:`zoomwatt.archs` (through
:func:`zoomwatt.archs.build.build_model`), with weights drawn from a seed; the tokenizer is the
byte-level CLIP tokenizer of :mod:`zoomwatt.archs.tiny` and the scheduler SD2's PNDM. Nothing is
downloaded.

Such a pipeline does exactly the work of the real one (same layers, shapes, data types and
kernels), so it is honest for **speed, memory and energy**. Its pictures are noise: it says
nothing about **image quality**, and figures measured on it must say so. With the same seed, two
runs build bit-identical weights, so a fast path can be checked against the plain pipeline on
it (same inputs, same noise, compare the outputs).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zoomwatt.errors import InputError

log = logging.getLogger(__name__)

PIPELINE = "sd2-inpaint"
VAES = ("default", "taesd")
RANDOM_WEIGHTS_NOTE = (
    "random weights: honest for speed, memory and energy, meaningless for image quality"
)


def _check(dtype: str, vae: str) -> None:
    from zoomwatt.archs.build import TORCH_DTYPES

    if dtype not in TORCH_DTYPES:
        raise InputError("dtype", dtype, f"one of {', '.join(TORCH_DTYPES)}")
    if vae not in VAES:
        raise InputError("vae", vae, f"one of {', '.join(VAES)}")


def build_random_taesd(device: str = "cpu", dtype: str = "fp32", seed: int = 0) -> Any:
    """TAESD (diffusers ``AutoencoderTiny``, 2.4 M parameters) with random weights: a drop-in
    encoder and decoder for SD 1.x/2.x latents, about 100x cheaper than the KL autoencoder."""
    from zoomwatt.archs.build import build_model

    _check(dtype, "taesd")
    return build_model("taesd", "vae", device=device, dtype=dtype, seed=seed)


def build_random_sd2_inpaint(
    device: str = "cpu",
    dtype: str = "fp32",
    seed: int = 0,
    vae: str = "default",
    attention: str = "sdpa",
) -> Any:
    """A ``diffusers.StableDiffusionInpaintPipeline`` at full SD2 size with random weights.

    ``seed`` draws every model's weights (each model from its own offset of it, so adding a
    model never changes another's weights). ``vae="taesd"`` puts TAESD in place of the KL
    autoencoder. The pipeline is on ``device`` in ``dtype`` (``fp32``, ``fp16``, ``bf16``),
    with no safety checker, and its progress bar off.
    """
    # 1. Check inputs.
    _check(dtype, vae)

    # 2. Build the models (weights drawn on the target device, then cast).
    from diffusers import StableDiffusionInpaintPipeline

    from zoomwatt.archs.build import build_model
    from zoomwatt.archs.tiny import byte_clip_tokenizer, sd2_pndm_scheduler

    log.info("building a random full-size SD2 inpainting pipeline on %s (%s)", device, dtype)
    unet = build_model(PIPELINE, "unet", device=device, dtype=dtype, seed=seed, attention=attention)
    text_encoder = build_model(
        PIPELINE, "text_encoder", device=device, dtype=dtype, seed=seed + 1, attention=attention
    )
    if vae == "taesd":
        autoencoder = build_random_taesd(device, dtype, seed + 2)
    else:
        autoencoder = build_model(
            PIPELINE, "vae", device=device, dtype=dtype, seed=seed + 2, attention=attention
        )

    # 3. Wire the pipeline.
    pipe = StableDiffusionInpaintPipeline(
        vae=autoencoder,
        text_encoder=text_encoder,
        tokenizer=byte_clip_tokenizer(),
        unet=unet,
        scheduler=sd2_pndm_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def write_random_sd2_inpaint(
    folder: str | Path, dtype: str = "fp16", seed: int = 0, device: str = "cpu"
) -> Path:
    """Build the random full-size pipeline and save it (safetensors) to ``folder``, so that the
    ordinary loader (``zoomwatt zoom --backend sd2 --model FOLDER``) runs it. In fp16 it takes
    about 2.6 GB of disk. Returns the folder."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError("folder", str(folder), "a folder that does not exist yet or is empty")
    pipe = build_random_sd2_inpaint(device=device, dtype=dtype, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    (folder / "RANDOM_WEIGHTS.txt").write_text(
        f"Stable Diffusion 2 inpainting at full size with {RANDOM_WEIGHTS_NOTE} "
        f"(seed {seed}, {dtype}), written by zoomwatt.archs.random_pipeline.\n",
        encoding="utf-8",
    )
    log.info("wrote a random SD2 inpainting pipeline to %s", folder)
    return folder
