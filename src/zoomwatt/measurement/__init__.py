"""Measurement: time each stage of a real zoom run (and, on request, each layer), measure
energy where a counter can be read, and check the performance model's predictions.

- :mod:`.energy_meter`: one interface over Zeus (NVML, RAPL) with a do-nothing stand-in;
- :mod:`.timing`: warm-up excluded, median of repeats;
- :mod:`.module_timing`: per-call and per-layer times through forward hooks;
- :mod:`.zoom_measurement`: a real zoom run, stage by stage, keyframe by keyframe;
- :mod:`.validation`: predicted against measured on this machine;
- :mod:`.results`: the result objects and the files the report reads.
"""

from __future__ import annotations

from zoomwatt.measurement.energy_meter import (
    EnergyMeter,
    EnergyReading,
    NullEnergyMeter,
    ZeusEnergyMeter,
    make_energy_meter,
)
from zoomwatt.measurement.module_timing import CallTimer, LayerTiming, time_layers
from zoomwatt.measurement.results import (
    LayerComparison,
    MeasureResult,
    StageMeasurement,
    error_pct,
    load_result,
    save_result,
)
from zoomwatt.measurement.timing import Timing, summarize, time_repeats
from zoomwatt.measurement.validation import ValidateOptions, validate
from zoomwatt.measurement.zoom_measurement import ZoomMeasurement, measure_zoom

__all__ = [
    "CallTimer",
    "EnergyMeter",
    "EnergyReading",
    "LayerComparison",
    "LayerTiming",
    "MeasureResult",
    "NullEnergyMeter",
    "StageMeasurement",
    "Timing",
    "ValidateOptions",
    "ZeusEnergyMeter",
    "ZoomMeasurement",
    "error_pct",
    "load_result",
    "make_energy_meter",
    "measure_zoom",
    "save_result",
    "summarize",
    "time_layers",
    "time_repeats",
    "validate",
]
