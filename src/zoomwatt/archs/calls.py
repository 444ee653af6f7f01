"""Which model calls a pipeline makes per picture, and example inputs for tracing one call.

Any :class:`~zoomwatt.archs.pipelines.PipelineSpec` is traced the same way::

    for call in pipeline_calls(spec):
        model = build_component(spec, call.component)        # meta device: no weights
        inputs = example_inputs(spec, call.stage, call.batch(images), size_px)
        trace_call(model, inputs.bound(model), *inputs.args, **inputs.kwargs)

and a picture costs, summed over the calls: ``calls`` times the traced call, times ``steps``
for the UNet (``per == "step"``), once per picture for the VAE (``per == "image"``) and once
per prompt change for the text encoders (``per == "prompt"``).

What the diffusers pipelines do, call by call:

- each text encoder: the prompt's 77 token ids; with classifier-free guidance a second call
  for the negative prompt, except where the pipeline zeroes the negative embeddings
  (SDXL's ``force_zeros_for_empty_prompt``, when no negative prompt is given). SDXL calls both
  encoders with ``output_hidden_states=True`` (it uses their penultimate layer, and the
  second encoder's pooled, projected embedding);
- the VAE encoder, for inpainting only: once per picture, on the masked picture (with a
  9-channel UNet at full strength the picture itself is not encoded); txt2img has none;
- the UNet: once per denoising step, at twice the batch with guidance (conditioned and
  unconditioned in one batch); SDXL adds ``added_cond_kwargs``: ``text_embeds`` (B, 1280),
  the pooled embedding, and ``time_ids`` (B, 6): original size, crop corner, target size;
- the VAE decoder: once per picture.

``example_inputs`` needs torch; the rest of this module does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zoomwatt.archs.pipelines import PipelineSpec
from zoomwatt.errors import InputError

if TYPE_CHECKING:
    import torch

STAGES: tuple[str, ...] = ("text_encoder", "text_encoder_2", "vae_encoder", "unet", "vae_decoder")
PER: tuple[str, ...] = ("prompt", "step", "image")
MAX_BATCH = 1024
MAX_SIZE_PX = 8192


@dataclass(frozen=True)
class ModelCall:
    """One kind of model call of a pipeline.

    ``component``: the module called (``vae`` for both VAE stages); ``method``: None for the
    module's forward, else ``encode`` / ``decode``; ``calls``: calls per ``per`` (a prompt
    change, a denoising step, a picture); ``batch_multiplier``: 2 for the UNet with guidance.
    """

    stage: str
    component: str
    method: str | None
    per: str
    calls: int
    batch_multiplier: int = 1

    def batch(self, images: int = 1) -> int:
        """The call's batch when ``images`` pictures are made together, one prompt each."""
        return images * self.batch_multiplier


def text_calls_per_prompt(spec: PipelineSpec, cfg: bool, negative_prompt: bool = False) -> int:
    """Calls of each text encoder per prompt change: 2 with guidance (prompt and negative
    prompt), 1 without, or with zeroed negative embeddings (SDXL, no negative prompt)."""
    if not cfg or (spec.force_zeros_for_empty_prompt and not negative_prompt):
        return 1
    return 2


def pipeline_calls(
    spec: PipelineSpec, cfg: bool | None = None, negative_prompt: bool = False
) -> tuple[ModelCall, ...]:
    """The model calls of one picture, in the order the pipeline makes them (``cfg``: the
    spec's default when None)."""
    cfg = spec.cfg if cfg is None else cfg
    per_prompt = text_calls_per_prompt(spec, cfg, negative_prompt)
    calls = [ModelCall(name, name, None, "prompt", per_prompt) for name in spec.text_encoders]
    if spec.has_vae_encoder_call:
        calls.append(ModelCall("vae_encoder", "vae", "encode", "image", 1))
    calls.append(ModelCall("unet", "unet", None, "step", 1, 2 if cfg else 1))
    calls.append(ModelCall("vae_decoder", "vae", "decode", "image", 1))
    return tuple(calls)


