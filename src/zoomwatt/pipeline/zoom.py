"""The infinite-zoom video: settings, input checks, keyframes, in-between frames, output.

``ZoomRun(config).frames()`` yields every output frame as soon as it exists (for streaming
use); ``ZoomRun(config).run()`` writes them to the video file as they come and returns a
:class:`ZoomResult` with per-keyframe stage timings. :func:`zoom` does the same from keyword
arguments named like the command line options.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from zoomwatt.errors import InputError, shorten
from zoomwatt.pipeline.backends import BackendOptions, Inpainter, backend_entry, options_for
from zoomwatt.pipeline.contact_sheet import SheetBuilder, sheet_path
from zoomwatt.pipeline.geometry import ZoomGeometry, output_frame_count
from zoomwatt.pipeline.picture_checks import ZoomChecker, ZoomChecks, checks_path
from zoomwatt.pipeline.prompts import (
    MAX_PROMPT_CHARS,
    TIME_UNITS,
    PromptSchedule,
    load_schedule,
)
from zoomwatt.pipeline.realtime import (
    LATE_POLICIES,
    BackgroundWriter,
    StreamOptions,
    StreamReport,
    prefetch,
    stream,
)
from zoomwatt.pipeline.run_lock import RunLock, lock_file_for_output, lock_file_for_work_dir
from zoomwatt.pipeline.seeds import keyframe_seed
from zoomwatt.pipeline.video import FORMATS, VideoWriter, check_fps, stale_partials
from zoomwatt.pipeline.workdir import KeyframeStore

log = logging.getLogger(__name__)

DIRECTIONS = ("out", "in")
MAX_SEED = 2**63 - 1
# Limits, checked before any work (README, "Limits"): a 4096 x 4096 frame is 48 MiB of
# RGB, 8x the side of SD2's native 512; 216,000 frames are 2 hours at 30 fps.
MIN_SIDE_PX = 16
MAX_SIDE_PX = 4096
MAX_KEYFRAMES = 10_000
MAX_FRAMES_PER_KEYFRAME = 3_600
MAX_TOTAL_FRAMES = 216_000
MAX_START_IMAGE_PIXELS = 64_000_000  # a 8000x8000 photo; a decompression bomb is refused


@dataclass
class ZoomConfig:
    """Every setting of a zoom; names and defaults match ``zoomwatt zoom``'s options."""

    prompt: str | None = None
    prompts: str | Path | None = None  # schedule file of "start, prompt" rows
    prompt_times: str = "seconds"  # unit of the schedule's starts: seconds or keyframes
    negative_prompt: str = ""
    image: str | Path | None = None  # start image; otherwise the backend makes the first keyframe
    backend: str = "classical"
    keyframes: int = 5  # including the first
    frames_per_keyframe: int = 30  # N: one keyframe then N-1 in-between frames
    border: int | None = None  # px at top and bottom; None = height / 4 (zoom x2 per keyframe)
    feather: int = 0  # px of blended seam inside the pasted centre; 0 = hard paste
    size: tuple[int, int] = (512, 512)  # (width, height)
    seed: int = 0
    direction: str = "out"
    fps: float = 30.0
    out: str | Path = "zoom.mp4"
    work_dir: str | Path | None = None  # None = next to the output, OUT_STEM.work
    resume: bool = False
    overwrite: bool = False
    # the backend's own settings (ClassicalOptions, SD2Options); None = its defaults
    backend_options: BackendOptions | None = None
    # real time: sd2 through its fast path, the next keyframe made while the in-between frames
    # of the current one are computed and encoded, frames paced at ``fps`` (late ones counted)
    realtime: bool = False
    late_policy: str = "wait"  # wait: the stream stalls for a late frame; drop: it skips it
    prebuffer_frames: int | None = None  # frames ready before the clock; None = 1 + N
    # picture checks of the keyframes (pipeline/picture_checks.py) and a contact sheet of them,
    # both written beside the video (NAME_checks.json, NAME_keyframes.png)
    checks: bool = True

    @classmethod
    def from_options(cls, **options: Any) -> ZoomConfig:
        """A config from flat keywords, as on the command line: the zoom's settings and the
        chosen backend's (``steps=4`` for sd2, ``inpaint_method="ns"`` for classical)."""
        own = {f.name for f in fields(cls)}
        settings = {k: v for k, v in options.items() if k not in own}
        config = cls(**{k: v for k, v in options.items() if k in own})
        if config.backend_options is None or settings:
            config.backend_options = options_for(config.backend, settings)
        return config

    def resolved_backend_options(self) -> BackendOptions:
        return self.backend_options or backend_entry(self.backend).options()

    @property
    def width(self) -> int:
        return int(self.size[0])

    @property
    def height(self) -> int:
        return int(self.size[1])

    def resolved_work_dir(self) -> Path:
        if self.work_dir is not None:
            return Path(self.work_dir)
        out = Path(self.out)
        return out.with_name(out.stem + ".work")


