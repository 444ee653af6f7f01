"""Characterize the zoom pipeline: trace each model once, then roll up for the use case.

Stages and how often they run (``USE_CASE.md``):

- ``text_encoder``: once per prompt change, twice with classifier-free guidance (diffusers
  encodes the prompt and the negative prompt as two batch-1 calls). With one prompt for the
  whole video it costs nothing per keyframe; ``prompt_every`` amortises it over keyframes.
- ``vae_encoder``: once per keyframe, on the masked image (strength 1: the 9-channel pipeline
  encodes only the masked image).
- ``unet``: once per denoising step, at batch 2 with classifier-free guidance.
- ``vae_decoder``: once per keyframe.
- ``frame_ops``: one keyframe interval of non-model work (see :mod:`.frame_ops`).

Per output frame is per keyframe divided by ``every`` (one keyframe in ``every`` output frames);
per second is per output frame times ``fps``.

Each traced stage call is kept in the workload cache on disk (:mod:`.trace_cache`): with a warm
cache, characterizing imports neither torch nor diffusers nor transformers. This module imports
them only when it has to trace.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from zoomwatt.archs.catalog import ATTENTION_MODES, PIPELINES, VAES
from zoomwatt.errors import InputError
from zoomwatt.workload import trace_cache
from zoomwatt.workload.frame_ops import count_frame_ops
from zoomwatt.workload.records import MODEL_DTYPES, Trace
from zoomwatt.workload.results import StageWorkload, Totals, WorkloadReport, by_class

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("text_encoder", "vae_encoder", "unet", "vae_decoder", "frame_ops")
TEXT_TOKENS = 77
MAX_SIZE = 8192


def default_activation_dtype(dtype: str) -> str:
    """Activations are counted in the weight dtype, except int4 weights, which run with int8
    activations (W4A8, as NPUs do): int4 activations are not a practical inference format."""
    return "int8" if dtype == "int4" else dtype


@dataclass(frozen=True)
class _StageSpec:
    name: str
    arch: str  # key of archs.catalog: a pipeline, or "taesd"
    component: str
    batch: int


@lru_cache(maxsize=16)
def _model(arch: str, component: str, attention: str) -> torch.nn.Module:
    from zoomwatt.archs.build import build_model

    return build_model(arch, component, device="meta", attention=attention)


def _meta(*shape: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    import torch

    return torch.empty(shape, dtype=dtype or torch.float32, device="meta")


@lru_cache(maxsize=64)
def _trace(spec: _StageSpec, size: int, dtype: str, activation_dtype: str, attention: str) -> Trace:
    """One traced call of a stage's model, cached: sweeps over steps, every, fps or cfg's
    call counts reuse it."""
    import torch

    from zoomwatt.workload.tracer import trace_call

    model = _model(spec.arch, spec.component, attention)
    latent = size // 8
    opts: dict[str, Any] = {"dtype": dtype, "activation_dtype": activation_dtype}
    if spec.name == "text_encoder":
        ids = _meta(spec.batch, TEXT_TOKENS, dtype=torch.long)
        return trace_call(model, model, ids, **opts)
    if spec.name == "vae_encoder":
        image = _meta(spec.batch, 3, size, size)
        return trace_call(model, model.encode, image, select_output=_latents, **opts)
    if spec.name == "unet":
        config = model.config
        sample = _meta(spec.batch, config.in_channels, latent, latent)
        context = _meta(spec.batch, TEXT_TOKENS, config.cross_attention_dim)
        return trace_call(model, model, sample, _meta(), context, **opts)
    if spec.name == "vae_decoder":
        latents = _meta(spec.batch, model.config.latent_channels, latent, latent)
        return trace_call(model, model.decode, latents, **opts)
    raise ValueError(spec.name)  # unreachable: specs are built below


def _stage_trace(spec: _StageSpec, size: int, dtype: str, activation_dtype: str, attention: str,
                 cache: bool) -> tuple[Trace, str]:  # fmt: skip
    """The traced call of a stage and its model's class name: from the workload cache when
    ``cache`` and an entry is there, else traced (and stored when ``cache``)."""
    key = None
    if cache:
        key = trace_cache.trace_key(spec.name, spec.arch, spec.component, spec.batch, size,
                                    dtype, activation_dtype, attention)  # fmt: skip
        hit = trace_cache.load_trace(key)
        if hit is not None:
            return hit
    trace = _trace(spec, size, dtype, activation_dtype, attention)
    model_class = _model(spec.arch, spec.component, attention).__class__.__name__
    if key is not None:
        trace_cache.save_trace(key, trace, model_class)
    return trace, model_class


def text_encoder_layer_params(pipeline: str, *, cache: bool = True) -> int:
    """Parameters of the text encoder's transformer layers alone (no embeddings, no final
    norm), from the workload cache when ``cache``."""
    key = None
    if cache:
        key = trace_cache.base_key() | {
            "kind": "text-layer-params",
            "config": trace_cache.config_digest(pipeline, "text_encoder"),
        }
        hit = trace_cache.load_entry("text-layers", key)
        if type(hit) is int and hit >= 0:
            return hit
    from zoomwatt.archs.build import count_params

    text_model = _model(pipeline, "text_encoder", "sdpa")
    text_model = getattr(text_model, "text_model", text_model)  # transformers < 5 nests it
    params = count_params(text_model.encoder)
    if key is not None:
        trace_cache.save_entry("text-layers", key, params)
    return params


def _latents(out: Any) -> torch.Tensor:
    """The latents of a VAE encode: the posterior mean (AutoencoderKL) or the latents
    (AutoencoderTiny)."""
    dist = getattr(out, "latent_dist", None)
    return dist.mean if dist is not None else out.latents


def _positive_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _check(
    pipeline: str, vae: str, size: int, steps: int, cfg: bool, dtype: str, every: int,
    fps: float, activation_dtype: str | None, attention: str, prompt_every: float | None,
    border_px: int | None, cache: bool = True,
) -> None:  # fmt: skip
    if pipeline not in PIPELINES:
        raise InputError("pipeline", pipeline, f"one of {', '.join(PIPELINES)}")
    if vae not in VAES:
        raise InputError("vae", vae, f"one of {', '.join(VAES)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 64 or size % 64:
        raise InputError("size", size, "an integer multiple of 64 (64, 128, ..., 512, ...)")
    if size > MAX_SIZE:
        raise InputError("size", size, f"at most {MAX_SIZE}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError("steps", steps, "an integer >= 1")
    if not isinstance(cfg, bool):
        raise InputError("cfg", cfg, "True or False")
    if dtype not in MODEL_DTYPES:
        raise InputError("dtype", dtype, f"one of {', '.join(MODEL_DTYPES)}")
    if activation_dtype is not None and activation_dtype not in MODEL_DTYPES:
        raise InputError("activation_dtype", activation_dtype, f"one of {', '.join(MODEL_DTYPES)}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InputError("every", every, "an integer >= 1 (output frames per keyframe)")
    if not _positive_number(fps):
        raise InputError("fps", fps, "a positive number of frames per second")
    if attention not in ATTENTION_MODES:
        raise InputError("attention", attention, f"one of {', '.join(ATTENTION_MODES)}")
    if prompt_every is not None and not _positive_number(prompt_every):
        raise InputError("prompt_every", prompt_every, "None or keyframes per prompt change > 0")
    if border_px is not None and (
        isinstance(border_px, bool) or not isinstance(border_px, int)
        or not 0 < border_px < size // 2
    ):  # fmt: skip
        raise InputError("border_px", border_px, f"an integer in 1..{size // 2 - 1}")
    if not isinstance(cache, bool):
        raise InputError("cache", cache, "True or False")


def _model_stage(spec: _StageSpec, trace: Trace, model_class: str, calls: float, note: str,
                 dtype: str, activation_dtype: str) -> StageWorkload:  # fmt: skip
    records = trace.records
    model = f"{model_class} ({spec.arch})"
    return StageWorkload(
        name=spec.name,
        model=model,
        batch=spec.batch,
        input_shapes=trace.input_shapes,
        output_shape=trace.output_shape,
        params=trace.params,
        weight_bytes=trace.weight_bytes,
        macs_per_call=sum(r.macs for r in records),
        flops_per_call=sum(r.flops for r in records),
        calls_per_keyframe=calls,
        macs_by_class=by_class(records, "macs"),
        flops_by_class=by_class(records, "flops"),
        activation_bytes_per_call=sum(r.input_bytes + r.output_bytes for r in records),
        peak_activation_bytes=trace.peak_activation_bytes,
        layers=list(records),
        dtype=dtype,
        activation_dtype=activation_dtype,
        note=note,
    )


def characterize(
    pipeline: str = "sd2-inpaint",
    vae: str = "default",
    size: int = 512,
    steps: int = 20,
    cfg: bool = True,
    dtype: str = "fp16",
    every: int = 30,
    fps: float = 30.0,
    *,
    activation_dtype: str | None = None,
    attention: str = "sdpa",
    prompt_every: float | None = None,
    border_px: int | None = None,
    cache: bool = True,
) -> WorkloadReport:
    """What the zoom asks of a machine: every layer of every model, counted, and rolled up per
    call, keyframe, output frame (1 keyframe in ``every``) and second of video at ``fps``.

    Models are built from the shipped configs on the meta device: no weights, no activations
    allocated, at any ``size`` (a multiple of 64). ``dtype`` is what weights are counted in;
    activations use ``activation_dtype`` (see :func:`default_activation_dtype`). ``attention``
    is ``sdpa`` (fused: score matrices stay on chip) or ``matmul`` (explicit, written out).
    ``prompt_every``: keyframes per prompt change (None: one prompt for the whole video).
    ``border_px``: the band the inpainter fills (default ``size // 4``: zoom 2x per keyframe).
    ``cache``: read and write the traced calls in the workload cache on disk (False: trace,
    and leave the cache alone); the report is the same either way.
    """
    # 1. Check inputs.
    _check(pipeline, vae, size, steps, cfg, dtype, every, fps, activation_dtype, attention,
           prompt_every, border_px, cache)  # fmt: skip
    act_dtype = activation_dtype or default_activation_dtype(dtype)
    border = border_px if border_px is not None else size // 4
    vae_arch = "taesd" if vae == "taesd" else pipeline
    unet_batch = 2 if cfg else 1
    text_calls_per_prompt = 2 if cfg else 1

    # 2. Trace each model once (cached across calls, and on disk).
    specs = [
        _StageSpec("text_encoder", pipeline, "text_encoder", 1),
        _StageSpec("vae_encoder", vae_arch, "vae", 1),
        _StageSpec("unet", pipeline, "unet", unet_batch),
        _StageSpec("vae_decoder", vae_arch, "vae", 1),
    ]
    if prompt_every is None:
        text_calls, text_note = (
            0.0,
            (
                f"once per prompt change ({text_calls_per_prompt} batch-1 call"
                f"{'s: prompt and negative prompt' if cfg else ''}); one prompt throughout, so 0 "
                "per keyframe"
            ),
        )
    else:
        text_calls = text_calls_per_prompt / prompt_every
        text_note = (
            f"{text_calls_per_prompt} call(s) per prompt change, one change every "
            f"{prompt_every:g} keyframes"
        )
    calls = {
        "text_encoder": (text_calls, text_note),
        "vae_encoder": (1.0, "the masked image, once per keyframe"),
        "unet": (
            float(steps),
            f"{steps} denoising steps per keyframe, batch {unet_batch}"
            + (" (classifier-free guidance)" if cfg else ""),
        ),
        "vae_decoder": (1.0, "once per keyframe"),
    }
    stages: list[StageWorkload] = []
    for spec in specs:
        trace, model_class = _stage_trace(spec, size, dtype, act_dtype, attention, cache)
        if trace.unknown_ops:
            log.warning("%s: ops without a cost formula (counted as 0 FLOPs): %s",
                        spec.name, ", ".join(trace.unknown_ops))  # fmt: skip
        n_calls, note = calls[spec.name]
        stages.append(_model_stage(spec, trace, model_class, n_calls, note, dtype, act_dtype))

    # 3. The non-model frame operations of one keyframe interval.
    frame = count_frame_ops(size, size, border, every, act_dtype)
    stages.append(
        StageWorkload(
            name="frame_ops",
            model="analytic (crop, resize, paste, colour conversion, video encode)",
            batch=1,
            input_shapes=((size, size, 3),),
            output_shape=(every, size, size, 3),
            params=0,
            weight_bytes=0.0,
            macs_per_call=0,
            flops_per_call=sum(r.flops for r in frame.records),
            calls_per_keyframe=1.0,
            macs_by_class=by_class(frame.records, "macs"),
            flops_by_class=by_class(frame.records, "flops"),
            activation_bytes_per_call=sum(r.input_bytes + r.output_bytes for r in frame.records),
            peak_activation_bytes=frame.peak_bytes,
            layers=list(frame.records),
            dtype="uint8",
            activation_dtype="uint8",
            note=f"one call = one keyframe interval: {every} output frames, {every - 1} "
            "in-between; uint8 frames",
        )
    )

    # 4. Roll up.
    per_keyframe = Totals.sum(s.per_keyframe for s in stages)
    per_output_frame = per_keyframe.scaled(1.0 / every)
    weights = sum(s.weight_bytes for s in stages)
    log.info("characterized %s at %dx%d: %.3g FLOPs per output frame", pipeline, size, size,
             per_output_frame.flops)  # fmt: skip
    return WorkloadReport(
        pipeline=pipeline,
        vae=vae,
        size=size,
        steps=steps,
        cfg=cfg,
        dtype=dtype,
        activation_dtype=act_dtype,
        every=every,
        fps=float(fps),
        attention=attention,
        prompt_every=prompt_every,
        border_px=border,
        stages=stages,
        per_keyframe=per_keyframe,
        per_output_frame=per_output_frame,
        per_second=per_output_frame.scaled(fps),
        weight_bytes=weights,
        peak_memory_bytes=weights + max(s.peak_activation_bytes for s in stages),
    )
