"""Check the performance model against a measured zoom on this machine: the host check.

``validate`` runs the SD2 inpainting zoom for real on this machine: the full-size architecture
with random weights (:func:`zoomwatt.archs.random_pipeline.build_random_sd2_inpaint`: the same
layers, shapes and kernels as the real model, so honest for speed and energy, meaningless for
image quality), at a size and step count small enough for a CPU. The zoom gives the warm-up,
the frame operations, the video write and the whole keyframe, and keeps every model call's
inputs. Then the host check (:mod:`zoomwatt.measurement.host_check`) calibrates the ``host``
profile and times every model stage again on those inputs, in interleaved rounds with a
reference kernel around each stage, retrying (and recalibrating) while the machine was busy
or had changed speed: each model stage is ``ok`` / ``outside_target`` against its prediction,
or ``busy`` / ``drifting`` (not comparable), and the run gets one verdict. Energy where a
counter can be read (:mod:`zoomwatt.measurement.energy_meter`), from the zoom's calls.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoomwatt.errors import InputError, NotMeasurableError
from zoomwatt.hardware.host_probe import (
    BUSY_CPU_SHARE,
    RECORDED_FLAGS,
    cpu_description,
    cpu_flags,
    cpu_model,
    native_cpu_dtype,
)
from zoomwatt.measurement.energy_meter import EnergyMeter, make_energy_meter
from zoomwatt.measurement.host_check import (
    REFERENCE_DRIFT_PCT,
    Calibration,
    CheckPlan,
    HostCheck,
    HostStageCheck,
    run_check,
    stage_check,
    verdict,
)
from zoomwatt.measurement.module_timing import time_layers
from zoomwatt.measurement.results import LayerComparison, MeasureResult, StageMeasurement
from zoomwatt.measurement.stage_replay import SETTLE_MAX_S, CallInputs, TorchCheckMachine
from zoomwatt.measurement.timing import cuda_sync, summarize
from zoomwatt.measurement.zoom_measurement import ProgressFn, ZoomMeasurement, measure_zoom
from zoomwatt.pipeline.allocator import freed_memory_retained
from zoomwatt.workload.stages import StageName

if TYPE_CHECKING:
    from zoomwatt.perfmodel import Prediction
    from zoomwatt.workload.spec import WorkloadSpec

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
PROMPT = "an overgrown ancient temple in a misty jungle"
RANDOM_NOTE = (
    "full-size SD2 inpainting architecture with random weights: honest for speed and energy, "
    "meaningless for image quality"
)
MODEL_STAGES = (
    StageName.TEXT_ENCODER,
    StageName.VAE_ENCODER,
    StageName.UNET,
    StageName.VAE_DECODER,
)
# the dtypes a CPU host check also speaks of, native or not
OTHER_CPU_DTYPES = ("bf16",)


@dataclass(frozen=True)
class ValidateOptions:
    """What ``zoomwatt measure --validate`` runs. Defaults finish in about 3-4 minutes on a
    quiet 2-core CPU; on CUDA use ``size=512, steps=20`` for the real workload."""

    size: int = 256  # square frame side, a multiple of 64
    steps: int = 2  # denoising steps (DDIM: exactly one UNet call per step)
    keyframes: int = 4  # including the warm-up keyframes
    warmup_keyframes: int = 1
    frames_per_keyframe: int = 8
    guidance: float = 7.5  # > 1: classifier-free guidance, UNet batch 2
    device: str = "auto"  # cpu, cuda, or auto (CUDA when PyTorch sees one)
    dtype: str | None = None  # None: fp16 on CUDA, fp32 on a CPU
    seed: int = 0
    energy: bool = True
    per_layer: bool = False  # also time every UNet layer (forward hooks) against the model
    layer_repeats: int = 2
    target_error_pct: float = 15.0
    calibration_plan: str = "quick"
    recalibrate: bool = True  # calibrate the host before the check's rounds (else the cached
    # profile first); recalibrations after a drift happen either way
    vae: str = "default"
    rounds: int = 3  # the host check's rounds of every model stage
    min_clean: int = 2  # clean samples a stage needs under one calibration
    max_rounds: int = 6  # rounds in all, retries included
    max_calibrations: int = 3  # the first calibration and the recalibrations
    drift_pct: float = REFERENCE_DRIFT_PCT  # reference kernel's tolerated move from calibration
    settle_s: float = SETTLE_MAX_S  # a retry round's longest wait for the others to leave
    # the CPU allocator keeps freed memory while the zoom and the stages are measured, and the
    # model predicts so (the retain-memory lever: pipeline/allocator.py)
    retain_memory: bool = False

    def check_plan(self) -> CheckPlan:
        return CheckPlan(
            rounds=self.rounds,
            min_clean=self.min_clean,
            max_rounds=self.max_rounds,
            max_calibrations=self.max_calibrations if self.recalibrate else 1,
            drift_pct=self.drift_pct,
            target_error_pct=self.target_error_pct,
        )


def check_options(options: ValidateOptions) -> None:
    def whole(name: str, value: Any, low: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(name, value, f"an integer >= {low}")

    whole("size", options.size, 64)
    if options.size % 64:
        raise InputError("size", options.size, "a multiple of 64 (the model's latent grid)")
    whole("steps", options.steps, 1)
    whole("warmup_keyframes", options.warmup_keyframes, 0)
    whole("keyframes", options.keyframes, options.warmup_keyframes + 2)
    whole("frames_per_keyframe", options.frames_per_keyframe, 1)
    whole("layer_repeats", options.layer_repeats, 1)
    if options.device not in DEVICES:
        raise InputError("device", options.device, f"one of {DEVICES}")
    if options.dtype not in (None, "fp32", "fp16", "bf16"):
        raise InputError("dtype", options.dtype, "fp32, fp16 or bf16")
    if not math.isfinite(options.guidance) or options.guidance < 0:
        raise InputError("guidance", options.guidance, "a number >= 0")
    if not math.isfinite(options.target_error_pct) or options.target_error_pct <= 0:
        raise InputError("target_error_pct", options.target_error_pct, "a percentage > 0")
    if not isinstance(options.settle_s, int | float) or not 0 <= options.settle_s <= 3600:
        raise InputError("settle_s", options.settle_s, "seconds in [0, 3600]")
    options.check_plan().check()
    if not isinstance(options.retain_memory, bool):
        raise InputError("retain_memory", options.retain_memory, "True or False")


def _device(options: ValidateOptions) -> str:
    import torch

    if options.device == "cuda" and not torch.cuda.is_available():
        raise InputError("device", "cuda", "a device this machine has (cpu): torch sees no GPU")
    if options.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return options.device


def describe_device(device: str) -> str:
    """'AMD EPYC 7B13 (cpu, 2 threads)' or 'NVIDIA H100 80GB HBM3 (cuda)'."""
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)} (cuda)"
    return f"{cpu_model()} (cpu, {torch.get_num_threads()} threads)"


def _cpu_threads(device: str) -> int | None:
    """Torch's CPU threads for a CPU run (whose CPU share is judged), None on CUDA."""
    if device != "cpu":
        return None
    import torch

    return torch.get_num_threads()


