"""Streaming video output: frames are encoded as they arrive, never all held in memory.

MP4 (H.264, yuv420p) and GIF are written through PyAV, the maintained binding of FFmpeg's
libraries. The file is written under a temporary name of its own run
(``NAME.<pid>-<random>.partial``) and renamed to its final name only when the last frame is
encoded and the container closed, so an interrupted run never leaves a file that looks complete
and two runs never write into each other's file.

Frame rates are checked by :func:`check_fps`: finite, from :data:`MIN_FPS` to :data:`MAX_FPS`,
and held exactly by the container (an MP4 time base is a fraction; GIF stores delays in
hundredths of a second).

The H.264 settings are chosen so that the same frames give the same bytes on every run and in
any thread (``resume`` promises the same video, and users compare videos by hash): libx264's
macroblock-tree rate control (``mbtree``) gives output that depends on leftover heap contents at
small sizes (seen at 64x64: 4 different files from 8 encodes of the same frames), so it is off.
The cost is a slightly larger file at the same ``crf`` (mbtree moves bits to the parts of a
frame that later frames reuse); speed is about the same.

Speed: the encoder shares two cores with the keyframes and the in-between frames, so it is set
for the least CPU per frame. ``preset=ultrafast`` (no CABAC, no B-frames, the simplest motion
search) took 1.0 s of CPU for the 301 frames of a 512x512 zoom where ``veryfast`` took 3.5 s and
``superfast`` 2.2 s (measured on the 2-core development machine, 2026-12-01); at the same
``crf`` its files are 2 to 3 times larger (15.6 MB against 4.6 MB at crf 18), so the default
``crf`` is 20 (about 12 MB for those 10 s; the picture is the same to the eye). Frames are
converted to YUV 4:2:0 by OpenCV (0.6 ms a frame) rather than by FFmpeg's swscale through PyAV
(3 to 6 ms): the same BT.601 limited-range matrix, within 1 grey level after a round trip.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np

from zoomwatt.errors import InputError, WriteError, shorten

log = logging.getLogger(__name__)

FORMATS = {".mp4": "mp4", ".gif": "gif"}
MIN_FPS = 1.0  # below it a "video" is a slide show; use more keyframes instead
MAX_FPS = 240.0  # the fastest displays; beyond it frames are never seen
GIF_MAX_FPS = 50.0  # a GIF delay under 2/100 s is shown as 10/100 s by browsers
MP4_MAX_DENOMINATOR = 1001  # NTSC rates are n/1001
DEFAULT_CRF = 20
X264_OPTIONS = {
    "crf": str(DEFAULT_CRF),
    "preset": "ultrafast",  # see the module docstring: the least CPU per frame
    "threads": "2",  # fixed: the output is then the same on every machine
    "x264-params": "mbtree=0",  # see the module docstring: byte-identical output
}


def check_fps(fps: object, suffix: str = ".mp4") -> Fraction:
    """The frame rate as the container stores it, or an InputError saying what would work."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps):
        raise InputError("fps", fps, f"a finite frame rate from {MIN_FPS:g} to {MAX_FPS:g}")
    if not MIN_FPS <= fps <= MAX_FPS:
        raise InputError("fps", fps, f"a frame rate from {MIN_FPS:g} to {MAX_FPS:g}")
    if suffix == ".gif":
        if fps > GIF_MAX_FPS:
            raise InputError(
                "fps", fps, f"at most {GIF_MAX_FPS:g} for a GIF (browsers slow faster GIFs down)"
            )
        rate = Fraction(fps).limit_denominator(100)
        if abs(100 / rate - round(100 / rate)) > 1e-9:
            near = sorted({100 / k for k in (2, 3, 4, 5, 10)}, key=lambda r: abs(r - fps))[:2]
            raise InputError(
                "fps",
                fps,
                "100/k frames per second for a GIF, whose frame delays are whole hundredths of "
                f"a second (e.g. {near[0]:.4g} or {near[1]:.4g}); or write an .mp4",
            )
        return Fraction(100, round(100 / rate))
    rate = Fraction(fps).limit_denominator(MP4_MAX_DENOMINATOR)
    if abs(float(rate) - fps) > 1e-6 * fps:
        raise InputError(
            "fps",
            fps,
            f"a rate an MP4 time base holds: n/d with d <= {MP4_MAX_DENOMINATOR} "
            "(e.g. 30, 24, 30000/1001 = 29.97003)",
        )
    return rate


