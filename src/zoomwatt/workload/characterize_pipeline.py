"""Characterize the zoom pipeline: trace each model once, then roll up for the use case.

Stages (:class:`~zoomwatt.workload.stages.StageName`) and how often they run (``USE_CASE.md``):

- the text encoder: once per prompt change, twice with classifier-free guidance (diffusers
  encodes the prompt and the negative prompt as two batch-1 calls). With one prompt for the
  whole video it costs nothing per keyframe; ``prompt_every`` amortises it over keyframes.
- the VAE encoder: once per keyframe, on the masked image (strength 1: the 9-channel pipeline
  encodes only the masked image).
- the UNet: once per denoising step, at batch 2 with classifier-free guidance.
- the VAE decoder: once per keyframe.
- the frame operations: one keyframe interval of non-model work (see :mod:`.frame_ops`).

Per output frame is per keyframe divided by ``every`` (one keyframe in ``every`` output frames);
per second is per output frame times ``fps``.

Each traced stage call is kept in the workload cache on disk (:mod:`.trace_cache`): with a warm
cache, characterizing imports neither torch nor diffusers nor transformers. This module imports
them only when it has to trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from zoomwatt.errors import InputError
from zoomwatt.workload import trace_cache
from zoomwatt.workload.frame_ops import count_frame_ops
from zoomwatt.workload.records import Trace
from zoomwatt.workload.results import StageWorkload, Totals, WorkloadReport, by_class
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import ALL_STAGES, MODEL_STAGES, StageName

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

STAGES: tuple[StageName, ...] = ALL_STAGES
TEXT_TOKENS = 77


@dataclass(frozen=True)
class _StageSpec:
    name: StageName
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
    if spec.name == StageName.TEXT_ENCODER:
        ids = _meta(spec.batch, TEXT_TOKENS, dtype=torch.long)
        return trace_call(model, model, ids, **opts)
    if spec.name == StageName.VAE_ENCODER:
        image = _meta(spec.batch, 3, size, size)
        return trace_call(model, model.encode, image, select_output=_latents, **opts)
    if spec.name == StageName.UNET:
        config = model.config
        sample = _meta(spec.batch, config.in_channels, latent, latent)
        context = _meta(spec.batch, TEXT_TOKENS, config.cross_attention_dim)
        return trace_call(model, model, sample, _meta(), context, **opts)
    if spec.name == StageName.VAE_DECODER:
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


_TEXT_COMPONENT = str(StageName.TEXT_ENCODER.component)


def text_encoder_layer_params(pipeline: str, *, cache: bool = True) -> int:
    """Parameters of the text encoder's transformer layers alone (no embeddings, no final
    norm), from the workload cache when ``cache``."""
    key = None
    if cache:
        key = trace_cache.base_key() | {
            "kind": "text-layer-params",
            "config": trace_cache.config_digest(pipeline, _TEXT_COMPONENT),
        }
        hit = trace_cache.load_entry("text-layers", key)
        if type(hit) is int and hit >= 0:
            return hit
    from zoomwatt.archs.build import count_params

    text_model = _model(pipeline, _TEXT_COMPONENT, "sdpa")
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


def _stage_plan(spec: WorkloadSpec) -> list[tuple[_StageSpec, float, str]]:
    """Each model stage: what is traced, and its calls per keyframe with a note saying why."""
    per_prompt = spec.text_calls_per_prompt
    if spec.prompt_every is None:
        text_calls = 0.0
        text_note = (
            f"once per prompt change ({per_prompt} batch-1 call"
            f"{'s: prompt and negative prompt' if spec.cfg else ''}); one prompt throughout, so "
            "0 per keyframe"
        )
    else:
        text_calls = per_prompt / spec.prompt_every
        text_note = (
            f"{per_prompt} call(s) per prompt change, one change every "
            f"{spec.prompt_every:g} keyframes"
        )
    unet_note = f"{spec.steps} denoising steps per keyframe, batch {spec.unet_batch}" + (
        " (classifier-free guidance)" if spec.cfg else ""
    )
    calls = {
        StageName.TEXT_ENCODER: (text_calls, text_note),
        StageName.VAE_ENCODER: (1.0, "the masked image, once per keyframe"),
        StageName.UNET: (float(spec.steps), unet_note),
        StageName.VAE_DECODER: (1.0, "once per keyframe"),
    }
    plan = []
    for stage in MODEL_STAGES:
        arch = spec.pipeline if stage in (StageName.TEXT_ENCODER, StageName.UNET) else spec.vae_arch
        batch = spec.unet_batch if stage is StageName.UNET else 1
        plan.append((_StageSpec(stage, arch, str(stage.component), batch), *calls[stage]))
    return plan


def _model_stages(spec: WorkloadSpec, cache: bool) -> list[StageWorkload]:
    """The model stages, each traced once (cached across calls, and on disk)."""
    act_dtype = spec.resolved_activation_dtype
    stages = []
    for stage_spec, calls, note in _stage_plan(spec):
        trace, model_class = _stage_trace(
            stage_spec, spec.size, spec.dtype, act_dtype, spec.attention, cache
        )
        if trace.unknown_ops:
            log.warning("%s: ops without a cost formula (counted as 0 FLOPs): %s",
                        stage_spec.name, ", ".join(trace.unknown_ops))  # fmt: skip
        stages.append(
            _model_stage(stage_spec, trace, model_class, calls, note, spec.dtype, act_dtype)
        )
    return stages


def frame_ops_workload(spec: WorkloadSpec) -> StageWorkload:
    """The non-model frame operations of one keyframe interval (``spec.every`` output frames):
    counted analytically, no model traced."""
    size, every = spec.size, spec.every
    frame = count_frame_ops(size, size, spec.resolved_border_px, every,
                            spec.resolved_activation_dtype)  # fmt: skip
    return StageWorkload(
        name=StageName.FRAME_OPS,
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


def _report(spec: WorkloadSpec, stages: list[StageWorkload]) -> WorkloadReport:
    """The stages rolled up per keyframe, output frame and second of video."""
    per_keyframe = Totals.sum(s.per_keyframe for s in stages)
    per_output_frame = per_keyframe.scaled(1.0 / spec.every)
    weights = sum(s.weight_bytes for s in stages)
    log.info("characterized %s at %dx%d: %.3g FLOPs per output frame", spec.pipeline, spec.size,
             spec.size, per_output_frame.flops)  # fmt: skip
    return WorkloadReport(
        pipeline=spec.pipeline,
        vae=spec.vae,
        size=spec.size,
        steps=spec.steps,
        cfg=spec.cfg,
        dtype=spec.dtype,
        activation_dtype=spec.resolved_activation_dtype,
        every=spec.every,
        fps=float(spec.fps),
        attention=spec.attention,
        prompt_every=spec.prompt_every,
        border_px=spec.resolved_border_px,
        stages=stages,
        per_keyframe=per_keyframe,
        per_output_frame=per_output_frame,
        per_second=per_output_frame.scaled(spec.fps),
        weight_bytes=weights,
        peak_memory_bytes=weights + max(s.peak_activation_bytes for s in stages),
    )


def workload_spec(spec: WorkloadSpec | None = None, **settings: Any) -> WorkloadSpec:
    """``spec`` with ``settings`` changed, or a spec of ``settings`` alone (checked)."""
    if spec is None:
        return WorkloadSpec(**settings)
    if not isinstance(spec, WorkloadSpec):
        raise InputError("spec", spec, "a WorkloadSpec, or the settings as keywords")
    return spec.replace(**settings) if settings else spec


def characterize(
    spec: WorkloadSpec | None = None, /, *, cache: bool = True, **settings: Any
) -> WorkloadReport:
    """What the zoom asks of a machine: every layer of every model, counted, and rolled up per
    call, keyframe, output frame (1 keyframe in ``every``) and second of video at ``fps``.

    The workload is ``spec`` (a :class:`~zoomwatt.workload.spec.WorkloadSpec`), or the
    spec's settings given as keywords (``characterize(size=256, cfg=False)``); keywords given
    with a spec change those settings. Models are built from the shipped configs on the meta
    device: no weights, no activations allocated, at any ``size``. ``cache``: read and write
    the traced calls in the workload cache on disk (False: trace, and leave the cache alone);
    the report is the same either way.
    """
    spec = workload_spec(spec, **settings)
    if not isinstance(cache, bool):
        raise InputError("cache", cache, "True or False")
    return _report(spec, [*_model_stages(spec, cache), frame_ops_workload(spec)])