def native_dtypes(device: str, dtype: str) -> tuple[str | None, tuple[str, ...]]:
    """(why ``dtype`` is not checked here, or None; what the check says of the other dtypes).
    On a CPU, bf16 and fp16 count only where the CPU computes them natively (AVX512-BF16,
    AMX): emulated, PyTorch converts to fp32 and the model is not what is being tested."""
    if device != "cpu":
        return None, ()
    native, text = native_cpu_dtype(dtype)
    notes = []
    for other in OTHER_CPU_DTYPES:
        if other == dtype:
            continue
        other_native, other_text = native_cpu_dtype(other)
        notes.append(
            f"{other_text}: checked by its own run (zoomwatt measure --validate --dtype {other})"
            if other_native
            else f"{other_text}: not checked"
        )
    return (None if native else text), tuple(notes)


def workload_spec(options: ValidateOptions, dtype: str) -> WorkloadSpec:
    """The workload that ``options`` runs, as the performance model sees it."""
    from zoomwatt.workload.spec import WorkloadSpec

    return WorkloadSpec(
        size=options.size,
        steps=options.steps,
        cfg=options.guidance > 1.0,
        dtype=dtype,
        every=options.frames_per_keyframe,
        vae=options.vae,
    )


def layer_seconds(
    stage: Any, profile: Any, retained_memory: bool = False
) -> list[tuple[Any, float]]:
    """Each layer record of ``stage`` with the roofline's seconds of it on ``profile``
    (``retained_memory``: the allocator keeps freed memory, perfmodel/device_params.py)."""
    import numpy as np

    from zoomwatt.perfmodel import build_layer_table, device_params, layer_costs

    params = device_params(profile, retained_memory=retained_memory)
    costs = layer_costs(build_layer_table([stage]), params)
    return [
        (layer, float(seconds))
        for layer, seconds in zip(stage.layers, np.asarray(costs.time_s), strict=True)
    ]


