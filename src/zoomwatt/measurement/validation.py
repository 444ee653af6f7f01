"""Check the performance model against a measured zoom on this machine.

``validate`` predicts a keyframe of the SD2 inpainting zoom on the ``host`` profile (calibrated
by micro-benchmarks, :mod:`zoomwatt.hardware.host_calibration`), then runs that zoom for real:
the full-size SD2 inpainting architecture with random weights
(:func:`zoomwatt.archs.random_pipeline.build_random_sd2_inpaint`: the same layers, shapes and
kernels as the real model, so honest for speed and energy, meaningless for image quality), at a
size and step count small enough for a CPU. Per stage and for the whole keyframe it sets the
prediction beside the median measurement (warm-up keyframe excluded) and the error in percent;
energy where a counter can be read (:mod:`zoomwatt.measurement.energy_meter`).
"""

from __future__ import annotations

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

from zoomwatt.errors import InputError
from zoomwatt.hardware.host_probe import BUSY_CPU_SHARE, cpu_share
from zoomwatt.measurement.energy_meter import EnergyMeter, make_energy_meter
from zoomwatt.measurement.module_timing import time_layers
from zoomwatt.measurement.results import LayerComparison, MeasureResult, StageMeasurement
from zoomwatt.measurement.timing import cuda_sync, summarize, summarize_undisturbed
from zoomwatt.measurement.zoom_measurement import ProgressFn, ZoomMeasurement, measure_zoom
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


@dataclass(frozen=True)
class ValidateOptions:
    """What ``zoomwatt measure --validate`` runs. Defaults finish in about 3 minutes on a
    2-core CPU; on CUDA use ``size=512, steps=20`` for the real workload."""

    size: int = 256  # square frame side, a multiple of 64
    steps: int = 2  # denoising steps (DDIM: exactly one UNet call per step)
    keyframes: int = 4  # including the warm-up keyframes
    warmup_keyframes: int = 1
    frames_per_keyframe: int = 8
    text_repeats: int = 3  # timed prompt encodings (after one warm-up)
    guidance: float = 7.5  # > 1: classifier-free guidance, UNet batch 2
    device: str = "auto"  # cpu, cuda, or auto (CUDA when PyTorch sees one)
    dtype: str | None = None  # None: fp16 on CUDA, fp32 on a CPU
    seed: int = 0
    energy: bool = True
    per_layer: bool = False  # also time every UNet layer (forward hooks) against the model
    layer_repeats: int = 2
    target_error_pct: float = 25.0
    calibration_plan: str = "quick"
    recalibrate: bool = True  # calibrate the host at the start, so prediction and measurement
    # see the same machine (a shared VM's speed drifts by tens of percent over minutes)
    vae: str = "default"


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
    whole("text_repeats", options.text_repeats, 1)
    whole("layer_repeats", options.layer_repeats, 1)
    if options.device not in DEVICES:
        raise InputError("device", options.device, f"one of {DEVICES}")
    if options.dtype not in (None, "fp32", "fp16", "bf16"):
        raise InputError("dtype", options.dtype, "fp32, fp16 or bf16")
    if not math.isfinite(options.guidance) or options.guidance < 0:
        raise InputError("guidance", options.guidance, "a number >= 0")
    if not math.isfinite(options.target_error_pct) or options.target_error_pct <= 0:
        raise InputError("target_error_pct", options.target_error_pct, "a percentage > 0")


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
    from zoomwatt.hardware.host_probe import cpu_model

    return f"{cpu_model()} (cpu, {torch.get_num_threads()} threads)"


def _cpu_threads(device: str) -> int | None:
    """Torch's CPU threads for a CPU run (whose CPU share is judged), None on CUDA."""
    if device != "cpu":
        return None
    import torch

    return torch.get_num_threads()


def _time_text(encode: Any, repeats: int, sync: Any, threads: int | None) -> Any:
    """The prompt encoding: one warm-up, then ``repeats`` timed, disturbed ones left out."""
    encode()
    samples, shares = [], []
    for _ in range(repeats):
        sync()
        cpu0, start = time.process_time(), time.perf_counter()
        encode()
        sync()
        wall = time.perf_counter() - start
        samples.append(wall)
        shares.append(cpu_share(time.process_time() - cpu0, wall, threads) if threads else None)
    return summarize_undisturbed(samples, shares)


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


def _predict(
    options: ValidateOptions, device: str, spec: WorkloadSpec
) -> tuple[Any, Any, Prediction]:
    """The host profile, the workload's stages and the prediction of ``spec``: the road of
    ``zoomwatt predict``."""
    from zoomwatt.hardware.host_calibration import load_host_profile
    from zoomwatt.perfmodel import load_workload, predict_workload, supported

    profile = load_host_profile(
        device=device, plan=options.calibration_plan, recalibrate=options.recalibrate
    )
    workload = load_workload(spec)
    (prediction,) = predict_workload(workload, [profile])
    return profile, workload.stages, supported(prediction)


def _per_layer(pipe: Any, stages: Any, profile: Any, options: ValidateOptions, device: str):
    """Every UNet leaf module: measured (hooks, median of repeats) against the roofline."""
    import numpy as np
    import torch

    from zoomwatt.perfmodel import build_layer_table, device_params, layer_costs

    unet_stage = next(s for s in stages if s.name == StageName.UNET)
    table = build_layer_table([unet_stage])
    costs = layer_costs(table, device_params(profile))
    predicted: dict[str, float] = defaultdict(float)
    by_class: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for layer, seconds in zip(unet_stage.layers, np.asarray(costs.time_s), strict=True):
        predicted[layer.module] += float(seconds)
        by_class[layer.module][layer.op_class.value] += float(seconds)

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