def partial_path(path: Path) -> Path:
    """A temporary name next to ``path`` that no other run uses."""
    return path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")


def stale_partials(path: Path) -> list[Path]:
    """Temporary files earlier runs left next to ``path`` (call only while holding its lock)."""
    return sorted(path.parent.glob(f"{path.name}.*.partial"))


class VideoWriter:
    """Writes (H, W, 3) uint8 RGB frames to ``path`` (.mp4 or .gif) at ``fps``.

    Use as a context manager: a clean exit finalises the file, an exception removes it."""

    def __init__(
        self, path: str | Path, fps: float, width: int, height: int, crf: int = DEFAULT_CRF
    ):
        import av

        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FORMATS:
            raise InputError("out", str(path), f"a file ending in {' or '.join(FORMATS)}")
        self.width, self.height = width, height
        self.frames_written = 0
        self._tmp = partial_path(self.path)
        rate = check_fps(fps, suffix)
        with _translated_write_errors(self.path):
            self._container = av.open(str(self._tmp), mode="w", format=FORMATS[suffix])
        if suffix == ".mp4":
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {**X264_OPTIONS, "crf": str(crf)}
        else:
            self._stream = self._container.add_stream("gif", rate=rate)
            self._stream.pix_fmt = "pal8"
        self._stream.width, self._stream.height = width, height

    def write(self, frame: np.ndarray) -> None:
        import av

        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise InputError(
                "frame",
                f"{frame.dtype} array of shape {frame.shape}",
                f"uint8 of shape ({self.height}, {self.width}, 3), the video's size",
            )
        if self._stream.pix_fmt == "pal8":
            video_frame = av.VideoFrame.from_ndarray(_palettise(frame), format="pal8")
        else:
            import cv2

            planes = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)  # see the module docstring
            video_frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        with _translated_write_errors(self.path):
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder, close the file and give it its final name."""
        with _translated_write_errors(self.path):
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            os.replace(self._tmp, self.path)
        log.info("wrote %d frames to %s", self.frames_written, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the unfinished file."""
        try:
            self._container.close()
        except Exception:  # closing a broken container may fail; the file goes anyway
            log.debug("closing an aborted video failed", exc_info=True)
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@contextmanager
def _translated_write_errors(path: Path) -> Iterator[None]:
    """FFmpeg's and the OS's write errors (a full disk, a vanished folder) as one clean
    :class:`WriteError` naming the output and the fix."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise WriteError(
            f"out={shorten(str(path))}: writing the video failed ({reason}); free space on "
            "that disk or choose another --out"
        ) from exc


def _palettise(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 256-colour palette of this frame (fast octree, no dithering, so it is deterministic and
    flicker stays low) as the (indices, ARGB palette) pair PyAV takes for pal8."""
    from PIL import Image

    quantised = Image.fromarray(frame).quantize(
        colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    rgb = np.zeros((256, 3), dtype=np.uint8)
    used = np.frombuffer(bytes(quantised.getpalette() or []), dtype=np.uint8).reshape(-1, 3)[:256]
    rgb[: len(used)] = used
    argb = np.concatenate([np.full((256, 1), 255, dtype=np.uint8), rgb], axis=1)
    return np.asarray(quantised, dtype=np.uint8), argb


def read_video_frames(path: str | Path) -> list[np.ndarray]:
    """All frames of a video as RGB arrays (for tests and small checks, not for long videos)."""
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
