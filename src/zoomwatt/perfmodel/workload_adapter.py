"""Turn a ``zoomwatt.workload`` report into the performance model's stages.

Only the documented attributes of the report are read (``report.stages``, and per stage
``name``, ``layers``, ``calls_per_keyframe``, ``weight_bytes``, ``peak_activation_bytes``), so
the model does not depend on how the workload is traced.
"""

from __future__ import annotations

from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.perfmodel.stage import Stage, make_stage

# Stages that are per-output-frame work rather than part of a keyframe.
PER_FRAME_STAGES = frozenset({"frame_ops"})


def stages_from_workload(report: Any) -> list[Stage]:
    """The stages of a workload report (``zoomwatt.workload.characterize(...)``)."""
    stages = getattr(report, "stages", None)
    if not stages:
        raise InputError("report", type(report).__name__, "a workload report with stages")
    return [
        make_stage(
            s.name,
            s.layers,
            s.calls_per_keyframe,
            weight_bytes=s.weight_bytes,
            peak_activation_bytes=s.peak_activation_bytes,
            per_frame=s.name in PER_FRAME_STAGES,
        )
        for s in stages
    ]
