"""Everything the report shows, computed first (the page only reads this object).

:func:`collect` characterizes the workload and predicts every shipped device (the road of
``zoomwatt predict``: :func:`zoomwatt.perfmodel.predict_workload`), checks the article's claims,
takes the per-layer roofline of one device, asks the optimizer for its Pareto front, loads the
latest measurement (``zoomwatt measure``) and reads the zoom video's first frames. A section
whose input is missing carries the reason instead, so the report is always written.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoomwatt.errors import InputError, ZoomwattError
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import StageName

log = logging.getLogger(__name__)

MAX_VIDEO_BYTES = 25 * 2**20  # larger videos are shown by their frames only


@dataclass(frozen=True)
class ReportOptions:
    """The study the report shows (the defaults of ``zoomwatt predict``)."""

    size: int = 512
    steps: int = 20
    cfg: bool = True
    dtype: str = "fp16"
    every: int = 30  # one keyframe in N output frames
    fps: float = 30.0
    focus_device: str = "jetson-orin-nano"  # the roofline, the diagram and the optimizer
    video: str | Path | None = "out/zoom.mp4"
    measurements: str | Path | None = "out/measure"
    prompt: str | None = None  # shown as given (escaped)
    optimize: bool = True
    max_error_db: float | None = -20.0  # the optimizer's error bound (noise-to-signal, dB)
    frames_shown: int = 6
    title: str = "zoomwatt: real-time infinite zoom on Stable Diffusion 2 inpainting"

    @property
    def spec(self) -> WorkloadSpec:
        """The workload of the study (checked when made)."""
        return WorkloadSpec(size=self.size, steps=self.steps, cfg=self.cfg, dtype=self.dtype,
                            every=self.every, fps=self.fps)  # fmt: skip

    def check(self) -> WorkloadSpec:
        """The study's workload; an :class:`InputError` for a bad option."""
        spec = self.spec
        if self.frames_shown < 0:
            raise InputError("frames_shown", self.frames_shown, "an integer >= 0")
        e = self.max_error_db
        if e is not None and (isinstance(e, bool) or not isinstance(e, int | float)
                              or not math.isfinite(e) or e >= 0):  # fmt: skip
            raise InputError("max_error_db", e, "None or a noise-to-signal ratio in dB below 0")
        return spec


@dataclass(frozen=True)
class StageSummary:
    name: StageName
    model: str
    params: int
    calls_per_keyframe: float
    macs_per_call: float
    macs_per_keyframe: float
    macs_share_by_class: dict[str, float]  # op class -> share of this stage's MACs


@dataclass(frozen=True)
class LayerPoint:
    """One layer on the focus device's roofline."""

    stage: str
    module: str
    op_class: str
    ops: float  # per call
    dram_bytes: float
    time_s: float
    bound: str

    @property
    def intensity_ops_per_byte(self) -> float:
        return self.ops / self.dram_bytes if self.dram_bytes > 0 else math.inf

    @property
    def attained_ops_per_s(self) -> float:
        return self.ops / self.time_s if self.time_s > 0 else 0.0


@dataclass(frozen=True)
class Roofline:
    device: str
    dtype: str
    peak_ops_per_s: float
    bandwidth_bytes_per_s: float
    points: tuple[LayerPoint, ...]


@dataclass(frozen=True)
class VideoFrames:
    path: str
    frames: int
    fps: float
    video_bytes: bytes | None  # the mp4, where small enough to embed
    stills_png: tuple[bytes, ...]  # first frame of each of the first keyframe segments
    still_indices: tuple[int, ...]


