"""Measure the classical (OpenCV) zoom per stage: inpainting, frame operations, video write."""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from zoomwatt.measurement.energy_meter import make_energy_meter
from zoomwatt.measurement.results import MeasureResult, StageMeasurement
from zoomwatt.measurement.timing import summarize
from zoomwatt.measurement.zoom_measurement import ProgressFn, measure_zoom
from zoomwatt.workload.stages import INPAINT_TIMING as INPAINT
from zoomwatt.workload.stages import StageName


def measure_classical(
    size: int = 512,
    keyframes: int = 4,
    warmup_keyframes: int = 1,
    frames_per_keyframe: int = 30,
    energy: bool = True,
    progress: ProgressFn | None = None,
) -> MeasureResult:
    """A classical zoom measured keyframe by keyframe (no model, so no prediction)."""
    from zoomwatt.measurement.validation import PROMPT, describe_device
    from zoomwatt.pipeline.zoom import ZoomConfig

    # 1. inputs are checked by ZoomConfig / measure_zoom
    started = time.perf_counter()
    meter = make_energy_meter("cpu", energy)

    # 2. run
    with tempfile.TemporaryDirectory(prefix="zoomwatt-measure-") as tmp:
        config = ZoomConfig(
            prompt=PROMPT,
            backend="classical",
            keyframes=keyframes,
            frames_per_keyframe=frames_per_keyframe,
            size=(size, size),
            out=str(Path(tmp) / "measure.mp4"),
            overwrite=True,
        )
        m = measure_zoom(
            config, None, meter=meter, warmup_keyframes=warmup_keyframes, progress=progress
        )

    # 3. stages
    stages = tuple(
        StageMeasurement(
            name=name,
            calls_per_keyframe=1.0,
            measured_latency_s=m.median_s(name),
            predicted_latency_s=None,
            per_call=summarize(m.stage_s[name]) if m.stage_s.get(name) else None,
            in_target=False,
        )
        for name in (INPAINT, StageName.FRAME_OPS, "video_write")
    )
    keyframe = StageMeasurement(
        "keyframe", 1.0, m.median_s(INPAINT), None, in_target=False, note="OpenCV inpainting"
    )
    return MeasureResult(
        kind="zoom",
        device=describe_device("cpu"),
        date=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        settings={
            "backend": "classical",
            "size": size,
            "keyframes": keyframes,
            "frames_per_keyframe": frames_per_keyframe,
        },
        stages=stages,
        keyframe=keyframe,
        energy_meter=meter.name,
        energy_note=None if meter.available else f"not measured: {meter.reason}",
        wall_s=time.perf_counter() - started,
    )