def _check_call(spec: PipelineSpec, stage: str, batch: int, size_px: int) -> None:
    stages = [c.stage for c in pipeline_calls(spec, cfg=True)]
    if stage not in stages:
        raise InputError("stage", stage, f"one of {', '.join(stages)} for {spec.name}")
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= MAX_BATCH:
        raise InputError("batch", batch, f"an integer from 1 to {MAX_BATCH}")
    step = spec.size_multiple_px
    if not isinstance(size_px, int) or isinstance(size_px, bool) or size_px < step:
        raise InputError("size_px", size_px, f"a positive multiple of {step} px")
    if size_px % step or size_px > MAX_SIZE_PX:
        raise InputError("size_px", size_px, f"a multiple of {step} px, at most {MAX_SIZE_PX}")


def _pooled_and_time_ids(spec: PipelineSpec) -> tuple[int, int]:
    """SDXL's added conditioning widths: the pooled text embedding (the last text encoder's
    projection) and the number of time ids (what remains of the UNet's added embedding)."""
    unet = spec.config("unet")
    pooled = int(spec.config(spec.text_encoders[-1])["projection_dim"])
    per_id = int(unet["addition_time_embed_dim"])
    return pooled, (int(unet["projection_class_embeddings_input_dim"]) - pooled) // per_id


def call_shapes(
    spec: PipelineSpec, stage: str, batch: int = 1, size_px: int | None = None
) -> dict[str, tuple[int, ...]]:
    """The shapes of one call's inputs, by argument name, in call order (``size_px``: the
    spec's native size when None). Token ids are integers, the rest floating point."""
    size_px = spec.native_size_px if size_px is None else size_px
    _check_call(spec, stage, batch, size_px)
    latent = size_px // spec.vae_scale_factor
    if stage.startswith("text_encoder"):
        return {"input_ids": (batch, int(spec.config(stage)["max_position_embeddings"]))}
    vae = spec.config("vae")
    if stage == "vae_encoder":
        return {"sample": (batch, int(vae.get("in_channels", 3)), size_px, size_px)}
    if stage == "vae_decoder":
        return {"z": (batch, int(vae.get("latent_channels", 4)), latent, latent)}
    unet = spec.config("unet")
    tokens = int(spec.config(spec.text_encoders[0])["max_position_embeddings"])
    shapes = {
        "sample": (batch, int(unet.get("in_channels", 4)), latent, latent),
        "timestep": (),
        "encoder_hidden_states": (batch, tokens, int(unet["cross_attention_dim"])),
    }
    if spec.added_conditioning == "text_time":
        pooled, time_ids = _pooled_and_time_ids(spec)
        shapes |= {"text_embeds": (batch, pooled), "time_ids": (batch, time_ids)}
    return shapes


@dataclass(frozen=True)
class ExampleInputs:
    """Meta tensors for one call: ``method(*args, **kwargs)`` of the component's module."""

    method: str | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def bound(self, module: torch.nn.Module) -> Any:
        """What to call: the module itself, or its ``encode`` / ``decode``."""
        return module if self.method is None else getattr(module, self.method)


def example_inputs(
    spec: PipelineSpec, stage: str, batch: int = 1, size_px: int | None = None
) -> ExampleInputs:
    """Meta-device inputs of one call, shaped by :func:`call_shapes` (no memory used)."""
    import torch

    shapes = call_shapes(spec, stage, batch, size_px)

    def meta(name: str) -> torch.Tensor:
        dtype = torch.long if name == "input_ids" else torch.float32
        return torch.empty(shapes[name], dtype=dtype, device="meta")

    method = {"vae_encoder": "encode", "vae_decoder": "decode"}.get(stage)
    if stage.startswith("text_encoder"):
        xl = spec.added_conditioning == "text_time"  # SDXL reads the encoders' hidden states
        kwargs = {"output_hidden_states": True} if xl else {}
        return ExampleInputs(None, (meta("input_ids"),), kwargs)
    if stage != "unet":
        return ExampleInputs(method, (meta(next(iter(shapes))),), {})
    args = (meta("sample"), meta("timestep"), meta("encoder_hidden_states"))
    kwargs: dict[str, Any] = {}
    if "time_ids" in shapes:
        kwargs["added_cond_kwargs"] = {"text_embeds": meta("text_embeds"),
                                       "time_ids": meta("time_ids")}  # fmt: skip
    return ExampleInputs(None, args, kwargs)
