"""What each lever makes the zoom compute, as the performance model's stages, and its prediction.

Each lever's workload is traced (or rewritten from a trace) for what it actually computes, not
scaled by a factor:

- run levers and TAESD: the workload spec changed (``cfg``, ``steps``, ``size``, ``every``,
  ``vae``) and characterized as ``zoomwatt analyze`` does (LCM/TCD schedulers cost what DDIM
  costs per step: their arithmetic is a few elementwise ops on the latents, not traced);
- ``deepcache``: the shallow step (:class:`~zoomwatt.pipeline.backends.deepcache.ShallowUNet`)
  traced on the meta device; per keyframe ``ceil(steps / N)`` full UNet calls and the rest
  shallow;
- ``tome``: the UNet traced with tomesd's patch applied (its merge and unmerge ops, of which
  sort and scatter have no cost formula and count as 0 FLOPs);
- ``int8-dynamic``: the traced fp32 UNet's linear layers rewritten as int8 matmuls (weights and
  the quantized input in one byte each, the host's measured int8 rate), each with the
  elementwise pass that quantizes its input (min/max and rounding: 3 ops per element), as
  torch.ao's dynamic linear computes it;
- ``int8-weight``: the linear layers' weights in one byte, the matmul in fp32 (the kernel
  dequantizes in registers);
- ``bf16``/``fp16``: the workload in that dtype;
- ``retain-memory``: the same workload, none of its fresh buffers faulted in (the host
  profile's spill and conv reorder fault terms left out: perfmodel/device_params.py);
- ``openvino``: the baseline's workload on the profile's ``openvino`` stack (its calibrated
  efficiencies and per-node time), every convolution as OpenVINO's, not eager's kernel;
- ``nncf-int8``: the same on the ``openvino-int8`` stack (its conv and linear rates measured
  with NNCF's int8 weights), every linear layer of the OpenVINO stages reading its weights in
  one byte (the plugin decompresses them in the kernel; convolutions' when it compiles).

Levers act together as they run: DeepCache's shallow step is traced on the token-merged UNet
when ``tome`` is on, and its linear layers are int8 with an int8 lever, as the UNet it wraps.
With ``host_kernels`` (a prediction for this process's CPU) every convolution is counted as the
kernel eager PyTorch runs it with here (:mod:`.conv_kernels`: oneDNN, or im2col and a GEMM for
the small batch-1 inputs PyTorch keeps native), in every configuration, the baseline included.

Levers with no speed model here (2:4 and pruning on a device without a sparse peak, sharing,
operating points) are predicted as the baseline's time, and their status says why.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends.levers import (
    OPENVINO_LEVERS,
    STACK_OF_LEVER,
    Lever,
    lever_value,
)
from zoomwatt.workload.records import DTYPE_BYTES, LayerRecord, OpClass
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import StageName

SHALLOW = "unet_shallow"
QUANTIZE_OPS_PER_ELEMENT = 3  # min/max reduction, scale, round (torch.ao dynamic quantization)


@dataclasses.dataclass(frozen=True)
class LeverPrediction:
    """One configuration predicted on the host profile."""

    keyframe_latency_s: float  # model stages of one keyframe
    frame_work_s: float  # the per-frame work of one keyframe period
    every: int
    busy_energy_j: float = math.nan  # the device's energy over that period (no idle time)

    @property
    def per_output_frame_s(self) -> float:
        return (self.keyframe_latency_s + self.frame_work_s) / self.every

    @property
    def energy_per_output_frame_j(self) -> float:
        return self.busy_energy_j / self.every


def lever_spec(base: WorkloadSpec, levers: tuple[Lever, ...]) -> WorkloadSpec:
    """The workload spec of ``base`` with the spec-changing levers applied."""
    changes: dict[str, Any] = {}
    if lever_value(levers, "no-cfg"):
        changes["cfg"] = False
    for name, key in (("steps", "steps"), ("resolution", "size"), ("every", "every")):
        value = lever_value(levers, name)
        if value is not None:
            changes[key] = value
    if lever_value(levers, "taesd"):
        changes["vae"] = "taesd"
    for dtype in ("bf16", "fp16"):
        if lever_value(levers, dtype):
            changes["dtype"] = dtype
    return base.replace(**changes) if changes else base


@lru_cache(maxsize=8)
def _meta_unet() -> Any:
    from zoomwatt.archs.build import build_model

    return build_model("sd2-inpaint", "unet", device="meta")


def _unet_inputs(spec: WorkloadSpec) -> tuple[Any, Any, Any]:
    import torch

    unet = _meta_unet()
    batch, latent = spec.unet_batch, spec.size // 8
    sample = torch.empty(batch, unet.config.in_channels, latent, latent, device="meta")
    text = torch.empty(batch, 77, unet.config.cross_attention_dim, device="meta")
    return sample, torch.tensor(500), text


@lru_cache(maxsize=4)
def _tome_unet(ratio: float) -> Any:
    """A meta UNet with tomesd's patch applied (its own: the shared one stays unpatched)."""
    import tomesd

    from zoomwatt.archs.build import build_model

    unet = build_model("sd2-inpaint", "unet", device="meta")
    tomesd.apply_patch(unet, ratio=ratio)
    return unet