@dataclass
class KeyframeTimings:
    """Seconds spent on one keyframe and on the frames between it and the one before.

    Model stages are 0 for the classical backend (it reports ``inpaint_s``) and for keyframes
    loaded from the work folder on resume (``resumed`` is True)."""

    index: int
    seed: int
    prompt: str
    resumed: bool = False
    text_encode_s: float = 0.0
    vae_encode_s: float = 0.0
    denoise_s: float = 0.0
    vae_decode_s: float = 0.0
    inpaint_s: float = 0.0  # backend time not split into the stages above
    paste_s: float = 0.0  # shrink, canvas and paste-back around the backend call
    interpolation_s: float = 0.0  # in-between frames of the segment that ends at this keyframe
    video_write_s: float = 0.0  # encoding this segment's frames
    frames: int = 0  # output frames of this segment

    @property
    def generate_s(self) -> float:
        return (
            self.text_encode_s
            + self.vae_encode_s
            + self.denoise_s
            + self.vae_decode_s
            + self.inpaint_s
            + self.paste_s
        )


@dataclass
class ZoomFrame:
    index: int  # position in the output video
    keyframe: int  # index of the keyframe whose segment this frame belongs to
    image: np.ndarray  # (H, W, 3) uint8 RGB
    is_keyframe: bool


@dataclass
class ZoomResult:
    out: Path | None
    work_dir: Path
    frames: int
    keyframes: int
    fps: float
    duration_s: float  # of the video
    wall_s: float  # to make it
    resumed_keyframes: int
    timings: list[KeyframeTimings] = field(default_factory=list)
    stream: StreamReport | None = None  # with ``realtime``: how steady the paced output was
    warmup_s: float = 0.0  # with ``realtime``: compilation and capture before the clock started
    checks: ZoomChecks | None = None  # the keyframes' picture checks (``checks`` on)
    checks_file: Path | None = None  # where they were written (JSON)
    contact_sheet: Path | None = None  # the keyframes' contact sheet (PNG)

    @property
    def frames_per_wall_s(self) -> float:
        """Output frames made per second of wall time; above ``fps`` means faster than real
        time."""
        return self.frames / self.wall_s if self.wall_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out) if self.out else None
        data["work_dir"] = str(self.work_dir)
        data["frames_per_wall_s"] = self.frames_per_wall_s
        data["stream"] = self.stream.to_dict() if self.stream else None
        data["checks"] = self.checks.to_dict() if self.checks else None
        for name in ("checks_file", "contact_sheet"):
            data[name] = str(getattr(self, name)) if getattr(self, name) else None
        return data


class Progress:
    """Callbacks a front end implements to show progress; the default shows nothing."""

    def start(self, keyframes: int, frames: int, resumed: int) -> None: ...

    def keyframe_done(self, index: int, resumed: bool) -> None: ...

    def frame_done(self, index: int) -> None: ...


@dataclass(frozen=True)
class _Plan:
    """What check_inputs derived from a config."""

    geometry: ZoomGeometry
    schedule: PromptSchedule
    total_frames: int
    out: Path | None
    work_dir: Path
    start_image: np.ndarray | None
    start_image_sha256: str | None


