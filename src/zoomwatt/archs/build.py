"""Build the shipped architectures as diffusers / transformers modules, without weights.

On the ``meta`` device (the default) a module has shapes but no storage: building the SD2 UNet
takes a fraction of a second and no memory, which is all workload analysis needs. On a real
device (``"cpu"``, ``"cuda"``) the weights are drawn at random from ``seed``, so full-size models
can be timed without downloading anything.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from zoomwatt.archs.catalog import ATTENTION_MODES, load_config
from zoomwatt.errors import InputError

log = logging.getLogger(__name__)

TORCH_DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}


def _torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in TORCH_DTYPES.values():
            raise InputError("dtype", dtype, "torch.float32, torch.float16 or torch.bfloat16")
        return dtype
    if dtype not in TORCH_DTYPES:
        raise InputError("dtype", dtype, f"one of {', '.join(TORCH_DTYPES)} or a torch.dtype")
    return TORCH_DTYPES[dtype]


def _model_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if not key.startswith("_")}


def build_from_config(
    config: dict[str, Any],
    device: str | torch.device = "meta",
    dtype: str | torch.dtype = torch.float32,
    seed: int = 0,
    attention: str = "sdpa",
) -> torch.nn.Module:
    """Build the module a config describes (its ``_class_name`` picks the class), in eval mode.

    ``device="meta"`` allocates nothing; any other device gets weights drawn from ``seed``.
    """
    # 1. Check inputs.
    class_name = config.get("_class_name")
    if class_name not in (
        "UNet2DConditionModel",
        "AutoencoderKL",
        "AutoencoderTiny",
        "CLIPTextModel",
    ):
        raise InputError(
            "config['_class_name']",
            class_name,
            "UNet2DConditionModel, AutoencoderKL, AutoencoderTiny or CLIPTextModel",
        )
    if attention not in ATTENTION_MODES:
        raise InputError("attention", attention, f"one of {', '.join(ATTENTION_MODES)}")
    torch_dtype = _torch_dtype(dtype)
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(
            "device", device, "a torch device such as 'meta', 'cpu' or 'cuda'"
        ) from exc

    # 2. Construct the module on the target device (seeded when weights are real).
    kwargs = _model_kwargs(config)
    if device.type != "meta":
        torch.manual_seed(seed)
    with torch.device(device):
        if class_name == "CLIPTextModel":
            from transformers import CLIPTextConfig, CLIPTextModel

            model = CLIPTextModel(CLIPTextConfig(**kwargs))
            model.set_attn_implementation("sdpa" if attention == "sdpa" else "eager")
        else:
            import diffusers

            model = getattr(diffusers, class_name)(**kwargs)
            if attention == "matmul" and hasattr(model, "set_attn_processor"):
                from diffusers.models.attention_processor import AttnProcessor

                model.set_attn_processor(AttnProcessor())

    # 3. Cast and freeze.
    if torch_dtype != torch.float32:
        model = model.to(torch_dtype)
    model.eval()
    model.requires_grad_(False)
    log.debug("built %s on %s (%s, attention=%s)", class_name, device, torch_dtype, attention)
    return model


def build_model(
    pipeline: str,
    component: str,
    device: str | torch.device = "meta",
    dtype: str | torch.dtype = torch.float32,
    seed: int = 0,
    attention: str = "sdpa",
) -> torch.nn.Module:
    """One shipped model: ``pipeline`` in ``sd2-inpaint``, ``sd15-inpaint`` (components
    ``unet``, ``vae``, ``text_encoder``) or ``taesd`` (component ``vae``).

    >>> unet = build_model("sd2-inpaint", "unet")  # meta device: shapes only
    >>> sum(p.numel() for p in unet.parameters())
    865925124
    """
    return build_from_config(load_config(pipeline, component), device, dtype, seed, attention)


def count_params(module: torch.nn.Module) -> int:
    """Number of parameters (shared ones once)."""
    return sum(p.numel() for p in module.parameters())
