"""Streaming video output: frames are encoded as they arrive, never all held in memory.

MP4 (H.264, yuv420p) and GIF are written through PyAV, the maintained binding of FFmpeg's
libraries. The file is written under a temporary name (``NAME.partial``) and renamed to its
final name only when the last frame is encoded and the container closed, so an interrupted run
never leaves a file that looks complete.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from zoomwatt.errors import InputError

log = logging.getLogger(__name__)

FORMATS = {".mp4": "mp4", ".gif": "gif"}


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


class VideoWriter:
    """Writes (H, W, 3) uint8 RGB frames to ``path`` (.mp4 or .gif) at ``fps``.

    Use as a context manager: a clean exit finalises the file, an exception removes it."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int, crf: int = 18):
        import av

        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FORMATS:
            raise InputError("out", str(path), f"a file ending in {' or '.join(FORMATS)}")
        self.width, self.height = width, height
        self.frames_written = 0
        self._tmp = partial_path(self.path)
        rate = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(self._tmp), mode="w", format=FORMATS[suffix])
        if suffix == ".mp4":
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            # Fixed thread count: x264's output is then the same on every machine.
            self._stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "2"}
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
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder, close the file and give it its final name."""
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
