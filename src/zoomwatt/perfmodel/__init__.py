"""Performance and energy model: per-layer roofline time, energy, power cap, and the roll-up to
keyframe latency, output fps, power (AI and non-AI), energy per frame, FPS/W and battery hours.

Typical use, the zoom's workload on devices (``zoomwatt predict``)::

    from zoomwatt.hardware import load_profile
    from zoomwatt.perfmodel import DeviceOptions, predict_workload
    from zoomwatt.workload import WorkloadSpec

    spec = WorkloadSpec(dtype="int8", every=60, fps=30.0)   # checked here, once
    (result,) = predict_workload(spec, [load_profile("jetson-orin-nano")], DeviceOptions())
    result.output_fps, result.avg_power_w, result.battery_hours

Or hand-built stages::

    stages = [make_stage(StageName.UNET, layers, calls_per_keyframe=20), ...]
    result = predict(stages, profile, PredictOptions(frames_per_keyframe=30, target_fps=30.0))

With a software stack (the profile's ``stack_names``; None is its default stack)::

    predict_workload(spec, [load_profile("h100-sxm")], DeviceOptions(stack="compile"))

For many variants at once, build the arrays once (:func:`build_layer_table`,
:func:`device_params`), call :func:`layer_costs` with batched device parameters, and
:func:`roll_up` the per-period costs as arrays (the optimizer's search does).
"""

from __future__ import annotations

from zoomwatt.hardware.stacks import resolve_stack
from zoomwatt.perfmodel.device_params import (
    FALLBACK,
    DeviceParams,
    compute_dtype_for,
    device_params,
)
from zoomwatt.perfmodel.layer_table import LayerTable, build_layer_table
from zoomwatt.perfmodel.non_ai_budget import NonAiBlock, NonAiBudget, non_ai_budget
from zoomwatt.perfmodel.results import Prediction, StageCost, Unsupported
from zoomwatt.perfmodel.rollup import (
    FrameRollup,
    PredictOptions,
    memory_needed_bytes,
    predict,
    predict_many,
    roll_up,
    rollup,
    supported,
    usable_memory_bytes,
)
from zoomwatt.perfmodel.roofline import BOUNDS, LayerCosts, fused_layers, layer_costs
from zoomwatt.perfmodel.stage import Stage, make_stage
from zoomwatt.perfmodel.workload_adapter import (
    DeviceOptions,
    Workload,
    load_workload,
    predict_workload,
    stage_from_workload,
    stages_from_workload,
)

__all__ = [
    "BOUNDS",
    "FALLBACK",
    "DeviceOptions",
    "DeviceParams",
    "FrameRollup",
    "LayerCosts",
    "LayerTable",
    "NonAiBlock",
    "NonAiBudget",
    "PredictOptions",
    "Prediction",
    "Stage",
    "StageCost",
    "Unsupported",
    "Workload",
    "build_layer_table",
    "compute_dtype_for",
    "device_params",
    "fused_layers",
    "layer_costs",
    "load_workload",
    "make_stage",
    "memory_needed_bytes",
    "non_ai_budget",
    "predict",
    "predict_many",
    "predict_workload",
    "resolve_stack",
    "roll_up",
    "rollup",
    "stage_from_workload",
    "stages_from_workload",
    "supported",
    "usable_memory_bytes",
]
