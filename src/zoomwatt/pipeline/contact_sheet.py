"""A contact sheet of a zoom's keyframes: one PNG next to the video, to see the zoom at a glance.

:class:`SheetBuilder` keeps a thumbnail of every keyframe as the zoom makes it (at most
MAX_SHEET_KEYFRAMES, evenly spread over a long zoom), and :meth:`SheetBuilder.write` lays them
out in rows, in keyframe order, each labelled with its index. The file is named after the video:
``zoom.mp4`` gets ``zoom_keyframes.png`` (:func:`sheet_path`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from zoomwatt.atomic_write import write_atomic
from zoomwatt.errors import InputError, WriteError, shorten

THUMB_PX = 192  # longer side of a keyframe on the sheet
COLUMNS = 4
GAP_PX = 4
MAX_SHEET_KEYFRAMES = 24  # a longer zoom shows every k-th keyframe (and its last)
BACKGROUND = 255


def sheet_path(video: str | Path) -> Path:
    """Where the contact sheet of the zoom in ``video`` goes: NAME_keyframes.png beside it."""
    video = Path(video)
    return video.with_name(f"{video.stem}_keyframes.png")


class SheetBuilder:
    """Collects keyframe thumbnails; ``keyframes`` is how many the zoom will have."""

    def __init__(self, keyframes: int, thumb_px: int = THUMB_PX):
        if not isinstance(keyframes, int) or keyframes < 1:
            raise InputError("keyframes", keyframes, "a whole number of keyframes, 1 or more")
        self.keyframes = keyframes
        self.thumb_px = thumb_px
        step = max(1, -(-keyframes // MAX_SHEET_KEYFRAMES))
        self.shown = set(range(0, keyframes, step)) | {keyframes - 1}
        self.thumbs: dict[int, np.ndarray] = {}

    def add(self, index: int, image: np.ndarray) -> None:
        """Keep keyframe ``index`` ((H, W, 3) uint8 RGB) if the sheet shows it."""
        if index not in self.shown:
            return
        h, w = image.shape[:2]
        scale = min(1.0, self.thumb_px / max(h, w))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        self.thumbs[index] = cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def sheet(self) -> np.ndarray:
        """The sheet, (H, W, 3) uint8 RGB: thumbnails in keyframe order, COLUMNS a row, each
        with its keyframe index in the corner."""
        if not self.thumbs:
            raise InputError("keyframes", 0, "at least one keyframe on the sheet")
        order = sorted(self.thumbs)
        th = max(t.shape[0] for t in self.thumbs.values())
        tw = max(t.shape[1] for t in self.thumbs.values())
        columns = min(COLUMNS, len(order))
        rows = -(-len(order) // columns)
        sheet = np.full(
            (rows * (th + GAP_PX) + GAP_PX, columns * (tw + GAP_PX) + GAP_PX, 3),
            BACKGROUND,
            np.uint8,
        )
        for slot, index in enumerate(order):
            row, col = divmod(slot, columns)
            y, x = GAP_PX + row * (th + GAP_PX), GAP_PX + col * (tw + GAP_PX)
            thumb = self.thumbs[index]
            sheet[y : y + thumb.shape[0], x : x + thumb.shape[1]] = thumb
            _label(sheet, str(index), x + 4, y + 4)
        return sheet

    def write(self, path: str | Path) -> Path:
        """Write the sheet as a PNG (under a temporary name, then renamed)."""
        path = Path(path)
        ok, data = cv2.imencode(".png", cv2.cvtColor(self.sheet(), cv2.COLOR_RGB2BGR))
        if not ok:
            raise WriteError(f"out={shorten(str(path))}: the contact sheet could not be encoded")
        try:
            write_atomic(path, data.tobytes())
        except OSError as exc:
            raise WriteError(
                f"out={shorten(str(path))}: writing the contact sheet failed "
                f"({exc.strerror or exc}); free space on that disk or choose another --out"
            ) from exc
        return path


def _label(sheet: np.ndarray, text: str, x: int, y: int) -> None:
    """The keyframe index, white on a black box, at (x, y)."""
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    cv2.rectangle(sheet, (x, y), (x + w + 6, y + h + base + 4), (0, 0, 0), -1)
    cv2.putText(sheet, text, (x + 3, y + h + 2), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