def _measure(run: _Run, backend: Any) -> ZoomMeasurement:
    """The zoom, run for real with every model stage timed (and metered)."""
    from zoomwatt.pipeline.zoom import ZoomConfig

    options, pipe = run.options, backend.pipe
    models = {
        StageName.VAE_ENCODER: pipe.vae.encoder,
        StageName.UNET: pipe.unet,
        StageName.VAE_DECODER: pipe.vae.decoder,
    }
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
        return measure_zoom(
            config,
            backend,
            models=models,
            meter=run.meter,
            warmup_keyframes=options.warmup_keyframes,
            sync=cuda_sync(run.device),
            progress=run.say,
            cpu_threads=_cpu_threads(run.device),
        )


def _load_notes(run: _Run, measured: ZoomMeasurement) -> list[str]:
    """How busy the machine was while the zoom ran."""
    notes = []
    if run.device == "cpu" and measured.cpu_share is not None:
        notes.append(
            f"this process got {measured.cpu_share:.0%} of its threads' CPU time during the "
            "zoom" + ("; the machine was busy, so timings are slower than on a quiet one"
                      if measured.cpu_share < BUSY_CPU_SHARE else "")
        )  # fmt: skip
    for stage, count in measured.disturbed.items():
        notes.append(
            f"{stage}: {count} of {len(measured.keyframes_measured)} keyframes left out, other "
            "programs held the CPU during them (< 80% of the threads' time)"
        )
    return notes


def _time_prompt(run: _Run, pipe: Any) -> Any:
    """The prompt encoding, repeated (once per prompt in a zoom, so timed apart)."""
    import torch

    def encode() -> None:
        with torch.inference_mode():
            pipe.encode_prompt(PROMPT, run.device, 1, run.cfg, negative_prompt=None)

    run.say("timing the prompt encoding")
    sync = cuda_sync(run.device)
    return _time_text(encode, run.options.text_repeats, sync, _cpu_threads(run.device))


def validate(
    options: ValidateOptions | None = None,
    *,
    meter: EnergyMeter | None = None,
    pipeline: Any = None,
    progress: ProgressFn | None = None,
) -> MeasureResult:
    """Predict, run, compare. ``pipeline``: an already built inpainting pipeline (tests pass a
    tiny one; by default the full-size random-weight SD2 pipeline is built)."""
    # 1. inputs
    options = options or ValidateOptions()
    check_options(options)
    started = time.perf_counter()
    device = _device(options)
    dtype = options.dtype or ("fp16" if device == "cuda" else "fp32")
    meter = meter or make_energy_meter("cuda" if device == "cuda" else "cpu", options.energy)
    run = _Run(options, device, dtype, meter, progress or (lambda _text: None))
    spec = workload_spec(options, dtype)

    # 2. prediction on the calibrated host profile
    run.say(
        "calibrating this machine, then predicting on the host profile"
        if options.recalibrate
        else "predicting on the cached host profile (calibrates this machine on first use)"
    )
    profile, stages, prediction = _predict(options, device, spec)

    # 3. the zoom measured, the prompt encoding timed, and per layer on request
    notes = [f"energy meter: {meter.name}"]
    backend = _backend(run, pipeline, notes)
    measured = _measure(run, backend)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    notes += _load_notes(run, measured)
    text = _time_prompt(run, backend.pipe)
    layers: tuple[LayerComparison, ...] = ()
    if options.per_layer:
        run.say("timing every UNet layer")
        layers = _per_layer(backend.pipe, stages, profile, options, device)
    backend.close()

    # 4. compare
    return MeasureResult(
        kind="validate",
        device=describe_device(device),
        date=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        settings=_settings(run, profile, measured, load),
        stages=_compare(measured, {s.name: s for s in prediction.per_stage}, text, run.cfg),
        keyframe=_keyframe(measured, prediction),
        energy_meter=meter.name,
        energy_note=None if meter.available else f"not measured: {meter.reason}",
        wall_s=time.perf_counter() - started,
        target_error_pct=options.target_error_pct,
        layers=layers,
        notes=tuple(notes),
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
    after the zoom)."""
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
        "profile": profile.name,
        "cpu_share": None if measured.cpu_share is None else round(measured.cpu_share, 3),
        "load_average_1min": None if load is None else round(load, 2),
        "profile_origin": getattr(profile, "origin", ""),
        "profile_calibrated": calibration.get("date"),
        "profile_cpu_share": calibration.get("cpu_share"),
    }


def _compare(
    measured: ZoomMeasurement, costs: dict[str, Any], text: Any, cfg: bool
) -> tuple[StageMeasurement, ...]:
    out = []
    text_cost = costs.get(StageName.TEXT_ENCODER)
    if text_cost is not None:
        calls = 2.0 if cfg else 1.0
        out.append(
            StageMeasurement(
                name=StageName.TEXT_ENCODER,
                calls_per_keyframe=calls,
                measured_latency_s=text.median_s,
                predicted_latency_s=text_cost.latency_per_call_s * calls,
                predicted_energy_j=None,
                per_call=text,
                note="per prompt change (prompt and negative prompt with CFG), timed apart: "
                "a zoom encodes its prompt once",
            )
        )
    for name in (StageName.VAE_ENCODER, StageName.UNET, StageName.VAE_DECODER):
        cost = costs.get(name)
        out.append(
            StageMeasurement(
                name=name,
                calls_per_keyframe=measured.calls_per_keyframe.get(name, 0.0),
                measured_latency_s=measured.median_s(name),
                predicted_latency_s=cost.latency_s if cost else None,
                measured_energy_j=measured.median_j(name),
                predicted_energy_j=cost.energy_j if cost and measured.median_j(name) else None,
                per_call=measured.calls.get(name),
            )
        )
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
