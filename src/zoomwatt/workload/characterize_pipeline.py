"""Characterize a pipeline: trace each model call once, then roll up for the use case.

Every pipeline of :mod:`zoomwatt.archs` (and any local diffusers folder,
:func:`~zoomwatt.archs.model_dir.read_model_dir`) is traced the one way
:mod:`zoomwatt.archs.calls` describes: its model calls (:func:`~zoomwatt.archs.calls.
pipeline_calls`), each built on the meta device and fed :func:`~zoomwatt.archs.calls.
example_inputs`. Stages (:class:`~zoomwatt.workload.stages.StageName`) and how often they run
(``USE_CASE.md``), per keyframe of the zoom, or per image of a txt2img pipeline:

- the text encoder: once per prompt change, twice with classifier-free guidance (diffusers
  encodes the prompt and the negative prompt as two calls; SDXL zeroes the negative
  embeddings instead). With one prompt for the whole video it costs nothing per keyframe;
  ``prompt_every`` amortises it over keyframes (txt2img: a prompt per image unless told).
  SDXL's two text encoders are this one stage: both models' layers, module paths prefixed
  with ``text_encoder.`` and ``text_encoder_2.``, called one after the other.
- the VAE encoder, inpainting only: once per keyframe, on the masked image (strength 1: the
  9-channel pipeline encodes only the masked image). A txt2img pipeline has no such stage.
- the UNet: once per denoising step, at batch ``batch`` x 2 with classifier-free guidance.
- the VAE decoder: once per keyframe (image).
- the frame operations, inpainting (the zoom) only: one keyframe interval of non-model work
  (see :mod:`.frame_ops`).

With ``batch`` B, one call makes B images: a call's cost is shared by B, so calls per keyframe
(image) are 1 / B of the calls per pipeline run. Per output frame is per keyframe divided by
``every`` (one keyframe, or image, in ``every`` output frames); per second is per output frame
times ``fps``.

Each traced model call is kept in the workload cache on disk (:mod:`.trace_cache`): with a warm
cache, characterizing imports neither torch nor diffusers nor transformers. This module imports
them only when it has to trace.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoomwatt.archs.calls import ModelCall, call_shapes, pipeline_calls
from zoomwatt.archs.catalog import load_config
from zoomwatt.archs.pipelines import INPAINT, PipelineSpec, canonical_json, pipeline_spec
from zoomwatt.errors import InputError
from zoomwatt.workload import trace_cache
from zoomwatt.workload.frame_ops import count_frame_ops
from zoomwatt.workload.records import LayerRecord, Trace
from zoomwatt.workload.results import StageWorkload, Totals, WorkloadReport, by_class
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import ALL_STAGES, StageName

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

STAGES: tuple[StageName, ...] = ALL_STAGES
"""Every stage a report may hold, in order (a txt2img report has no VAE encoder and no frame
operations)."""


@dataclass(frozen=True)
class _Call:
    """One traced model call: what the model is built from, and what shapes its inputs.

    ``call``: the :mod:`zoomwatt.archs.calls` stage (``text_encoder_2`` for SDXL's second
    encoder); ``label``: shown beside the model's class (the pipeline, or ``taesd``);
    ``identity``: keys the cache (a shipped name, ``taesd``, or a folder's resolved path).
    """

    stage: StageName
    call: str
    component: str
    label: str
    identity: str
    config_json: str
    pipeline: PipelineSpec
    batch: int

    @property
    def config_digest(self) -> str:
        return hashlib.sha256(self.config_json.encode()).hexdigest()


@lru_cache(maxsize=16)
def _model(config_json: str, attention: str) -> torch.nn.Module:
    from zoomwatt.archs.build import build_from_config

    return build_from_config(json.loads(config_json), device="meta", attention=attention)


def _config_json(arch: PipelineSpec, component: str) -> str:
    return dict(arch.configs_json)[component]


def _latents(out: Any) -> torch.Tensor:
    """The latents of a VAE encode: the posterior mean (AutoencoderKL) or the latents
    (AutoencoderTiny)."""
    dist = getattr(out, "latent_dist", None)
    return dist.mean if dist is not None else out.latents


def _hidden_states(out: Any) -> torch.Tensor:
    """A text encoder's last hidden states (not SDXL's pooled, projected embedding)."""
    return out.last_hidden_state


_SELECT = {"vae_encoder": _latents, "text_encoder": _hidden_states,
           "text_encoder_2": _hidden_states}  # fmt: skip


@lru_cache(maxsize=64)
def _trace(call: _Call, size: int, dtype: str, activation_dtype: str, attention: str) -> Trace:
    """One traced model call, cached: sweeps over steps, every, fps or prompt changes reuse
    it."""
    from zoomwatt.archs.calls import example_inputs
    from zoomwatt.workload.tracer import trace_call

    model = _model(call.config_json, attention)
    inputs = example_inputs(call.pipeline, call.call, call.batch, size)
    return trace_call(model, inputs.bound(model), *inputs.args, dtype=dtype,
                      activation_dtype=activation_dtype, select_output=_SELECT.get(call.call),
                      **inputs.kwargs)  # fmt: skip


def _call_key(call: _Call, size: int) -> dict[str, Any]:
    """What shapes a call beside its model's config: its inputs and the pipeline's extra
    conditioning (SDXL's text encoders keep their hidden states for the UNet)."""
    shapes = call_shapes(call.pipeline, call.call, call.batch, size)
    return {
        "call": call.call,
        "inputs": {name: list(shape) for name, shape in shapes.items()},
        "conditioning": call.pipeline.added_conditioning,
    }


def _stage_trace(call: _Call, size: int, dtype: str, activation_dtype: str, attention: str,
                 cache: bool) -> tuple[Trace, str]:  # fmt: skip
    """The traced call and its model's class name: from the workload cache when ``cache``
    and an entry is there, else traced (and stored when ``cache``)."""
    key = None
    if cache:
        key = trace_cache.trace_key(call.stage, call.identity, call.component, call.batch, size,
                                    dtype, activation_dtype, attention,
                                    config=call.config_digest,
                                    call=_call_key(call, size))  # fmt: skip
        hit = trace_cache.load_trace(key)
        if hit is not None:
            return hit
    trace = _trace(call, size, dtype, activation_dtype, attention)
    model_class = _model(call.config_json, attention).__class__.__name__
    if key is not None:
        trace_cache.save_trace(key, trace, model_class)
    return trace, model_class


def text_encoder_layer_params(pipeline: str | PipelineSpec | WorkloadSpec, *,
                              cache: bool = True) -> int:  # fmt: skip
    """Parameters of the text encoders' transformer layers alone (no embeddings, no final
    norm, no projection; SDXL's two encoders summed), from the workload cache when
    ``cache``. ``pipeline``: a shipped name, a pipeline spec, or a workload spec."""
    if isinstance(pipeline, WorkloadSpec):
        arch = pipeline.arch
    elif isinstance(pipeline, PipelineSpec):
        arch = pipeline
    else:
        arch = pipeline_spec(pipeline)
    configs = [_config_json(arch, c) for c in arch.text_encoders]
    key = None
    if cache:
        digests = [hashlib.sha256(c.encode()).hexdigest() for c in configs]
        key = trace_cache.base_key() | {"kind": "text-layer-params", "config": "+".join(digests)}
        hit = trace_cache.load_entry("text-layers", key)
        if type(hit) is int and hit >= 0:
            return hit
    from zoomwatt.archs.build import count_params

    params = 0
    for config in configs:
        text_model = _model(config, "sdpa")
        text_model = getattr(text_model, "text_model", text_model)  # transformers < 5 nests it
        params += count_params(text_model.encoder)
    if key is not None:
        trace_cache.save_entry("text-layers", key, params)
    return params


def _prefixed(records: tuple[LayerRecord, ...], component: str) -> list[LayerRecord]:
    """Records with their module paths under ``component`` (SDXL's two text encoders)."""
    return [dataclasses.replace(r, module=f"{component}.{r.module}" if r.module else component)
            for r in records]  # fmt: skip


def _model_stage(calls: list[_Call], traced: list[tuple[Trace, str]], per_keyframe: float,
                 note: str, dtype: str, activation_dtype: str) -> StageWorkload:  # fmt: skip
    """One model stage from its traced call, or the calls of its models one after the other
    (SDXL's two text encoders: parameters and work summed, the larger peak)."""
    first, (trace, model_class) = calls[0], traced[0]
    if len(calls) == 1:
        records = list(trace.records)
        output_shape = trace.output_shape
    else:
        records = [r for c, (t, _) in zip(calls, traced, strict=True)
                   for r in _prefixed(t.records, c.component)]  # fmt: skip
        width = sum(t.output_shape[-1] for t, _ in traced)
        output_shape = (*trace.output_shape[:-1], width)  # the hidden states, side by side
        model_class = " + ".join(m for _, m in traced)
    return StageWorkload(
        name=first.stage,
        model=f"{model_class} ({first.label})",
        batch=first.batch,
        input_shapes=tuple(s for t, _ in traced for s in t.input_shapes),
        output_shape=output_shape,
        params=sum(t.params for t, _ in traced),
        weight_bytes=sum(t.weight_bytes for t, _ in traced),
        macs_per_call=sum(r.macs for r in records),
        flops_per_call=sum(r.flops for r in records),
        calls_per_keyframe=per_keyframe,
        macs_by_class=by_class(records, "macs"),
        flops_by_class=by_class(records, "flops"),
        activation_bytes_per_call=sum(r.input_bytes + r.output_bytes for r in records),
        peak_activation_bytes=max(t.peak_activation_bytes for t, _ in traced),
        layers=records,
        dtype=dtype,
        activation_dtype=activation_dtype,
        note=note,
    )


def _text_plan(spec: WorkloadSpec, call: ModelCall, encoders: int) -> tuple[float, str]:
    """The text encoders' calls per keyframe (image) and why."""
    per_prompt, b, unit = call.calls, spec.batch, spec.unit
    each = f"each of the {encoders} text encoders: " if encoders > 1 else ""
    zeros = "; no negative prompt: its embeddings are zeros" if spec.cfg and per_prompt == 1 else ""
    if spec.prompt_every is None:
        what = "s: prompt and negative prompt" if per_prompt == 2 else ""
        return 0.0, (
            f"{each}once per prompt change ({per_prompt} batch-{b} call{what}{zeros}); one "
            f"prompt throughout, so 0 per {unit}"
        )
    every = spec.prompt_every
    if unit == "image" and every == 1:
        change = "a prompt per image"
    else:
        change = f"one change every {every:g} {unit}s"
    batch = f", batch {b}" if b > 1 else ""
    return per_prompt / (every * b), f"{each}{per_prompt} call(s) per prompt change, {change}" + (
        f"{batch}{zeros}"
    )


def _plan_calls(spec: WorkloadSpec, call: ModelCall, encoders: int) -> tuple[float, str]:
    """A model stage's calls per keyframe (image) and a note saying why."""
    b, unit = spec.batch, spec.unit
    if call.stage.startswith("text_encoder"):
        return _text_plan(spec, call, encoders)
    if call.stage == "unet":
        guidance = " (classifier-free guidance)" if spec.cfg else ""
        if b == 1:
            return float(spec.steps), (
                f"{spec.steps} denoising steps per {unit}, batch {spec.unet_batch}{guidance}"
            )
        return spec.steps / b, (
            f"{spec.steps} denoising steps per call of {b} {unit}s ({spec.steps / b:g} calls per "
            f"{unit}), batch {spec.unet_batch}{guidance}"
        )
    if call.stage == "vae_encoder":
        if b == 1:
            return 1.0, "the masked image, once per keyframe"
        return 1.0 / b, f"the masked images, one batch-{b} call per {b} keyframes"
    return (1.0, f"once per {unit}") if b == 1 else (1.0 / b, f"one batch-{b} call per {b} {unit}s")


def _identity(spec: WorkloadSpec) -> str:
    """What keys the pipeline's cache entries: its shipped name, or its folder's path."""
    if spec.model_dir is None:
        return str(spec.pipeline)
    return str(Path(spec.model_dir).expanduser().resolve())


def _stage_plan(spec: WorkloadSpec) -> list[tuple[list[_Call], float, str]]:
    """Each model stage: the calls traced for it, and its calls per keyframe (image) with a
    note saying why."""
    arch = spec.arch
    taesd = canonical_json(load_config("taesd", "vae"))
    calls = pipeline_calls(arch, spec.cfg)
    encoders = sum(c.stage.startswith("text_encoder") for c in calls)
    plan: list[tuple[list[_Call], float, str]] = []
    for call in calls:
        text = call.stage.startswith("text_encoder")
        stage = StageName.TEXT_ENCODER if text else StageName(call.stage)
        if call.component == "vae" and spec.vae == "taesd":
            label = identity = "taesd"
            config = taesd
        else:
            label, identity = str(spec.pipeline), _identity(spec)
            config = _config_json(arch, call.component)
        traced = _Call(stage, call.stage, call.component, label, identity, config, arch,
                       call.batch(spec.batch))  # fmt: skip
        if text and plan and plan[-1][0][0].stage is StageName.TEXT_ENCODER:
            plan[-1][0].append(traced)  # SDXL's second text encoder: the same stage
            continue
        plan.append(([traced], *_plan_calls(spec, call, encoders)))
    return plan


def _model_stages(spec: WorkloadSpec, cache: bool) -> list[StageWorkload]:
    """The model stages, each call traced once (cached across calls, and on disk)."""
    act_dtype = spec.resolved_activation_dtype
    stages = []
    for calls, per_keyframe, note in _stage_plan(spec):
        traced = [_stage_trace(c, spec.size, spec.dtype, act_dtype, spec.attention, cache)
                  for c in calls]  # fmt: skip
        unknown = sorted({op for trace, _ in traced for op in trace.unknown_ops})
        if unknown:
            log.warning("%s: ops without a cost formula (counted as 0 FLOPs): %s",
                        calls[0].stage, ", ".join(unknown))  # fmt: skip
        stages.append(_model_stage(calls, traced, per_keyframe, note, spec.dtype, act_dtype))
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
    """The stages rolled up per keyframe (image), output frame and second of video."""
    per_keyframe = Totals.sum(s.per_keyframe for s in stages)
    per_output_frame = per_keyframe.scaled(1.0 / spec.every)
    weights = sum(s.weight_bytes for s in stages)
    log.info("characterized %s at %dx%d: %.3g FLOPs per output frame", spec.pipeline, spec.size,
             spec.size, per_output_frame.flops)  # fmt: skip
    return WorkloadReport(
        pipeline=str(spec.pipeline),
        vae=spec.vae,
        size=int(spec.size),
        steps=int(spec.steps),
        cfg=bool(spec.cfg),
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
        kind=spec.kind,
        batch=spec.batch,
        model_dir=spec.model_dir,
        workload=spec,
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
    A txt2img pipeline is rolled up per image (its "keyframe"), without the zoom's frame
    operations.

    The workload is ``spec`` (a :class:`~zoomwatt.workload.spec.WorkloadSpec`), or the
    spec's settings given as keywords (``characterize(pipeline="sdxl-base", batch=4)``);
    keywords given with a spec change those settings. Models are built from the shipped
    configs (or a local folder's) on the meta device: no weights, no activations allocated, at
    any ``size``. ``cache``: read and write the traced calls in the workload cache on disk
    (False: trace, and leave the cache alone); the report is the same either way.
    """
    spec = workload_spec(spec, **settings)
    if not isinstance(cache, bool):
        raise InputError("cache", cache, "True or False")
    stages = _model_stages(spec, cache)
    if spec.kind == INPAINT:  # the zoom: in-between frames, crop, paste, video encode
        stages.append(frame_ops_workload(spec))
    return _report(spec, stages)
