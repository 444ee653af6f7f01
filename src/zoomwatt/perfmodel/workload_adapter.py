"""The one road from a workload to predictions: specification -> traced workload -> the
performance model's stages -> a prediction per device.

:func:`load_workload` characterizes a :class:`~zoomwatt.workload.spec.WorkloadSpec` and turns
its report into :class:`~zoomwatt.perfmodel.stage.Stage` objects; :func:`predict_workload`
predicts them on hardware profiles. ``zoomwatt predict``, the report, ``zoomwatt measure
--validate`` and the optimizer's search all take this road.

Only the documented attributes of a workload report are read (``report.stages``, and per stage
``name``, ``layers``, ``calls_per_keyframe``, ``weight_bytes``, ``peak_activation_bytes``), so
the model does not depend on how the workload is traced. Whether a stage is per-frame work is
its :class:`~zoomwatt.workload.stages.StageName`'s to say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.hardware.schema import HardwareProfile
from zoomwatt.perfmodel.results import Prediction, Unsupported
from zoomwatt.perfmodel.rollup import PredictOptions, predict_many
from zoomwatt.perfmodel.stage import Stage, make_stage
from zoomwatt.workload.results import StageWorkload, WorkloadReport
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import StageName


@dataclass(frozen=True)
class DeviceOptions:
    """Settings of a prediction that are neither in the workload nor in the profile."""

    battery_wh: float | None = None  # None: the profile's default battery (if any)
    non_ai_w: Mapping[str, float] = field(default_factory=dict)  # block -> W overrides
    sparse: bool = False  # conv/linear at the 2:4 sparse peak where supported
    efficiency: Mapping[str, float] = field(default_factory=dict)  # op class -> factor override
    # software stack, one of hardware.schema.STACKS; None: each profile's default stack (a
    # profile's stack_names are the stacks it can take; another one is an InputError)
    stack: str | None = None
    fitted_stacks: bool = True  # lay the figures fitted to published data over the stack's
    retained_memory: bool = False  # the CPU allocator keeps freed memory (retain-memory lever)

    def predict_options(self, spec: WorkloadSpec) -> PredictOptions:
        """The model's options for ``spec``: N = ``spec.every``, the target is ``spec.fps``."""
        return PredictOptions(
            frames_per_keyframe=spec.every,
            target_fps=spec.fps,
            battery_wh=self.battery_wh,
            non_ai_w=self.non_ai_w,
            sparse=self.sparse,
            efficiency=self.efficiency,
            stack=self.stack,
            fitted_stacks=self.fitted_stacks,
            retained_memory=self.retained_memory,
        )


@dataclass(frozen=True)
class Workload:
    """A specification, what characterizing it gave, and its stages for the model."""

    spec: WorkloadSpec
    report: WorkloadReport
    stages: tuple[Stage, ...]


def stage_from_workload(stage: StageWorkload) -> Stage:
    """One stage of a workload report as the model sees it."""
    name = StageName.parse(stage.name, "report.stages.name")
    return make_stage(
        name,
        stage.layers,
        stage.calls_per_keyframe,
        weight_bytes=stage.weight_bytes,
        peak_activation_bytes=stage.peak_activation_bytes,
        per_frame=name.per_frame,
    )


def stages_from_workload(report: Any) -> list[Stage]:
    """The stages of a workload report (``zoomwatt.workload.characterize(...)``)."""
    stages = getattr(report, "stages", None)
    if not stages:
        raise InputError("report", type(report).__name__, "a workload report with stages")
    return [stage_from_workload(s) for s in stages]


def load_workload(spec: WorkloadSpec, *, cache: bool = True) -> Workload:
    """Characterize ``spec`` (from the workload cache on disk when ``cache``) into stages."""
    from zoomwatt.workload.characterize_pipeline import characterize

    if not isinstance(spec, WorkloadSpec):
        raise InputError("spec", spec, "a WorkloadSpec")
    report = characterize(spec, cache=cache)
    return Workload(spec, report, tuple(stages_from_workload(report)))


def predict_workload(
    workload: WorkloadSpec | Workload,
    profiles: Sequence[HardwareProfile],
    options: DeviceOptions | None = None,
    *,
    cache: bool = True,
) -> list[Prediction | Unsupported]:
    """The workload (a spec, characterized here, or one already loaded) on each profile: 1
    keyframe every ``spec.every`` frames, against a target of ``spec.fps``; a device that
    cannot compute the dtype gets an :class:`Unsupported` entry instead of a prediction."""
    if not isinstance(workload, Workload):
        workload = load_workload(workload, cache=cache)
    options = options or DeviceOptions()
    return predict_many(workload.stages, profiles, options.predict_options(workload.spec))