@dataclass(frozen=True)
class ReportData:
    options: ReportOptions
    settings: dict[str, Any]
    stages: tuple[StageSummary, ...]
    article: tuple[Any, ...]  # zoomwatt.workload.ArticleCheck
    predictions: tuple[Any, ...]  # Prediction | Unsupported, every shipped device
    focus: Any  # the Prediction of the focus device (None if unsupported)
    roofline: Roofline | None
    optimizer: Any  # zoomwatt.optimizer result, or None
    optimizer_note: str | None  # why there is no Pareto front
    measurement: Any  # zoomwatt.measurement.MeasureResult, or None
    measurement_note: str | None
    video: VideoFrames | None
    video_note: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # "How far to trust these numbers": zoomwatt validate's result (published + host check)
    trust: Any = None  # zoomwatt.evidence.results.ValidationResult, or None
    trust_note: str | None = None  # why there is none
    # "What each lever bought here": the last lever measurement (zoomwatt measure --levers)
    levers: Any = None  # zoomwatt.measurement.lever_check.LeverCheckResult, or None
    levers_note: str | None = None
    # "Keyframes and picture checks": what zoomwatt zoom wrote beside the video
    zoom_pictures: Any = None  # zoomwatt.reporting.zoom_section.ZoomPictures, or None
    zoom_pictures_note: str | None = None


def _stage_summaries(workload: Any) -> tuple[StageSummary, ...]:
    out = []
    for s in workload.stages:
        total = sum(s.macs_by_class.values())
        shares = {k: v / total for k, v in s.macs_by_class.items() if v} if total else {}
        out.append(
            StageSummary(
                name=StageName.parse(s.name),
                model=s.model,
                params=int(s.params),
                calls_per_keyframe=float(s.calls_per_keyframe),
                macs_per_call=float(s.macs_per_call),
                macs_per_keyframe=float(s.macs_per_call * s.calls_per_keyframe),
                macs_share_by_class=shares,
            )
        )
    return tuple(out)


def _roofline(stages: Any, profile: Any, dtype: str) -> Roofline | None:
    import numpy as np

    from zoomwatt.perfmodel import BOUNDS, build_layer_table, device_params, layer_costs

    params = device_params(profile)
    if not params.supports(dtype):
        return None
    table = build_layer_table(stages)
    costs = layer_costs(table, params)
    layers = [(st.name, la) for st in stages for la in st.layers]
    time_s = np.asarray(costs.time_s)
    dram = np.asarray(costs.dram_bytes)
    bound = np.asarray(costs.bound)
    points = tuple(
        LayerPoint(
            stage=name,
            module=layer.module,
            op_class=layer.op_class.value,
            ops=float(table.ops[i]),
            dram_bytes=float(dram[i]),
            time_s=float(time_s[i]),
            bound=BOUNDS[int(bound[i])],
        )
        for i, (name, layer) in enumerate(layers)
        if table.ops[i] > 0
    )
    engine = params.compute_dtype[dtype]
    return Roofline(
        device=profile.name,
        dtype=f"{dtype}" + (f" (computed as {engine})" if engine != dtype else ""),
        peak_ops_per_s=float(profile.peak_dense[engine].si),
        bandwidth_bytes_per_s=float(profile.memory_bandwidth.si),
        points=points,
    )


def _optimizer(options: ReportOptions) -> tuple[Any, str | None]:
    if not options.optimize:
        return None, "optimizer not run (--no-optimize)"
    from zoomwatt.optimizer import OptimizeOptions, explore

    try:
        result = explore(
            options.focus_device,
            OptimizeOptions(
                target_fps=options.fps, power_cap_w=None, max_error_db=options.max_error_db
            ),
        )
    except ZoomwattError as exc:
        return None, f"optimizer failed: {exc}"
    return result, None


def _measurement(options: ReportOptions) -> tuple[Any, str | None]:
    from zoomwatt.measurement.results import load_result

    if options.measurements is None:
        return None, "no measurement given"
    try:
        return load_result(options.measurements), None
    except InputError as exc:
        return None, f"not measured yet ({exc})"


def read_video_frames(path: str | Path, every: int, count: int) -> VideoFrames:
    """The video's frames 0, every, 2 x every, ... (``count`` of them) as PNG bytes."""
    import io

    import av
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise InputError("video", str(path), "an existing video file (run `zoomwatt zoom`)")
    wanted = {i * every for i in range(count)}
    stills: list[bytes] = []
    indices: list[int] = []
    frames = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 0)
            for frames, frame in enumerate(container.decode(stream), start=1):
                if frames - 1 in wanted:
                    image = frame.to_image()
                    image.thumbnail((256, 256), Image.Resampling.LANCZOS)
                    buf = io.BytesIO()
                    image.save(buf, format="PNG", optimize=True)
                    stills.append(buf.getvalue())
                    indices.append(frames - 1)
    except (OSError, av.error.FFmpegError) as exc:
        raise InputError("video", str(path), "a readable video", str(exc)) from exc
    size = path.stat().st_size
    data = path.read_bytes() if size <= MAX_VIDEO_BYTES and path.suffix == ".mp4" else None
    return VideoFrames(str(path), frames, fps, data, tuple(stills), tuple(indices))


