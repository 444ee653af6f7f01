"""Build the shipped architectures as diffusers / transformers modules, without weights.

On the ``meta`` device (the default) a module has shapes but no storage: building the SD2 UNet
takes a fraction of a second and no memory, which is all workload analysis needs. On a real
device (``"cpu"``, ``"cuda"``) the weights are drawn at random from ``seed``, so full-size models
can be timed without downloading anything.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from zoomwatt.archs.catalog import ATTENTION_MODES, load_config
from zoomwatt.errors import InputError

if TYPE_CHECKING:
    from zoomwatt.archs.pipelines import PipelineSpec

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


MODEL_CLASSES: tuple[str, ...] = (
    "UNet2DConditionModel",
    "AutoencoderKL",
    "AutoencoderTiny",
    "CLIPTextModel",
    "CLIPTextModelWithProjection",
)
_TEXT_CLASSES = ("CLIPTextModel", "CLIPTextModelWithProjection")


def _model_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if not key.startswith("_")}


def _known_kwargs(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keys ``cls`` takes; the others are dropped with a warning, as diffusers'
    ``from_config`` does (a folder saved by a newer diffusers may carry keys this one lacks)."""
    import inspect

    accepted = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return kwargs
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        log.warning("%s ignores config keys it does not know: %s", cls.__name__, unknown)
    return {key: value for key, value in kwargs.items() if key in accepted}


def _construct(class_name: str, kwargs: dict[str, Any], attention: str) -> torch.nn.Module:
    """The module, on the current default device, with the chosen attention path."""
    if class_name in _TEXT_CLASSES:
        import transformers

        model = getattr(transformers, class_name)(transformers.CLIPTextConfig(**kwargs))
        model.set_attn_implementation("sdpa" if attention == "sdpa" else "eager")
        return model
    import diffusers

    cls = getattr(diffusers, class_name)
    model = cls(**_known_kwargs(cls, kwargs))
    if attention == "matmul" and hasattr(model, "set_attn_processor"):
        from diffusers.models.attention_processor import AttnProcessor

        model.set_attn_processor(AttnProcessor())
    return model


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
    if class_name not in MODEL_CLASSES:
        raise InputError(
            "config['_class_name']",
            class_name,
            f"{', '.join(MODEL_CLASSES[:-1])} or {MODEL_CLASSES[-1]}",
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
        model = _construct(class_name, kwargs, attention)

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
    """One shipped model: ``pipeline`` one of
    :data:`~zoomwatt.archs.catalog.ALL_PIPELINES` (components ``unet``, ``vae``,
    ``text_encoder``, and ``text_encoder_2`` for ``sdxl-base``) or ``taesd`` (component
    ``vae``).

    >>> unet = build_model("sd2-inpaint", "unet")  # meta device: shapes only
    >>> sum(p.numel() for p in unet.parameters())
    865925124
    """
    return build_from_config(load_config(pipeline, component), device, dtype, seed, attention)


def build_component(
    spec: PipelineSpec,
    component: str,
    device: str | torch.device = "meta",
    dtype: str | torch.dtype = torch.float32,
    seed: int = 0,
    attention: str = "sdpa",
) -> torch.nn.Module:
    """One component of a pipeline spec (shipped, or read from a folder by
    :func:`zoomwatt.archs.model_dir.read_model_dir`): ``text_encoder``, ``text_encoder_2``,
    ``unet`` or ``vae``."""
    return build_from_config(spec.config(component), device, dtype, seed, attention)


def count_params(module: torch.nn.Module) -> int:
    """Number of parameters (shared ones once)."""
    return sum(p.numel() for p in module.parameters())
