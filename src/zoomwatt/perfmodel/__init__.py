"""Performance and energy model: per-layer roofline time, energy, power cap, and the roll-up to
keyframe latency, output fps, power (AI and non-AI), energy per frame, FPS/W and battery hours.

Typical use::

    from zoomwatt.hardware import load_profile
    from zoomwatt.perfmodel import make_stage, predict, PredictOptions

    stages = [make_stage("unet", layers, calls_per_keyframe=20), ...]
    options = PredictOptions(frames_per_keyframe=30, target_fps=30.0)
    result = predict(stages, load_profile("jetson-orin-nano"), options)
    result.output_fps, result.avg_power_w, result.battery_hours

For many variants at once, build the arrays once (:func:`build_layer_table`,
:func:`device_params`) and call :func:`layer_costs` with batched device parameters.
"""

from __future__ import annotations

from zoomwatt.perfmodel.device_params import (
    FALLBACK,
    DeviceParams,
    compute_dtype_for,
    device_params,
)
from zoomwatt.perfmodel.layer_table import LayerTable, build_layer_table
from zoomwatt.perfmodel.non_ai_budget import NonAiBlock, NonAiBudget, non_ai_budget
from zoomwatt.perfmodel.results import Prediction, StageCost, Unsupported
from zoomwatt.perfmodel.rollup import PredictOptions, predict, predict_many, rollup
from zoomwatt.perfmodel.roofline import BOUNDS, LayerCosts, layer_costs
from zoomwatt.perfmodel.stage import Stage, make_stage
from zoomwatt.perfmodel.workload_adapter import stages_from_workload

__all__ = [
    "BOUNDS",
    "FALLBACK",
    "DeviceParams",
    "LayerCosts",
    "LayerTable",
    "NonAiBlock",
    "NonAiBudget",
    "PredictOptions",
    "Prediction",
    "Stage",
    "StageCost",
    "Unsupported",
    "build_layer_table",
    "compute_dtype_for",
    "device_params",
    "layer_costs",
    "make_stage",
    "non_ai_budget",
    "predict",
    "predict_many",
    "rollup",
    "stages_from_workload",
]
