"""Each published figure as a case the model can be held against: the workload it stands for,
or the reason the model cannot predict it.

:func:`case_setup` reads one :class:`~zoomwatt.evidence.published.PublishedFigure` as a
:class:`CaseSetup` (the :class:`~zoomwatt.workload.spec.WorkloadSpec` of exactly that run,
the device's profile, the software stack, and the assumptions made where the source states
nothing) or as a :class:`NotPredictable` with its reason. :func:`figure_value` turns the
model's per-call stage times into the figure's kind, one formula per kind, for one prediction
or for a whole grid of parameter values at once (the fit's fast path).

How a record becomes a workload:

- the kinds of one model call (``unet_call_s``, ``vae_decoder_call_s``, ``text_encoder_call_s``)
  are one call at batch 1 without guidance (a UNet call at batch 1 is one CFG branch);
- the other kinds run the whole picture: the record's steps, batch (1 where not stated: MLPerf's
  offline and StreamDiffusion's streamed batching name none), guidance (the pipeline's default
  where not stated) and resolution (the pipeline's native one where not stated);
- precision: :data:`PRECISION_DTYPES` (weights, activations); ``not-stated`` is counted as fp16,
  the dtype the pipelines' published half-precision weights run in;
- attention: explicit (``matmul``, the score matrices written out) where the conditions name an
  implementation that writes them (:data:`EXPLICIT_ATTENTION`: the diffusers default processors
  without SDPA, Core ML's SPLIT_EINSUM and ORIGINAL), else fused SDPA;
- fp32 matmuls on TF32 tensor cores where the conditions say the run set
  ``torch.set_float32_matmul_precision("high")`` (:data:`TF32_MATMUL`); fp32 convolutions use
  TF32 on such devices in any case (PyTorch's default, see
  :mod:`zoomwatt.perfmodel.device_params`).

What cannot be predicted is listed, never dropped: a pipeline the architecture catalog cannot
build, a stack no profile describes or the device's profile does not list, a dtype the device
has no engine for, a time that includes what the model does not predict (:data:`NOT_MODELLED`:
models loaded from storage on every call), and power of a whole server at the wall.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zoomwatt.archs.catalog import ALL_PIPELINES
from zoomwatt.archs.pipelines import pipeline_spec
from zoomwatt.errors import InputError
from zoomwatt.evidence.published import PublishedFigure
from zoomwatt.hardware import load_profile
from zoomwatt.hardware.schema import STACKS, HardwareProfile
from zoomwatt.perfmodel.device_params import compute_dtype_for
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import StageName

#: Kinds of figure that are one call of one model, and the stage they time.
CALL_KINDS: dict[str, StageName] = {
    "unet_call_s": StageName.UNET,
    "vae_decoder_call_s": StageName.VAE_DECODER,
    "text_encoder_call_s": StageName.TEXT_ENCODER,
}
#: How people read each kind of figure.
KIND_NAMES = {
    "e2e_s": "end to end",
    "unet_call_s": "UNet call",
    "vae_decoder_call_s": "VAE decoder call",
    "text_encoder_call_s": "text encoder call",
    "it_per_s": "denoising speed",
    "throughput_images_per_s": "throughput",
    "energy_j_per_image": "energy per image",
    "system_power_w": "power",
}
#: Kinds held against the model's latency (times and rates); the rest are energy and power.
LATENCY_KINDS = ("e2e_s", *CALL_KINDS, "it_per_s", "throughput_images_per_s")
ENERGY_KINDS = ("energy_j_per_image", "system_power_w")
#: Published precision -> (weight dtype, activation dtype or None for the weights').
PRECISION_DTYPES: dict[str, tuple[str, str | None]] = {
    "fp32": ("fp32", None),
    "fp16": ("fp16", None),
    "bf16": ("bf16", None),
    "w8a16": ("int8", "fp16"),  # int8 weights, 16-bit activations
    "palettized-6bit": ("int8", "fp16"),  # 6-bit weights counted as 8-bit (no 6-bit dtype)
    "palettized-4bit-mixed": ("int4", "fp16"),  # about 4 bits per weight
    "bf16+int8-dynamic": ("int8", "bf16"),
    "not-stated": ("fp16", None),
}
#: Phrases of the conditions that name an attention which writes its score matrices out.
EXPLICIT_ATTENTION = ("non-SDPA", "SPLIT_EINSUM", "ORIGINAL attention")
#: The phrase of the conditions saying the run let fp32 matmuls use TF32 tensor cores.
TF32_MATMUL = 'set_float32_matmul_precision("high")'
#: Phrases of the conditions saying a figure of these kinds times work the model does not
#: predict: phrase -> (kinds, reason).
NOT_MODELLED = {
    "reduceMemory on": (
        ("e2e_s",),
        "the end-to-end time includes loading the models from storage on every call "
        "(reduceMemory), which the model does not predict",
    ),
}
WHOLE_SERVER = "whole server"


@dataclass(frozen=True)
class CaseSetup:
    """A published figure as the model predicts it."""

    figure: PublishedFigure
    spec: WorkloadSpec
    profile: HardwareProfile
    stack: str
    assumptions: tuple[str, ...]  # what the source leaves open and how it is read
    tf32_matmul: bool = False  # fp32 matmuls on TF32 tensor cores (TF32_MATMUL)


@dataclass(frozen=True)
class NotPredictable:
    """A published figure the model cannot predict, and why."""

    figure: PublishedFigure
    reason: str


def _unpredictable_reason(figure: PublishedFigure) -> str | None:
    """Why the figure cannot be predicted before any workload is built (None: it can)."""
    if figure.pipeline not in ALL_PIPELINES:
        return f"pipeline {figure.pipeline}: not in the architecture catalog"
    if figure.stack not in STACKS:
        return f"stack {figure.stack}: no hardware profile describes it"
    if figure.timed == "system_power_w" and WHOLE_SERVER in figure.conditions:
        return (
            "power of the whole server at the wall (host CPUs, fans, all GPUs): "
            "no model of the server"
        )
    for phrase, (kinds, reason) in NOT_MODELLED.items():
        if phrase in figure.conditions and figure.timed in kinds:
            return reason
    return None


def _workload_fields(figure: PublishedFigure) -> tuple[dict[str, Any], list[str]]:
    """The WorkloadSpec keywords of the figure's run, and the assumptions made."""
    arch = pipeline_spec(figure.pipeline)
    assumed: list[str] = []
    dtype, activation = PRECISION_DTYPES[figure.precision]
    if figure.precision == "not-stated":
        assumed.append("precision not stated: fp16")
    elif figure.precision.startswith("palettized"):
        assumed.append(f"{figure.precision} weights counted as {dtype}, computed in fp16")
    attention = "sdpa"
    if any(phrase in figure.conditions for phrase in EXPLICIT_ATTENTION):
        attention = "matmul"
    fields: dict[str, Any] = {"pipeline": figure.pipeline, "dtype": dtype, "every": 1}
    fields |= {"activation_dtype": activation, "attention": attention}
    if figure.resolution_px is None:
        assumed.append(f"resolution not stated: the pipeline's native {arch.native_size_px} px")
    fields["size"] = figure.resolution_px
    if figure.timed in CALL_KINDS:  # one call, one CFG branch, one picture
        return fields | {"steps": 1, "batch": 1, "cfg": False}, assumed
    if figure.steps is None:
        assumed.append(f"steps not stated: the pipeline's {arch.default_steps}")
    if figure.batch is None:
        assumed.append("batch not stated: 1")
    if figure.cfg is None:
        assumed.append(
            f"guidance not stated: the pipeline's default (CFG {'on' if arch.cfg else 'off'})"
        )
    fields |= {"steps": figure.steps, "batch": figure.batch or 1, "cfg": figure.cfg}
    return fields, assumed