def check_inputs(config: ZoomConfig, need_out: bool = True) -> _Plan:
    """Check every setting before any work starts; errors name the argument, its value and
    what was expected."""
    # 1. sizes and counts, within the documented limits; 2. the other settings;
    # 3. geometry; 4. prompts; 5. start image; 6. output and work folder
    width, height = _check_size(config.size)
    total_frames = _check_counts(config)
    _check_settings(config, need_out)
    geometry = _check_geometry(config, width, height)
    schedule = _check_prompts(config)
    start_image, image_sha = None, None
    if config.image is not None:
        start_image, image_sha = _load_start_image(Path(config.image), width, height)
    out = Path(config.out) if need_out else None
    if out is not None:
        _check_output(out)
    return _Plan(
        geometry=geometry,
        schedule=schedule,
        total_frames=total_frames,
        out=out,
        work_dir=config.resolved_work_dir(),
        start_image=start_image,
        start_image_sha256=image_sha,
    )


def _check_counts(config: ZoomConfig) -> int:
    """Keyframes and frames within the limits; returns the video's frame count."""
    _check_count("keyframes", config.keyframes, 1, MAX_KEYFRAMES, "the count includes the first")
    _check_count(
        "frames_per_keyframe",
        config.frames_per_keyframe,
        1,
        MAX_FRAMES_PER_KEYFRAME,
        "N >= 1; 1 means every output frame is a keyframe",
    )
    total_frames = output_frame_count(config.keyframes, config.frames_per_keyframe)
    if total_frames > MAX_TOTAL_FRAMES:
        raise InputError(
            "keyframes",
            config.keyframes,
            f"a video of at most {MAX_TOTAL_FRAMES} frames (2 hours at 30 fps); "
            f"{config.keyframes} keyframes of {config.frames_per_keyframe} frames make "
            f"{total_frames}",
        )
    return total_frames


def _check_settings(config: ZoomConfig, need_out: bool) -> None:
    check_fps(config.fps, Path(config.out).suffix.lower() if need_out else ".mp4")
    if config.direction not in DIRECTIONS:
        raise InputError("direction", config.direction, f"one of {', '.join(DIRECTIONS)}")
    entry = backend_entry(config.backend)
    if config.backend_options is not None and not isinstance(config.backend_options, entry.options):
        raise InputError(
            "backend_options", config.backend_options, f"{entry.options.__name__} for {entry.name}"
        )
    if config.realtime:
        _stream_options(config).check()
    elif config.late_policy not in LATE_POLICIES:
        raise InputError("late_policy", config.late_policy, f"one of {', '.join(LATE_POLICIES)}")
    if not (_is_int(config.seed) and 0 <= config.seed <= MAX_SEED):
        raise InputError("seed", config.seed, f"an integer from 0 to {MAX_SEED}")
    if not _is_int(config.feather):
        raise InputError("feather", config.feather, "a whole number of pixels")