def predicted_by_module(
    stage: Any, profile: Any, retained_memory: bool = False
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The roofline's seconds of one call of ``stage`` on ``profile``, per module, and per
    module and op class (``retained_memory`` as :func:`layer_seconds`)."""
    predicted: dict[str, float] = defaultdict(float)
    by_class: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for layer, seconds in layer_seconds(stage, profile, retained_memory):
        predicted[layer.module] += seconds
        by_class[layer.module][layer.op_class.value] += seconds
    return predicted, by_class


def _per_layer(pipe: Any, stages: Any, profile: Any, options: ValidateOptions, device: str):
    """Every UNet leaf module: measured (hooks, median of repeats) against the roofline."""
    import torch

    unet_stage = next(s for s in stages if s.name == StageName.UNET)
    predicted, by_class = predicted_by_module(unet_stage, profile, options.retain_memory)

    batch = 2 if options.guidance > 1.0 else 1
    lat = options.size // 8
    unet = pipe.unet
    gen = torch.Generator("cpu").manual_seed(options.seed)
    sample = torch.randn(batch, unet.config.in_channels, lat, lat, generator=gen)
    text = torch.randn(batch, 77, unet.config.cross_attention_dim, generator=gen)
    sample, text = (x.to(device=device, dtype=unet.dtype) for x in (sample, text))
    step = torch.tensor(500, device=device)

    def call() -> None:
        with torch.inference_mode():
            unet(sample, step, encoder_hidden_states=text)

    timings = time_layers(
        unet, call, warmup=1, repeats=options.layer_repeats, sync=cuda_sync(device)
    )
    out = []
    for t in timings:
        if t.module not in predicted:
            continue
        classes = by_class[t.module]
        out.append(
            LayerComparison(
                model=StageName.UNET,
                module=t.module,
                op_class=max(classes, key=classes.get),
                predicted_latency_s=predicted[t.module],
                measured_latency_s=t.timing.median_s,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class _Run:
    """What one validation runs on: the device, the dtype, the energy meter."""

    options: ValidateOptions
    device: str
    dtype: str
    meter: EnergyMeter
    say: ProgressFn

    @property
    def cfg(self) -> bool:
        return self.options.guidance > 1.0

    @property
    def threads(self) -> int | None:
        """Torch's CPU threads for a CPU run (whose CPU share is judged), None on CUDA."""
        return _cpu_threads(self.device)


def _backend(run: _Run, pipeline: Any, notes: list[str]) -> Any:
    """The real ``sd2`` backend on ``pipeline`` (by default the full-size SD2 inpainting
    architecture with random weights)."""
    from zoomwatt.pipeline.backends.sd2 import SD2Inpainter

    options = run.options
    if pipeline is None:
        from zoomwatt.archs.random_pipeline import build_random_sd2_inpaint

        run.say("building the full-size SD2 inpainting pipeline with random weights")
        pipeline = build_random_sd2_inpaint(run.device, run.dtype, options.seed, vae=options.vae)
        notes.append(RANDOM_NOTE)
    else:
        notes.append("pipeline given by the caller (not the full-size model)")
    return SD2Inpainter(
        pipeline=pipeline,
        steps=options.steps,
        guidance=options.guidance,
        scheduler="ddim",
        device=run.device,
        dtype=run.dtype,
    )


def _models(pipe: Any) -> dict[str, Any]:
    """The model stages timed by hooks in the zoom (the text encoder is timed apart)."""
    return {
        StageName.VAE_ENCODER: pipe.vae.encoder,
        StageName.UNET: pipe.unet,
        StageName.VAE_DECODER: pipe.vae.decoder,
    }


def _measure(run: _Run, backend: Any, inputs: CallInputs) -> ZoomMeasurement:
    """The zoom, run for real with every model stage timed (and metered), every model call's
    inputs kept in ``inputs``."""
    from zoomwatt.pipeline.zoom import ZoomConfig

    options = run.options
    with tempfile.TemporaryDirectory(prefix="zoomwatt-validate-") as tmp:
        config = ZoomConfig.from_options(
            prompt=PROMPT,
            backend="sd2",
            keyframes=options.keyframes,
            frames_per_keyframe=options.frames_per_keyframe,
            size=(options.size, options.size),
            seed=options.seed,
            steps=options.steps,
            guidance=options.guidance,
            scheduler="ddim",
            out=str(Path(tmp) / "validate.mp4"),
            overwrite=True,
        )
        run.say(f"zoom of {options.keyframes} keyframes ({options.warmup_keyframes} warm-up)")
        inputs.attach()
        try:
            return measure_zoom(
                config,
                backend,
                models=inputs.models,
                meter=run.meter,
                warmup_keyframes=options.warmup_keyframes,
                sync=cuda_sync(run.device),
                progress=run.say,
                cpu_threads=run.threads,
            )
        finally:
            inputs.detach()


def _calls(measured: ZoomMeasurement, cfg: bool) -> dict[str, int]:
    """Calls per keyframe of each model stage (the text encoder: per prompt encoding)."""
    calls = {StageName.TEXT_ENCODER: 2 if cfg else 1}
    for name in MODEL_STAGES[1:]:
        calls[name] = max(1, round(measured.calls_per_keyframe.get(name, 0.0)))
    return calls


def _host_check(run: _Run, backend: Any, inputs: CallInputs, measured: ZoomMeasurement):
    """Calibration and the rounds of every model stage; the machine used for them."""
    options = run.options
    default_ref = "fp16" if run.device == "cuda" else "fp32"
    machine = TorchCheckMachine(
        pipe=backend.pipe,
        inputs=inputs,
        calls=_calls(measured, run.cfg),
        spec=workload_spec(options, run.dtype),
        device=run.device,
        plan=options.calibration_plan,
        recalibrate=options.recalibrate,
        reference_dtype=None if run.dtype == default_ref else run.dtype,
        prompt=PROMPT,
        sync=cuda_sync(run.device),
        threads=run.threads,
        settle_s=options.settle_s,
        retained_memory=options.retain_memory,
    )
    run.say(
        f"host check: calibrating, then {options.rounds} rounds of every model stage with a "
        "reference kernel between them"
    )
    cals, samples = run_check(machine, MODEL_STAGES, options.check_plan())
    return machine, cals, samples


def validate(
    options: ValidateOptions | None = None,
    *,
    meter: EnergyMeter | None = None,
    pipeline: Any = None,
    progress: ProgressFn | None = None,
) -> MeasureResult:
    """Run, check, compare. ``pipeline``: an already built inpainting pipeline (tests pass a
    tiny one; by default the full-size random-weight SD2 pipeline is built)."""
    # 1. inputs
    options = options or ValidateOptions()
    check_options(options)
    started = time.perf_counter()
    device = _device(options)
    dtype = options.dtype or ("fp16" if device == "cuda" else "fp32")
    meter = meter or make_energy_meter("cuda" if device == "cuda" else "cpu", options.energy)
    run = _Run(options, device, dtype, meter, progress or (lambda _text: None))
    not_native, dtype_notes = native_dtypes(device, dtype)
    notes = [f"energy meter: {meter.name}", *_allocator_notes(options, device)]

    with freed_memory_retained() if options.retain_memory else contextlib.nullcontext() as kept:
        if kept is not None and not kept.applied:
            raise NotMeasurableError(f"--retain-memory: {kept.note}")
        # 2. the zoom measured (warm-up, frame ops, video write, each model call's inputs)
        backend = _backend(run, pipeline, notes)
        inputs = CallInputs(_models(backend.pipe))
        measured = _measure(run, backend, inputs)
        notes += _load_notes(run, measured)

        # 3. the host check: calibration interleaved with rounds of every model stage
        machine, cals, samples = _host_check(run, backend, inputs, measured)
        plan = options.check_plan()
        checks = tuple(stage_check(name, samples[name], cals, plan) for name in MODEL_STAGES)
        layers: tuple[LayerComparison, ...] = ()
        if options.per_layer:
            run.say("timing every UNet layer")
            stages = machine.workload.stages
            layers = _per_layer(backend.pipe, stages, cals[-1].profile, options, device)
        backend.close()

    # 4. compare
    check = _check_result(run, checks, cals, not_native, dtype_notes, _load(), started)
    prediction = machine.predictions[-1]
    return MeasureResult(
        kind="validate",
        device=describe_device(device),
        date=check.date,
        settings=_settings(run, cals[-1].profile, measured, _load()),
        stages=_stages(checks, measured, prediction, machine.calls),
        keyframe=_keyframe(measured, prediction),
        energy_meter=meter.name,
        energy_note=None if meter.available else f"not measured: {meter.reason}",
        wall_s=time.perf_counter() - started,
        target_error_pct=options.target_error_pct,
        layers=layers,
        notes=(check.headline, *notes, *dtype_notes),
        host_check=check,
    )


RETAINED_NOTE = (
    "allocator: freed memory kept in the process (retain-memory), measured and predicted so: "
    "no fresh buffer's page faults, whose cost on a virtual machine can move with the host's "
    "memory (pipeline/allocator.py)"
)


def _allocator_notes(options: ValidateOptions, device: str) -> list[str]:
    """The note of ``options.retain_memory``; an InputError where this machine cannot keep
    freed memory (the lever's reason)."""
    if not options.retain_memory:
        return []
    from zoomwatt.pipeline.backends.levers import unavailable_reason

    why = unavailable_reason("retain-memory", device)
    if why is not None:
        raise InputError("retain_memory", True, "a CPU run on glibc (Linux)", why)
    return [RETAINED_NOTE]


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _check_result(
    run: _Run,
    checks: tuple[HostStageCheck, ...],
    cals: list[Calibration],
    not_native: str | None,
    dtype_notes: tuple[str, ...],
    load: float | None,
    started: float,
) -> HostCheck:
    """The host check's result: per stage, the verdict, the machine (``load``: the 1-minute
    load average at its end)."""
    options = run.options
    plan = options.check_plan()
    result, headline = verdict(checks, plan, not_native)
    flags = cpu_flags() if run.device == "cpu" else None
    return HostCheck(
        date=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        device=describe_device(run.device),
        cpu_model=cpu_description(),
        cpu_flags=None if flags is None else {f: f in flags for f in RECORDED_FLAGS},
        pipeline="sd2-inpaint",
        size=options.size,
        steps=options.steps,
        cfg=run.cfg,
        dtype=run.dtype,
        target_error_pct=options.target_error_pct,
        verdict=result,
        headline=headline,
        stages=checks,
        calibrations=tuple(cals),
        dtype_notes=dtype_notes,
        plan={k: getattr(plan, k) for k in plan.__dataclass_fields__},
        load_average_1min=load,
        wall_s=round(time.perf_counter() - started, 1),
    )


def _load_notes(run: _Run, measured: ZoomMeasurement) -> list[str]:
    """How busy the machine was while the zoom ran."""
    if run.device != "cpu" or measured.cpu_share is None:
        return []
    busy = measured.cpu_share < BUSY_CPU_SHARE
    return [
        f"the zoom run got {measured.cpu_share:.0%} of its threads' CPU time"
        + ("; the machine was busy, so its timings are slower than on a quiet one" if busy else "")
    ]


def _stages(
    checks: tuple[HostStageCheck, ...],
    measured: ZoomMeasurement,
    prediction: Prediction,
    calls: dict[str, int],
) -> tuple[StageMeasurement, ...]:
    """Model stages from the host check (energy from the zoom's calls), then the frame
    operations and the video write from the zoom."""
    costs = {s.name: s for s in prediction.per_stage}
    out = [
        _model_stage(check, measured, costs.get(check.name), float(calls[check.name]))
        for check in checks
    ]
    frame = costs.get(StageName.FRAME_OPS)
    out.append(
        StageMeasurement(
            name=StageName.FRAME_OPS,
            calls_per_keyframe=1.0,
            measured_latency_s=measured.median_s(StageName.FRAME_OPS),
            predicted_latency_s=frame.latency_s if frame else None,
            in_target=False,
            note="shrink, paste-back and the in-between frames of one keyframe (OpenCV on this "
            "machine); the model counts them as bytes and simple ops",
        )
    )
    out.append(
        StageMeasurement(
            name="video_write",
            calls_per_keyframe=1.0,
            measured_latency_s=measured.median_s("video_write"),
            predicted_latency_s=None,
            in_target=False,
            note="software H.264 here; the model takes a fixed-function encoder (DRAM traffic "
            "only, in frame_ops) as on the target devices",
        )
    )
    return tuple(out)


def _model_stage(
    check: HostStageCheck, measured: ZoomMeasurement, cost: Any, calls: float
) -> StageMeasurement:
    """One model stage: the host check's figures; a stage that was not comparable does not
    count for the target (and shows no error)."""
    used = [s for s in check.samples if s.clean and s.calibration == check.calibration]
    others = [s.measured_s for s in check.samples if s not in used]
    timing = None
    if check.samples:  # per_call: the samples behind the figure; disturbed_s: the others
        timing = summarize([s.measured_s for s in used] or others)
        timing = dataclasses.replace(timing, disturbed_s=tuple(others) if used else ())
    zoom_s = measured.median_s(check.name)
    text = check.name == StageName.TEXT_ENCODER
    where = (
        "per prompt encoding (prompt and negative prompt with CFG): a zoom encodes its prompt once"
        if text
        else f"in the zoom run {zoom_s:.3g} s per keyframe (median)"
        if zoom_s
        else ""
    )
    energy = measured.median_j(check.name)
    return StageMeasurement(
        name=check.name,
        calls_per_keyframe=calls,
        measured_latency_s=check.measured_s,
        predicted_latency_s=check.predicted_s if check.error_pct is not None else None,
        measured_energy_j=energy,
        predicted_energy_j=cost.energy_j if cost is not None and energy and not text else None,
        per_call=timing,
        in_target=check.error_pct is not None,
        note=f"host check: {check.status}; {check.note}" + (f"; {where}" if where else ""),
        not_compared=check.status if check.error_pct is None and check.predicted_s else "",
    )


def _keyframe(measured: ZoomMeasurement, prediction: Prediction) -> StageMeasurement:
    """The whole keyframe, measured against the model stages' predicted latency."""
    kf_energy = sum(s.energy_j for s in prediction.per_stage)
    return StageMeasurement(
        name="keyframe",
        calls_per_keyframe=1.0,
        measured_latency_s=statistics.median(measured.keyframe_s),
        predicted_latency_s=prediction.keyframe_latency_s,
        measured_energy_j=statistics.median(measured.period_j) if measured.period_j else None,
        predicted_energy_j=kf_energy if measured.period_j else None,
        per_call=summarize(measured.keyframe_s),
        in_target=False,
        note="the backend's keyframe: model stages plus the pipeline around them (mask and "
        "image preparation, scheduler); energy: the whole keyframe period with its frames",
    )


def _settings(
    run: _Run, profile: Any, measured: ZoomMeasurement, load: float | None
) -> dict[str, Any]:
    """What ran, on what, and how busy the machine was (``load``: the 1-minute load average
    after the check)."""
    options = run.options
    calibration = getattr(profile, "calibration", None) or {}
    return {
        "pipeline": "sd2-inpaint",
        "vae": options.vae,
        "size": options.size,
        "steps": options.steps,
        "scheduler": "ddim",
        "cfg": run.cfg,
        "dtype": run.dtype,
        "device": run.device,
        "keyframes": options.keyframes,
        "warmup_keyframes": options.warmup_keyframes,
        "frames_per_keyframe": options.frames_per_keyframe,
        "allocator": "retained" if options.retain_memory else "default",
        "profile": profile.name,
        "cpu_share": None if measured.cpu_share is None else round(measured.cpu_share, 3),
        "load_average_1min": load,
        "profile_origin": getattr(profile, "origin", ""),
        "profile_calibrated": calibration.get("date"),
        "profile_cpu_share": calibration.get("cpu_share"),
    }
