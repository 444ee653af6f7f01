"""Check the performance model against a measured zoom on this machine.

``validate`` predicts a keyframe of the SD2 inpainting zoom on the ``host`` profile (calibrated
by micro-benchmarks, :mod:`zoomwatt.hardware.host_calibration`), then runs that zoom for real:
the full-size SD2 inpainting architecture with random weights
(:func:`zoomwatt.archs.random_pipeline.build_random_sd2_inpaint`: the same layers, shapes and
kernels as the real model, so honest for speed and energy, meaningless for image quality), at a
size and step count small enough for a CPU. Per stage and for the whole keyframe it sets the
prediction beside the median measurement (warm-up keyframe excluded) and the error in percent;
energy where a counter can be read (:mod:`zoomwatt.measure.energy_meter`).
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
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.measure.energy_meter import EnergyMeter, make_energy_meter
from zoomwatt.measure.module_timing import time_layers
from zoomwatt.measure.results import LayerComparison, MeasureResult, StageMeasurement
from zoomwatt.measure.timing import cpu_share, cuda_sync, summarize, summarize_undisturbed
from zoomwatt.measure.zoom_measurement import ProgressFn, ZoomMeasurement, measure_zoom

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
    from zoomwatt.hardware.host_probe import _cpu_model

    return f"{_cpu_model()} (cpu, {torch.get_num_threads()} threads)"


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


def _predict(options: ValidateOptions, device: str, dtype: str) -> tuple[Any, Any, Any]:
    """The host profile, the workload and the prediction at the validation settings."""
    from zoomwatt.hardware.host_calibration import load_host_profile
    from zoomwatt.perfmodel import PredictOptions, predict, stages_from_workload
    from zoomwatt.workload import characterize

    profile = load_host_profile(
        device=device, plan=options.calibration_plan, recalibrate=options.recalibrate
    )
    report = characterize(
        size=options.size,
        steps=options.steps,
        cfg=options.guidance > 1.0,
        dtype=dtype,
        every=options.frames_per_keyframe,
        vae=options.vae,
    )
    stages = stages_from_workload(report)
    prediction = predict(stages, profile, PredictOptions(options.frames_per_keyframe))
    return profile, stages, prediction


def _per_layer(pipe: Any, stages: Any, profile: Any, options: ValidateOptions, device: str):
    """Every UNet leaf module: measured (hooks, median of repeats) against the roofline."""
    import numpy as np
    import torch

    from zoomwatt.perfmodel import build_layer_table, device_params, layer_costs

    unet_stage = next(s for s in stages if s.name == "unet")
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
                model="unet",
                module=t.module,
                op_class=max(classes, key=classes.get),
                predicted_latency_s=predicted[t.module],
                measured_latency_s=t.timing.median_s,
            )
        )
    return tuple(out)


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
    say = progress or (lambda _text: None)
    device = _device(options)
    dtype = options.dtype or ("fp16" if device == "cuda" else "fp32")
    meter = meter or make_energy_meter("cuda" if device == "cuda" else "cpu", options.energy)
    cfg = options.guidance > 1.0

    # 2. prediction on the calibrated host profile
    say(
        "calibrating this machine, then predicting on the host profile"
        if options.recalibrate
        else "predicting on the cached host profile (calibrates this machine on first use)"
    )
    profile, stages, prediction = _predict(options, device, dtype)
    costs = {s.name: s for s in prediction.per_stage}

    # 3. the pipeline and its backend
    from zoomwatt.pipeline.backends.sd2 import SD2Inpainter
    from zoomwatt.pipeline.zoom import ZoomConfig

    notes = [f"energy meter: {meter.name}"]
    if pipeline is None:
        from zoomwatt.archs.random_pipeline import build_random_sd2_inpaint

        say("building the full-size SD2 inpainting pipeline with random weights")
        pipeline = build_random_sd2_inpaint(device, dtype, options.seed, vae=options.vae)
        notes.append(RANDOM_NOTE)
    else:
        notes.append("pipeline given by the caller (not the full-size model)")
    backend = SD2Inpainter(
        pipeline=pipeline,
        steps=options.steps,
        guidance=options.guidance,
        scheduler="ddim",
        device=device,
        dtype=dtype,
    )
    pipe = backend.pipe
    models = {
        "vae_encoder": pipe.vae.encoder,
        "unet": pipe.unet,
        "vae_decoder": pipe.vae.decoder,
    }

    # 4. the zoom, measured
    sync = cuda_sync(device)
    with tempfile.TemporaryDirectory(prefix="zoomwatt-validate-") as tmp:
        config = ZoomConfig(
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
        say(f"zoom of {options.keyframes} keyframes ({options.warmup_keyframes} warm-up)")
        measured = measure_zoom(
            config,
            backend,
            models=models,
            meter=meter,
            warmup_keyframes=options.warmup_keyframes,
            sync=sync,
            progress=say,
            cpu_threads=_cpu_threads(device),
        )

    if device == "cpu" and measured.cpu_share is not None:
        notes.append(
            f"this process got {measured.cpu_share:.0%} of its threads' CPU time during the "
            "zoom" + ("; the machine was busy, so timings are slower than on a quiet one"
                      if measured.cpu_share < 0.8 else "")
        )  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    for stage, count in measured.disturbed.items():
        notes.append(
            f"{stage}: {count} of {len(measured.keyframes_measured)} keyframes left out, other "
            "programs held the CPU during them (< 80% of the threads' time)"
        )

    # 5. the prompt encoding, repeated (once per prompt in a zoom, so timed apart)
    import torch

    def encode() -> None:
        with torch.inference_mode():
            pipe.encode_prompt(PROMPT, device, 1, cfg, negative_prompt=None)

    say("timing the prompt encoding")
    text = _time_text(encode, options.text_repeats, sync, _cpu_threads(device))

    # 6. per layer, on request
    layers: tuple[LayerComparison, ...] = ()
    if options.per_layer:
        say("timing every UNet layer")
        layers = _per_layer(pipe, stages, profile, options, device)
    backend.close()

    # 7. compare
    result_stages = _compare(measured, costs, text, cfg)
    kf_pred = prediction.keyframe_latency_s
    kf_energy = sum(s.energy_j for s in prediction.per_stage)
    keyframe = StageMeasurement(
        name="keyframe",
        calls_per_keyframe=1.0,
        measured_latency_s=statistics.median(measured.keyframe_s),
        predicted_latency_s=kf_pred,
        measured_energy_j=statistics.median(measured.period_j) if measured.period_j else None,
        predicted_energy_j=kf_energy if measured.period_j else None,
        per_call=summarize(measured.keyframe_s),
        in_target=False,
        note="the backend's keyframe: model stages plus the pipeline around them (mask and "
        "image preparation, scheduler); energy: the whole keyframe period with its frames",
    )
    settings = {
        "pipeline": "sd2-inpaint",
        "vae": options.vae,
        "size": options.size,
        "steps": options.steps,
        "scheduler": "ddim",
        "cfg": cfg,
        "dtype": dtype,
        "device": device,
        "keyframes": options.keyframes,
        "warmup_keyframes": options.warmup_keyframes,
        "frames_per_keyframe": options.frames_per_keyframe,
        "profile": profile.name,
        "cpu_share": None if measured.cpu_share is None else round(measured.cpu_share, 3),
        "load_average_1min": None if load is None else round(load, 2),
        "profile_origin": getattr(profile, "origin", ""),
        "profile_calibrated": (getattr(profile, "calibration", None) or {}).get("date"),
        "profile_cpu_share": (getattr(profile, "calibration", None) or {}).get("cpu_share"),
    }
    return MeasureResult(
        kind="validate",
        device=describe_device(device),
        date=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        settings=settings,
        stages=result_stages,
        keyframe=keyframe,
        energy_meter=meter.name,
        energy_note=None if meter.available else f"not measured: {meter.reason}",
        wall_s=time.perf_counter() - started,
        target_error_pct=options.target_error_pct,
        layers=layers,
        notes=tuple(notes),
    )


def _compare(
    measured: ZoomMeasurement, costs: dict[str, Any], text: Any, cfg: bool
) -> tuple[StageMeasurement, ...]:
    out = []
    text_cost = costs.get("text_encoder")
    if text_cost is not None:
        calls = 2.0 if cfg else 1.0
        out.append(
            StageMeasurement(
                name="text_encoder",
                calls_per_keyframe=calls,
                measured_latency_s=text.median_s,
                predicted_latency_s=text_cost.latency_per_call_s * calls,
                predicted_energy_j=None,
                per_call=text,
                note="per prompt change (prompt and negative prompt with CFG), timed apart: "
                "a zoom encodes its prompt once",
            )
        )
    for name in ("vae_encoder", "unet", "vae_decoder"):
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
    frame = costs.get("frame_ops")
    out.append(
        StageMeasurement(
            name="frame_ops",
            calls_per_keyframe=1.0,
            measured_latency_s=measured.median_s("frame_ops"),
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