def _check_geometry(config: ZoomConfig, width: int, height: int) -> ZoomGeometry:
    """The border must leave a centre of at least 8 px, and the feather must fit inside it."""
    border = height // 4 if config.border is None else config.border
    if not _is_int(border) or border < 1:
        raise InputError("border", border, "a border of at least 1 pixel")
    geometry = ZoomGeometry.from_border(height, width, border, config.feather)
    smallest_inner = min(geometry.inner_height, geometry.inner_width)
    if smallest_inner < 8:
        widest = max(
            (
                b
                for b in range(1, height // 2)
                if min(
                    ZoomGeometry.from_border(height, width, b).inner_height,
                    ZoomGeometry.from_border(height, width, b).inner_width,
                )
                >= 8
            ),
            default=0,
        )
        raise InputError(
            "border",
            border,
            f"at most {widest} px, so that a centre of at least 8 px remains "
            f"of the {width}x{height} frame (it leaves {geometry.inner_width}x"
            f"{geometry.inner_height})",
        )
    if config.feather < 0 or 4 * config.feather >= smallest_inner:
        raise InputError(
            "feather",
            config.feather,
            f"0 to {(smallest_inner - 1) // 4} px (a quarter of the {smallest_inner} px centre)",
        )
    return geometry


def _check_prompts(config: ZoomConfig) -> PromptSchedule:
    if config.prompt_times not in TIME_UNITS:
        raise InputError("prompt_times", config.prompt_times, f"one of {', '.join(TIME_UNITS)}")
    for name in ("prompt", "negative_prompt"):
        text = getattr(config, name)
        if text is not None and (not isinstance(text, str) or len(text) > MAX_PROMPT_CHARS):
            raise InputError(name, text, f"a text of at most {MAX_PROMPT_CHARS} characters")
    if config.prompt is not None and not config.prompt.strip():
        raise InputError("prompt", config.prompt, "a non-empty prompt")
    if config.prompts is not None:
        return load_schedule(config.prompts, config.prompt_times, config.prompt)
    if config.prompt is not None:
        return PromptSchedule.single(config.prompt)
    raise InputError("prompt", None, "a prompt (--prompt TEXT) or a schedule file (--prompts FILE)")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_size(size: object) -> tuple[int, int]:
    pair = tuple(size) if isinstance(size, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(_is_int(v) for v in pair):
        raise InputError("size", size, "(width, height) in pixels, e.g. 512x512")
    width, height = pair
    for name, value in (("width", width), ("height", height)):
        if value < MIN_SIDE_PX or value > MAX_SIDE_PX or value % 8:
            raise InputError(
                "size",
                f"{width}x{height}",
                f"a {name} that is a multiple of 8 from {MIN_SIDE_PX} to {MAX_SIDE_PX} "
                f"(got {value})",
            )
    return width, height


def _check_count(argument: str, value: object, low: int, high: int, note: str) -> None:
    if not _is_int(value) or not low <= value <= high:
        raise InputError(argument, value, f"a whole number from {low} to {high} ({note})")


def _load_start_image(path: Path, width: int, height: int) -> tuple[np.ndarray, str]:
    from PIL import Image

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            "image", str(path), "a readable image file", f"{exc.strerror or exc}"
        ) from exc
    image = _decode_start_image(path, data)
    if image.size != (width, height):
        # Cover: scale to fill the frame, then crop the centre.
        log.info(
            "start image %s is %dx%d; scaled and centre-cropped to %dx%d",
            path,
            image.size[0],
            image.size[1],
            width,
            height,
        )
        scale = max(width / image.size[0], height / image.size[1])
        scaled = image.resize(
            (max(width, round(image.size[0] * scale)), max(height, round(image.size[1] * scale))),
            Image.Resampling.LANCZOS,
        )
        left = (scaled.size[0] - width) // 2
        top = (scaled.size[1] - height) // 2
        image = scaled.crop((left, top, left + width, top + height))
    return np.asarray(image, dtype=np.uint8).copy(), hashlib.sha256(data).hexdigest()


def _decode_start_image(path: Path, data: bytes):
    """The RGB picture in ``data``; its size is checked from the header before any pixel is
    decoded, so a decompression bomb (a small file of a huge picture) costs nothing."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    expected = "an image file PIL can read (PNG, JPEG, ...)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                pixels = opened.size[0] * opened.size[1]
                if pixels > MAX_START_IMAGE_PIXELS:
                    raise InputError(
                        "image",
                        str(path),
                        f"a picture of at most {MAX_START_IMAGE_PIXELS // 1_000_000} megapixels",
                        f"It is {opened.size[0]}x{opened.size[1]}",
                    )
                return opened.convert("RGB")
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            "image",
            str(path),
            f"a picture of at most {MAX_START_IMAGE_PIXELS // 1_000_000} megapixels",
            "Its header declares far more (a decompression bomb?)",
        ) from exc
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,  # PIL's PNG and TIFF plugins raise it on broken headers
    ) as exc:
        raise InputError("image", str(path), expected, shorten(str(exc), 120)) from exc


def _check_output(out: Path) -> None:
    if out.suffix.lower() not in FORMATS:
        raise InputError("out", str(out), f"a file ending in {' or '.join(FORMATS)}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(
            "out", str(out), "a path in an existing folder", f"{parent} does not exist"
        )
    if out.is_dir():
        raise InputError("out", str(out), "a file path, not a folder")
    try:  # a probe of our own: another run's files next to the output are left alone
        handle, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(
            "out", str(out), "a file that can be written", f"{exc.strerror or exc}"
        ) from exc


def _stream_options(config: ZoomConfig) -> StreamOptions:
    """Pacing of a real-time run: by default the clock starts once the first keyframe and the
    segment after it are ready (1 + N frames), so a keyframe may take up to N frame times."""
    n = config.frames_per_keyframe
    prebuffer = 1 + n if config.prebuffer_frames is None else config.prebuffer_frames
    return StreamOptions(
        fps=config.fps,
        queue_frames=max(64, prebuffer + n),
        prebuffer_frames=prebuffer,
        late_policy=config.late_policy,
    )


class ZoomRun:
    """One zoom. Construction checks every input and prepares the backend (fast: weights load
    at the first keyframe); :meth:`frames` or :meth:`run` does the work."""

    def __init__(
        self,
        config: ZoomConfig,
        backend: Inpainter | None = None,
        progress: Progress | None = None,
    ):
        self.config = config
        self.plan = check_inputs(config)
        self.backend = backend or backend_entry(config.backend).create(
            config.resolved_backend_options(), realtime=config.realtime
        )
        self.progress = progress or Progress()
        self.timings: list[KeyframeTimings] = []
        self.resumed_keyframes = 0
        self._first: np.ndarray | None = None  # keyframe 0 (a backend's exemplar), once there
        self._checker: ZoomChecker | None = None  # set by run() with ``checks``
        self._sheet: SheetBuilder | None = None
        self._ahead = False  # run() makes the next keyframe while a segment is encoded
        self._observer: BackgroundWriter | None = None  # run(): the checks in their own thread
        self.store = KeyframeStore(self.plan.work_dir, self._settings())
        self.store.check_writable()
        # One run at a time per work folder and per output file (taken when the work starts).
        work = self.plan.work_dir
        self._work_lock = RunLock(
            lock_file_for_work_dir(work), "work_dir", str(work), "a work folder"
        )
        out = self.plan.out
        self._out_lock = (
            RunLock(lock_file_for_output(out), "out", str(out), "an output file") if out else None
        )

    def _settings(self) -> dict[str, Any]:
        """What decides the keyframes' pixels (seeds and prompts are checked per keyframe)."""
        g = self.plan.geometry
        return {
            **self.backend.fingerprint(),
            "size": [g.width, g.height],
            "border": [g.border_x, g.border_y],
            "feather": g.feather_px,
            "base_seed": self.config.seed,
            "start_image_sha256": self.plan.start_image_sha256,
            "negative_prompt": self.config.negative_prompt,
        }

    # --- keyframes -------------------------------------------------------------------------

    def _prompt(self, index: int) -> str:
        c = self.config
        return self.plan.schedule.prompt_for(
            index, c.keyframes, c.frames_per_keyframe, c.fps, zoom_in=c.direction == "in"
        )

    def _make_keyframe(self, index: int, previous: np.ndarray | None) -> np.ndarray:
        """Keyframe ``index`` from the work folder if it is there, else made and saved."""
        seed, prompt = keyframe_seed(self.config.seed, index), self._prompt(index)
        timing = KeyframeTimings(index=index, seed=seed, prompt=prompt)
        self.timings.append(timing)
        if index < len(self.store.entries):
            self.store.check_entry(index, seed, prompt)
            timing.resumed = True
            image = self.store.load(index)
            self.progress.keyframe_done(index, resumed=True)
            self._first = image if index == 0 else self._first
            return image
        if index == 0:
            if self.plan.start_image is not None:
                image = self.plan.start_image
            else:
                g = self.plan.geometry
                result = self.backend.generate(
                    g.height, g.width, prompt, self.config.negative_prompt, seed
                )
                self._add_stage_times(timing, result.stage_s)
                image = result.image
            self._first = image
        else:
            g = self.plan.geometry
            started = time.perf_counter()
            canvas, mask = g.canvas(previous)
            canvas_s = time.perf_counter() - started
            negative, first = self.config.negative_prompt, self._first
            result = self.backend.outpaint(canvas, mask, prompt, negative, seed, first)
            self._add_stage_times(timing, result.stage_s)
            started = time.perf_counter()
            image = g.paste_back(result.image, previous)
            timing.paste_s = canvas_s + time.perf_counter() - started
        self.store.save(index, image, seed, prompt)
        self.progress.keyframe_done(index, resumed=False)
        return image

    @staticmethod
    def _add_stage_times(timing: KeyframeTimings, stage_s: dict[str, float]) -> None:
        for stage, seconds in stage_s.items():
            name = f"{stage}_s"
            setattr(timing, name, getattr(timing, name) + seconds)

    # --- frames ----------------------------------------------------------------------------

    def frames(self) -> Iterator[ZoomFrame]:
        """Every output frame, in order, as it is produced. Keyframes go to the work folder as
        they are made; a zoom-in makes them all first (its first frame is the last keyframe)."""
        c = self.config
        took_lock = not self._work_lock.held
        self._work_lock.acquire()
        try:
            self.timings = []
            self.resumed_keyframes = self.store.open(c.resume, c.overwrite)
            self.progress.start(c.keyframes, self.plan.total_frames, self.resumed_keyframes)
            if c.direction == "out":
                yield from self._frames_out()
            else:
                yield from self._frames_in()
        finally:
            if took_lock:
                self._work_lock.release()

    def _segment(self, current, previous, index: int, order) -> Iterator[ZoomFrame]:
        n, timing = self.config.frames_per_keyframe, self.timings[index]
        for j in order:
            started = time.perf_counter()
            image = self.plan.geometry.inbetween(current, previous, j, n)
            timing.interpolation_s += time.perf_counter() - started
            timing.frames += 1
            out_index = (
                (index - 1) * n + j
                if self.config.direction == "out"
                else ((self.config.keyframes - 1 - index) * n + (n - j))
            )
            yield ZoomFrame(out_index, index, image, is_keyframe=j == n)

    def _keyframes(self) -> Iterator[np.ndarray]:
        """Each keyframe, made and then observed (checks, contact sheet): in run(), in the
        keyframe thread, so the checks too overlap the video."""
        previous = None
        for index in range(self.config.keyframes):
            previous = self._make_keyframe(index, previous)
            self._observe(index, previous)
            yield previous

    def _frames_out(self) -> Iterator[ZoomFrame]:
        keyframes = self._keyframes()
        if self.config.realtime or self._ahead:
            # In run() (and real time), keyframe i + 1 is made in a thread (the GPU, OpenCV and
            # numpy release the GIL) while this one computes and hands out the in-between
            # frames of segment i and the encoder's threads encode them: on two cores the
            # keyframes overlap the video. frames() alone stays lazy: no keyframe ahead.
            keyframes = prefetch(keyframes, depth=1, name="zoom-keyframes")
        previous = next(keyframes)
        self.timings[0].frames = 1
        yield ZoomFrame(0, 0, previous, is_keyframe=True)
        n = self.config.frames_per_keyframe
        for index, current in enumerate(keyframes, start=1):
            yield from self._segment(current, previous, index, range(1, n + 1))
            previous = current

    def _frames_in(self) -> Iterator[ZoomFrame]:
        previous = None
        for index in range(self.config.keyframes):
            previous = self._make_keyframe(index, previous)
            self._observe(index, previous)
        del previous
        n = self.config.frames_per_keyframe
        current = self.store.load(self.config.keyframes - 1)
        for index in range(self.config.keyframes - 1, 0, -1):
            previous = self.store.load(index - 1)
            yield from self._segment(current, previous, index, range(n, 0, -1))
            current = previous
        self.timings[0].frames = 1
        yield ZoomFrame(self.plan.total_frames - 1, 0, current, is_keyframe=True)

    def _observe(self, index: int, keyframe: np.ndarray) -> None:
        """Keyframe ``index``, in order, to the picture checks and the contact sheet: in run(),
        in a thread of their own (on two cores they overlap both the next keyframe and the
        video), else here."""
        if self._observer is not None:
            self._observer.put((index, keyframe))
        elif not self._ahead:  # in run(), only through the thread (a late keyframe: dropped)
            self._observe_now((index, keyframe))

    def _observe_now(self, item: tuple[int, np.ndarray]) -> None:
        index, keyframe = item
        if self._checker is not None:
            self._checker.add(keyframe)
        if self._sheet is not None:
            self._sheet.add(index, keyframe)

    # --- the video -------------------------------------------------------------------------

    def run(self) -> ZoomResult:
        """Write the video as frames are produced; return the result with timings.

        With ``realtime``, the backend is warmed up first (compilation, capture), then frames
        are paced at ``fps`` through :func:`~zoomwatt.pipeline.realtime.stream` and encoded in
        their own thread; the result's ``stream`` says whether any frame came late."""
        with self._out_lock or nullcontext(), self._work_lock:
            for leftover in stale_partials(self.plan.out):
                log.info("removing %s, left by an interrupted run", leftover)
                leftover.unlink(missing_ok=True)
            return self._run()

    def _run(self) -> ZoomResult:
        g = self.plan.geometry
        warmup_s = self._warm_up() if self.config.realtime else 0.0
        started = time.perf_counter()
        self._ahead = True
        if self.config.checks:
            self._checker, self._sheet = ZoomChecker(g), SheetBuilder(self.config.keyframes)
            self._observer = BackgroundWriter(self._observe_now, depth=2, name="zoom-checks")
        try:
            frames_written, report = self._write_video()
        except BaseException:
            self._close_observer(raise_error=False)
            raise
        checks, checks_file, sheet = self._write_checks()
        return ZoomResult(
            out=self.plan.out,
            work_dir=self.plan.work_dir,
            frames=frames_written,
            keyframes=self.config.keyframes,
            fps=self.config.fps,
            duration_s=frames_written / self.config.fps,
            wall_s=time.perf_counter() - started,
            resumed_keyframes=self.resumed_keyframes,
            timings=self.timings,
            stream=report,
            warmup_s=warmup_s,
            checks=checks,
            checks_file=checks_file,
            contact_sheet=sheet,
        )

    def _write_video(self) -> tuple[int, StreamReport | None]:
        """Every frame into the video as it is produced: (frames written, the stream's report
        in real time)."""
        g, report = self.plan.geometry, None

        def write(frame: ZoomFrame) -> None:
            write_started = time.perf_counter()
            writer.write(frame.image)
            self.timings[frame.keyframe].video_write_s += time.perf_counter() - write_started
            self.progress.frame_done(frame.index)

        with VideoWriter(self.plan.out, self.config.fps, g.width, g.height) as writer:
            if self.config.realtime:
                background = BackgroundWriter(write, depth=self.config.frames_per_keyframe)
                try:
                    options = _stream_options(self.config)
                    report = stream(self.frames(), background.put, options)
                finally:
                    background.close()
                log.info("%s", report.summary())
            else:
                for frame in self.frames():
                    write(frame)
            # the last keyframe's checks, inside: a failed check aborts the video, as before
            self._close_observer(raise_error=True)
        return writer.frames_written, report

    def _close_observer(self, raise_error: bool) -> None:
        """Wait for the last keyframe's checks (their error raised only if ``raise_error``)."""
        observer, self._observer = self._observer, None
        if observer is None:
            return
        try:
            observer.close()
        except Exception:
            if raise_error:
                raise
            log.debug("picture checks failed after an earlier error", exc_info=True)

    def _write_checks(self) -> tuple[ZoomChecks | None, Path | None, Path | None]:
        """The picture checks and the contact sheet, written beside the video."""
        if self._checker is None or self._sheet is None or self.plan.out is None:
            return None, None, None
        checks = self._checker.result()
        out = self.plan.out
        path = checks_path(out)
        _write_json(path, {"made_by": self.backend.made_by(), **checks.to_dict()})
        return checks, path, self._sheet.write(sheet_path(out))

    def _warm_up(self) -> float:
        """Let a backend that compiles or captures do it before the clock starts."""
        g = self.plan.geometry
        prompt, negative = self._prompt(0), self.config.negative_prompt
        return float(self.backend.warmup(g.height, g.width, prompt, negative))

    def close(self) -> None:
        self.backend.close()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """``data`` as JSON at ``path`` (under a temporary name, then renamed)."""
    import json

    from zoomwatt.atomic_write import write_atomic
    from zoomwatt.errors import WriteError

    try:
        write_atomic(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise WriteError(
            f"out={shorten(str(path))}: writing the picture checks failed "
            f"({exc.strerror or exc}); free space on that disk or choose another --out"
        ) from exc


def zoom(progress: Progress | None = None, **options: Any) -> ZoomResult:
    """Render a zoom video; keyword arguments are the command line's options with underscores
    (:meth:`ZoomConfig.from_options`: the zoom's settings and the backend's)."""
    run = ZoomRun(ZoomConfig.from_options(**options), progress=progress)
    try:
        return run.run()
    finally:
        run.close()
