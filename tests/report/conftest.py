"""Shared report fixtures: a tiny zoom video, a saved measurement, the collected study."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from zoomwatt.measurement.results import (
    LayerComparison,
    MeasureResult,
    StageMeasurement,
    save_result,
)
from zoomwatt.measurement.timing import summarize

PROMPT = "<script>alert(1)</script> & a temple"


@dataclass
class FakeCandidate:
    label: str
    output_fps: float
    energy_per_frame_j: float
    knobs: dict = field(default_factory=dict)
    avg_power_w: float = 10.0
    fps_per_watt: float = 1.0
    keyframe_latency_s: float = 1.0
    error_db: float | None = None
    meets_targets: bool = False


@dataclass
class FakeOptimizeResult:
    hardware: str = "jetson-orin-nano"
    candidates_evaluated: int = 42
    baseline: FakeCandidate = field(
        default_factory=lambda: FakeCandidate("baseline <fp16>", 3.0, 3.0, {"dtype": "fp16"})
    )
    pareto: list = field(
        default_factory=lambda: [
            FakeCandidate("int8", 6.0, 1.5, {"dtype": "int8"}, error_db=-30.0),
            FakeCandidate("int8 + every 100", 31.0, 0.9, {"every": 100}, meets_targets=True),
        ]
    )

    @property
    def best(self):
        return self.pareto[-1]


def fake_measurement() -> MeasureResult:
    def stage(name, pred, meas, in_target=True):
        return StageMeasurement(
            name, 1.0, meas, pred, per_call=summarize([meas]), in_target=in_target
        )

    return MeasureResult(
        kind="validate",
        device="Test CPU <2 threads>",
        date="2026-11-23T12:00:00+0000",
        settings={"size": 256, "steps": 2, "cpu_share": 0.5},
        stages=(
            stage("vae_encoder", 3.4, 3.9),
            stage("unet", 7.6, 8.1),
            stage("vae_decoder", 7.8, 7.0),
            stage("video_write", None, 0.03, in_target=False),
        ),
        keyframe=stage("keyframe", 18.8, 20.0, in_target=False),
        energy_meter="none",
        energy_note="not measured: no RAPL counter",
        wall_s=100.0,
        target_error_pct=25.0,
        layers=(
            LayerComparison("unet", "conv_in", "conv", 0.010, 0.012),
            LayerComparison("unet", "down_blocks.0.attentions.0.proj_in", "linear", 0.002, 0.003),
        ),
    )


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory):
    from zoomwatt.pipeline.zoom import zoom

    folder = tmp_path_factory.mktemp("video")
    zoom(prompt="x", keyframes=3, frames_per_keyframe=4, size=(64, 64), out=folder / "z.mp4")
    return folder / "z.mp4"


@pytest.fixture(scope="session")
def measurements(tmp_path_factory):
    folder = tmp_path_factory.mktemp("measure")
    save_result(fake_measurement(), folder)
    return folder


@pytest.fixture(scope="session")
def report_data(tiny_video, measurements):
    """The study at a small setting, with the fake optimizer result put in."""
    import dataclasses

    from zoomwatt.reporting import ReportOptions, collect

    options = ReportOptions(
        video=tiny_video,
        measurements=measurements,
        prompt=PROMPT,
        optimize=False,
        every=4,
        frames_shown=3,
    )
    data = collect(options)
    return dataclasses.replace(data, optimizer=FakeOptimizeResult(), optimizer_note=None)