def _shallow_call(spec: WorkloadSpec, ratio: float | None) -> tuple[Any, tuple]:
    """The shallow step as a module (on the token-merged UNet with ``ratio``) and its inputs."""
    import torch

    from zoomwatt.pipeline.backends.deepcache import ShallowUNet, deep_feature_shape

    unet = _meta_unet() if not ratio else _tome_unet(ratio)
    sample, step, text = _unet_inputs(spec)
    deep = torch.empty(deep_feature_shape(unet, spec.unet_batch, spec.size // 8), device="meta")
    return ShallowUNet(unet), (sample, step, text, deep)


@lru_cache(maxsize=16)
def _shallow_trace(spec: WorkloadSpec, ratio: float | None = None) -> Any:
    from zoomwatt.workload.tracer import trace_call

    module, args = _shallow_call(spec, ratio)
    return trace_call(module, module, *args, dtype=spec.dtype)


@lru_cache(maxsize=16)
def _tome_trace(spec: WorkloadSpec, ratio: float) -> Any:
    from zoomwatt.workload.tracer import trace_call

    unet = _tome_unet(ratio)
    sample, step, text = _unet_inputs(spec)
    return trace_call(unet, unet, sample, step, encoder_hidden_states=text, dtype=spec.dtype)


@lru_cache(maxsize=32)
def _stage_convs(spec: WorkloadSpec, stage: str) -> dict:
    """Module path -> ConvCall of every convolution of ``stage`` (a StageName, or SHALLOW)."""
    from zoomwatt.archs.build import build_model
    from zoomwatt.archs.calls import example_inputs, pipeline_calls
    from zoomwatt.measurement.conv_kernels import conv_calls

    if stage == SHALLOW:
        module, args = _shallow_call(spec, None)  # token merging changes no convolution
        return conv_calls(module, module, *args)
    if stage == StageName.UNET:
        sample, step, text = _unet_inputs(spec)
        return conv_calls(_meta_unet(), _meta_unet(), sample, step, encoder_hidden_states=text)
    call = next((c for c in pipeline_calls(spec.arch, spec.cfg) if c.stage == stage), None)
    if call is None or call.component != "vae":
        return {}
    taesd = spec.vae == "taesd"
    model = build_model("taesd" if taesd else str(spec.pipeline), "vae", device="meta")
    inputs = example_inputs(spec.arch, stage, call.batch(spec.batch), spec.size)
    return conv_calls(model, inputs.bound(model), *inputs.args, **inputs.kwargs)


def _host_kernels(stages: list, spec: WorkloadSpec) -> list:
    """Each stage's convolutions counted as the kernel PyTorch runs them with here."""
    from zoomwatt.measurement.conv_kernels import native_records

    out = []
    for s in stages:
        convs = _stage_convs(spec, str(s.name)) if not s.per_frame else {}
        records = native_records(s.layers, convs, spec.dtype) if convs else list(s.layers)
        out.append(dataclasses.replace(s, layers=tuple(records)) if convs else s)
    return out


def _replace_unet(stages: list, records, calls: float, weight_bytes: float, peak: float) -> list:
    from zoomwatt.perfmodel import make_stage

    unet = next(s for s in stages if s.name == StageName.UNET)
    new = make_stage(
        StageName.UNET, records, calls, weight_bytes=weight_bytes, peak_activation_bytes=peak
    )
    return (
        [new if s is unet else s for s in stages] if calls else [s for s in stages if s is not unet]
    )


def _deepcache(stages: list, spec: WorkloadSpec, levers: tuple[Lever, ...]) -> list:
    from zoomwatt.perfmodel import make_stage
    from zoomwatt.pipeline.backends.deepcache import full_steps

    unet = next(s for s in stages if s.name == StageName.UNET)
    full = full_steps(spec.steps, lever_value(levers, "deepcache"))
    trace = _shallow_trace(spec, lever_value(levers, "tome"))
    records = list(trace.records)
    for name, dynamic in (("int8-dynamic", True), ("int8-weight", False)):
        if lever_value(levers, name):  # the shallow step runs on the int8 UNet
            records = _int8_linears(tuple(records), dynamic)
    shallow = make_stage(
        SHALLOW,
        records,
        float(spec.steps - full),
        weight_bytes=0.0,
        peak_activation_bytes=trace.peak_activation_bytes,
    )
    stages = _replace_unet(
        stages, unet.layers, float(full), unet.weight_bytes, unet.peak_activation_bytes
    )
    return [*stages, shallow] if spec.steps > full else stages


def _int8_linears(records: tuple[LayerRecord, ...], dynamic: bool) -> list[LayerRecord]:
    out: list[LayerRecord] = []
    for r in records:
        if r.op_class is not OpClass.LINEAR or r.weight_bytes <= 0:
            out.append(r)
            continue
        if dynamic:
            numel = r.input_bytes / 4.0  # fp32 input elements
            out.append(
                LayerRecord(
                    module=r.module,
                    op="quantize_per_tensor_dynamic",
                    op_class=OpClass.ELEMENTWISE,
                    macs=0,
                    flops=int(QUANTIZE_OPS_PER_ELEMENT * numel),
                    weight_bytes=0.0,
                    input_bytes=r.input_bytes,
                    output_bytes=numel,
                    dtype="fp32",
                )
            )
            out.append(
                dataclasses.replace(
                    r, dtype="int8", weight_bytes=r.weight_bytes / 4.0, input_bytes=numel
                )
            )
        else:
            out.append(dataclasses.replace(r, weight_bytes=r.weight_bytes / 4.0))
    return out


def lever_stages(base: WorkloadSpec, levers: tuple[Lever, ...], host_kernels: bool = False) -> list:
    """The performance model's stages of ``base`` with ``levers`` applied; ``host_kernels``:
    convolutions as this CPU's PyTorch runs them (module text)."""
    from zoomwatt.perfmodel import load_workload

    spec = lever_spec(base, levers)
    if spec.dtype != "fp32" and lever_value(levers, "int8-dynamic"):
        raise InputError("levers", "int8-dynamic with bf16/fp16", "int8 levers on fp32 models")
    stages = list(load_workload(spec).stages)
    ratio = lever_value(levers, "tome")
    if ratio:
        t = _tome_trace(spec, ratio)
        unet = next(s for s in stages if s.name == StageName.UNET)
        stages = _replace_unet(
            stages, t.records, unet.calls_per_keyframe, unet.weight_bytes, t.peak_activation_bytes
        )
    for name, dynamic in (("int8-dynamic", True), ("int8-weight", False)):
        if lever_value(levers, name):
            unet = next(s for s in stages if s.name == StageName.UNET)
            stages = _replace_unet(
                stages,
                _int8_linears(unet.layers, dynamic),
                unet.calls_per_keyframe,
                unet.weight_bytes,
                unet.peak_activation_bytes,
            )
    if lever_value(levers, "deepcache"):
        stages = _deepcache(stages, spec, levers)
    if lever_value(levers, "nncf-int8"):
        stages = _int8_weights(stages)
    return _host_kernels(stages, spec) if host_kernels else stages


#: The stages the openvino and nncf-int8 levers run through OpenVINO (sd2_levers.py), and the
#: stacks those levers run on
OPENVINO_STAGES = (StageName.UNET, StageName.VAE_ENCODER, StageName.VAE_DECODER)
OPENVINO_STACKS = tuple(STACK_OF_LEVER[lever] for lever in OPENVINO_LEVERS)


def _int8_weights(stages: list) -> list:
    """NNCF's int8 weight compression as OpenVINO's CPU plugin runs it: every linear layer of
    the OpenVINO stages reads 1 byte a weight instead of its dtype's (the per-channel scales
    and zero points, 5 bytes an output channel, are left out: 1.6% of a 320-input layer's
    int8 weights); its convolutions keep their dtype's bytes, since the plugin decompresses
    their weights when it compiles the model (the compiled UNet's profile lists fp32
    convolution kernels only, 2026-12-02). The stage's resident weights shrink in the same
    proportion as its layers'. The time the kernels take to decompress is in the
    ``openvino-int8`` stack's measured rates (hardware.openvino_probe), not here."""
    from zoomwatt.hardware.schema import INT8_WEIGHT_CLASSES
    from zoomwatt.perfmodel import make_stage

    classes = INT8_WEIGHT_CLASSES[STACK_OF_LEVER["nncf-int8"]]
    out = []
    for stage in stages:
        if stage.name not in OPENVINO_STAGES:
            out.append(stage)
            continue
        layers = [
            dataclasses.replace(r, weight_bytes=r.weight_bytes / DTYPE_BYTES[r.dtype])
            if r.op_class in classes and r.weight_bytes > 0
            else r
            for r in stage.layers
        ]
        before = sum(r.weight_bytes for r in stage.layers)
        shrink = sum(r.weight_bytes for r in layers) / before if before else 1.0
        weights = stage.weight_bytes * shrink
        out.append(
            make_stage(
                stage.name, layers, stage.calls_per_keyframe, weight_bytes=weights,
                peak_activation_bytes=stage.peak_activation_bytes, per_frame=stage.per_frame,
            )
        )  # fmt: skip
    return out


def predict_levers(
    base: WorkloadSpec, levers: tuple[Lever, ...], profile: Any, host_kernels: bool = False
) -> LeverPrediction:
    """``base`` with ``levers`` predicted on ``profile`` (the road of ``zoomwatt predict``);
    ``host_kernels``: a prediction for this process's CPU (see :func:`lever_stages`)."""
    from zoomwatt.perfmodel import PredictOptions, predict

    spec = lever_spec(base, levers)
    stack = _listed_stack(lever_stack(levers), profile)
    options = PredictOptions(
        frames_per_keyframe=spec.every,
        target_fps=spec.fps,
        stack=stack,
        retained_memory=bool(lever_value(levers, "retain-memory")),
    )
    # OpenVINO runs every convolution in its own kernels, not eager PyTorch's choice of them
    native = host_kernels and stack not in OPENVINO_STACKS
    p = predict(lever_stages(base, levers, native), profile, options)
    busy_j = sum(s.energy_j for s in p.per_stage)  # keyframe stages + the period's frame work
    return LeverPrediction(p.keyframe_latency_s, p.frame_work_s, spec.every, busy_j)


def _listed_stack(stack: str | None, profile: Any) -> str | None:
    """``stack``, or ``openvino`` for ``openvino-int8`` on a profile that lists only the
    former (a shipped device: no int8-weight rates measured for it, so nncf-int8 is its
    openvino stack with the linear layers' weight bytes at one byte)."""
    names = getattr(profile, "stack_names", ())
    if stack == "openvino-int8" and stack not in names and "openvino" in names:
        return "openvino"
    return stack


def lever_stack(levers: tuple[Lever, ...]) -> str | None:
    """The software stack ``levers`` run on, as a profile names it (:data:`STACK_OF_LEVER`:
    ``openvino`` or ``openvino-int8`` where the openvino or nncf-int8 lever is on, ``compile``,
    ``tensorrt``;
    levers.py refuses two together), else None (the profile's default stack: eager PyTorch
    for the host)."""
    return next((s for lever, s in STACK_OF_LEVER.items() if lever_value(levers, lever)), None)