def case_setup(
    figure: PublishedFigure, profiles: Mapping[str, HardwareProfile] | None = None
) -> CaseSetup | NotPredictable:
    """How the model predicts ``figure``, or why it cannot (``profiles``: loaded profiles by
    name, to share them between cases)."""
    reason = _unpredictable_reason(figure)
    if reason is not None:
        return NotPredictable(figure, reason)
    profile = (profiles or {}).get(figure.device) or load_profile(figure.device)
    if figure.stack not in profile.stack_names:
        has = ", ".join(profile.stack_names)
        return NotPredictable(
            figure, f"stack {figure.stack}: the {figure.device} profile lists {has}"
        )
    fields, assumed = _workload_fields(figure)
    spec = WorkloadSpec(**fields)
    for dtype in {spec.dtype, spec.resolved_activation_dtype}:
        if compute_dtype_for(profile, dtype) is None:
            engines = ", ".join(profile.supported_dtypes)
            return NotPredictable(figure, f"{dtype}: {figure.device} computes {engines}")
    tf32 = TF32_MATMUL in figure.conditions
    return CaseSetup(figure, spec, profile, figure.stack, tuple(assumed), tf32_matmul=tf32)


def figure_value(
    figure: PublishedFigure,
    per_call_s: Mapping[str, Any],
    calls_per_image: Mapping[str, float],
    batch: int,
) -> Any:
    """The figure's kind from the model's seconds per call of each model stage
    (``per_call_s``: floats, or arrays over parameter values) and the calls per image:

    - ``e2e_s``: one pipeline call for the batch, sum of calls x seconds per call x batch;
    - ``*_call_s``: that stage's seconds per call;
    - ``it_per_s``: 1 / the UNet's seconds per call (one step: both CFG branches in one batch);
    - ``throughput_images_per_s``: accelerators / seconds per image (data parallel).

    Energy and power kinds are :func:`energy_value`'s."""
    kind = figure.timed
    if kind in CALL_KINDS:
        return per_call_s[CALL_KINDS[kind].value]
    if kind == "it_per_s":
        return 1.0 / per_call_s[StageName.UNET.value]
    per_image = sum(calls_per_image[name] * per_call_s[name] for name in calls_per_image)
    if kind == "e2e_s":
        return per_image * batch
    if kind == "throughput_images_per_s":
        return figure.accelerators / per_image
    raise InputError(f"{figure.id}.timed", kind, f"a latency kind: {', '.join(LATENCY_KINDS)}")


def energy_value(
    figure: PublishedFigure, energy_per_image_j: float, latency_per_image_s: float
) -> float:
    """``energy_j_per_image``: the device's energy per image; ``system_power_w``: the
    accelerators' average power over the run (energy / time, times the accelerators)."""
    if figure.timed == "energy_j_per_image":
        return energy_per_image_j
    if figure.timed == "system_power_w":
        return figure.accelerators * energy_per_image_j / latency_per_image_s
    raise InputError(
        f"{figure.id}.timed", figure.timed, f"an energy kind: {', '.join(ENERGY_KINDS)}"
    )