def _devices(options: ReportOptions, workload: Any) -> tuple[tuple[Any, ...], Any, Any]:
    """Every shipped device's prediction, the focus device's, and its roofline."""
    from zoomwatt.hardware import load_profile, shipped_profile_names
    from zoomwatt.perfmodel import Prediction, predict_workload

    names = shipped_profile_names()
    if options.focus_device not in names:
        raise InputError("focus_device", options.focus_device, f"one of {names}")
    profiles = [load_profile(n) for n in names]
    predictions = tuple(predict_workload(workload, profiles))
    focus = next(
        (p for p in predictions
         if isinstance(p, Prediction) and p.hardware == options.focus_device),
        None,
    )  # fmt: skip
    focus_profile = profiles[names.index(options.focus_device)]
    return predictions, focus, _roofline(workload.stages, focus_profile, options.dtype)


def _zoom_pictures(options: ReportOptions) -> dict[str, Any]:
    """The zoom's contact sheet and picture checks (reporting.zoom_section)."""
    from zoomwatt.reporting.zoom_section import collect_zoom_pictures

    return collect_zoom_pictures(options.video)


def _levers(options: ReportOptions) -> dict[str, Any]:
    """The last lever measurement (reporting.levers_section)."""
    from zoomwatt.reporting.levers_section import collect_levers

    levers, note = collect_levers(options.measurements)
    return {"levers": levers, "levers_note": note}


def _trust(options: ReportOptions) -> tuple[Any, str | None]:
    """The published measurements held out and the last host check (zoomwatt validate)."""
    from zoomwatt.reporting.trust_section import collect_trust

    return collect_trust(options.measurements)


def _video(options: ReportOptions) -> tuple[VideoFrames | None, str | None]:
    if options.video is None:
        return None, "no video given"
    try:
        return read_video_frames(options.video, options.every, options.frames_shown), None
    except InputError as exc:
        return None, str(exc)


def collect(options: ReportOptions | None = None) -> ReportData:
    """Compute every section of the report."""
    from zoomwatt.perfmodel import load_workload
    from zoomwatt.workload import check_article

    # 1. inputs
    options = options or ReportOptions()
    spec = options.check()

    # 2. the workload and the article's claims
    log.info("report: characterizing the workload")
    workload = load_workload(spec)
    report = workload.report
    article = tuple(check_article(report))

    # 3. every device, and the focus device's roofline
    predictions, focus, roofline = _devices(options, workload)

    # 4. optimizer, measurement, video
    optimizer, optimizer_note = _optimizer(options)
    measurement, measurement_note = _measurement(options)
    video, video_note = _video(options)
    trust, trust_note = _trust(options)
    settings = {
        "pipeline": report.pipeline,
        "size": report.size,
        "steps": report.steps,
        "cfg": report.cfg,
        "dtype": report.dtype,
        "every": report.every,
        "fps": report.fps,
        "focus_device": options.focus_device,
        "macs_per_keyframe": report.per_keyframe.macs,
        "macs_per_output_frame": report.per_output_frame.macs,
        "weight_bytes": report.weight_bytes,
    }
    return ReportData(
        options=options,
        settings=settings,
        stages=_stage_summaries(report),
        article=article,
        predictions=predictions,
        focus=focus,
        roofline=roofline,
        optimizer=optimizer,
        optimizer_note=optimizer_note,
        measurement=measurement,
        measurement_note=measurement_note,
        video=video,
        video_note=video_note,
        trust=trust,
        trust_note=trust_note,
        **_levers(options),
        **_zoom_pictures(options),
    )
