"""A tiny, randomly initialised Stable Diffusion 2 inpainting pipeline, saved to a folder.

Same classes and wiring as SD2 inpainting (9-input-channel UNet with linear-projection
attention, 8x-downsampling KL autoencoder, CLIP text tower, PNDM scheduler), with every width
shrunk so that a 64x64 inpainting call takes well under a second on a CPU. The pictures it makes
are noise: it exists to run the real loading and inference code without downloadable weights.
The tokenizer is a byte-level CLIP BPE with no merges, written next to the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TINY_TEXT_WIDTH = 32


def _byte_vocab() -> dict[str, int]:
    """CLIP's byte-to-unicode alphabet, each symbol alone and as a word end, plus the two
    special tokens: 514 tokens, enough to tokenize any text without merges."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    symbols = [chr(c) for c in codes]
    tokens = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}


def byte_clip_tokenizer(max_length: int = 77):
    """A CLIP tokenizer over :func:`_byte_vocab` (no merges): every byte is one token, so any
    text tokenizes, and nothing needs downloading. Used by the tiny and the random full-size
    pipelines; ``save_pretrained`` writes it next to the models."""
    import tempfile

    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory(prefix="zoomwatt-tokenizer-") as tmp:
        vocab_file = Path(tmp) / "vocab.json"
        merges_file = Path(tmp) / "merges.txt"
        vocab_file.write_text(json.dumps(_byte_vocab()), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n", encoding="utf-8")
        # transformers 5 names the files ``vocab``/``merges`` and ignores ``vocab_file``: with
        # the old names every text would be one unknown token (all prompts alike)
        import inspect

        names = inspect.signature(CLIPTokenizer.__init__).parameters
        files = ("vocab", "merges") if "vocab" in names else ("vocab_file", "merges_file")
        return CLIPTokenizer(
            **{files[0]: str(vocab_file), files[1]: str(merges_file)},
            model_max_length=max_length,
            pad_token="<|endoftext|>",
        )


def sd2_pndm_scheduler():
    """The PNDM (PLMS) scheduler of SD2 inpainting, as its published scheduler config sets it."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def tiny_sd2_inpaint_models(seed: int = 0) -> tuple[Any, Any, Any]:
    """The tiny pipeline's (text encoder, UNet, VAE), in memory, weights drawn from ``seed``:
    the SD 2 inpainting classes at widths 16-64 (also what the host calibration times for the
    per-kernel cost of the pipeline's own code)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    vocab = _byte_vocab()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=9,  # 4 noisy latents + 1 mask + 4 masked-image latents
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        cross_attention_dim=TINY_TEXT_WIDTH,
        attention_head_dim=(2, 4),
        use_linear_projection=True,  # as in SD2
        norm_num_groups=16,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(16, 16, 16, 16),  # four blocks: 8x downsampling, as in SD
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=TINY_TEXT_WIDTH,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="gelu",
            projection_dim=TINY_TEXT_WIDTH,
            bos_token_id=vocab["<|startoftext|>"],
            eos_token_id=vocab["<|endoftext|>"],
            pad_token_id=vocab["<|endoftext|>"],
        )
    )
    return text_encoder, unet, vae


def write_tiny_sd2_inpaint(folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny pipeline with weights drawn from ``seed`` and save it (safetensors) to
    ``folder``, which must not exist yet or be empty. Returns the folder."""
    from diffusers import StableDiffusionInpaintPipeline

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = byte_clip_tokenizer()
    text_encoder, unet, vae = tiny_sd2_inpaint_models(seed)
    scheduler = sd2_pndm_scheduler()
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
