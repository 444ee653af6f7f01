"""Workload characterization: every layer of the zoom pipeline, counted.

:func:`characterize` traces each model of the pipeline once on the meta device (no weights, no
activations allocated) and rolls the per-op records up per call, keyframe, output frame and
second of video. Every pipeline of :mod:`zoomwatt.archs` is traced the same way, and any local
diffusers folder (``model_dir``); a txt2img pipeline is rolled up per image. :func:`trace_call`
traces any module call; :mod:`.formulas` holds the one table of per-op costs;
:func:`check_article` sets the article's claims beside the measurement.

The workload is named by a :class:`WorkloadSpec` (checked once, when made) and its stages by
:class:`StageName`. Names are imported lazily: ``zoomwatt.workload.records`` (the contract with
the performance model) can be imported without importing torch, and so can
:func:`characterize`, which imports torch only when a call is not in the workload cache
(:mod:`.trace_cache`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from zoomwatt.workload.records import DTYPE_BYTES, MODEL_DTYPES, LayerRecord, OpClass, Trace

if TYPE_CHECKING:
    from zoomwatt.workload.article import ArticleCheck, check_article
    from zoomwatt.workload.characterize_pipeline import STAGES, characterize, frame_ops_workload
    from zoomwatt.workload.results import StageWorkload, Totals, WorkloadReport
    from zoomwatt.workload.spec import WorkloadSpec, default_activation_dtype
    from zoomwatt.workload.stages import ALL_STAGES, MODEL_STAGES, StageName
    from zoomwatt.workload.tracer import trace_call

_LAZY = {
    "ArticleCheck": "article",
    "check_article": "article",
    "STAGES": "characterize_pipeline",
    "characterize": "characterize_pipeline",
    "frame_ops_workload": "characterize_pipeline",
    "default_activation_dtype": "spec",
    "WorkloadSpec": "spec",
    "StageName": "stages",
    "MODEL_STAGES": "stages",
    "ALL_STAGES": "stages",
    "StageWorkload": "results",
    "Totals": "results",
    "WorkloadReport": "results",
    "trace_call": "tracer",
}

__all__ = [
    "ALL_STAGES",
    "DTYPE_BYTES",
    "MODEL_DTYPES",
    "MODEL_STAGES",
    "STAGES",
    "ArticleCheck",
    "LayerRecord",
    "OpClass",
    "StageName",
    "StageWorkload",
    "Totals",
    "Trace",
    "WorkloadReport",
    "WorkloadSpec",
    "characterize",
    "check_article",
    "default_activation_dtype",
    "frame_ops_workload",
    "trace_call",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zoomwatt.workload' has no attribute {name!r}")
    return getattr(import_module(f"zoomwatt.workload.{module}"), name)
