"""Zoom geometry: shrink-and-paste for keyframes, and the in-between frames of sparse sampling.

Conventions (see ``shared/reference/USE_CASE.md``):

- Images are ``uint8`` arrays of shape ``(H, W, 3)``, RGB.
- A keyframe ``K[i]`` holds the previous keyframe ``K[i-1]`` shrunk into its centre. The empty
  border is ``border_y`` pixels tall at top and bottom and ``border_x`` wide at left and right
  (``border_x = round(border_y * W / H)`` keeps the aspect ratio), so the per-axis shrink ratio is
  ``r = (H - 2*border_y) / H`` (and likewise along x) and the zoom factor per keyframe is
  ``s = 1 / r``.
- Between ``K[i-1]`` and ``K[i]`` there are ``N - 1`` in-between frames. Frame ``j`` (1..N-1)
  shows the centre crop of ``K[i]`` whose side is the fraction ``r ** (1 - j/N)`` of the full side,
  scaled to ``H x W``, with the sharp ``K[i-1]`` pasted over its centre at the matching scale
  ``r ** (j/N)``. The scale changes geometrically, so the zoom speed is constant.

Sampling uses pixel centres: output pixel ``x`` reads source coordinate
``c + (x - c) * a`` where ``c = (W - 1) / 2`` and ``a`` is the source pixels per output pixel.
With bilinear interpolation a linear ramp is reproduced exactly, which the tests rely on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ZoomGeometry:
    """The fixed geometry of one zoom: frame size and border, from which everything follows."""

    height: int
    width: int
    border_y: int  # rows of new content at top and at bottom of each keyframe
    border_x: int  # columns of new content at left and at right
    feather_px: int = 0  # width of the blended seam inside the pasted centre, in keyframe pixels

    @classmethod
    def from_border(
        cls, height: int, width: int, border_px: int, feather_px: int = 0
    ) -> ZoomGeometry:
        border_x = round(border_px * width / height)
        return cls(height, width, border_px, border_x, feather_px)

    @property
    def inner_height(self) -> int:
        return self.height - 2 * self.border_y

    @property
    def inner_width(self) -> int:
        return self.width - 2 * self.border_x

    @property
    def ratio_y(self) -> float:
        """r along y: the side of the previous keyframe as a fraction of the new one."""
        return self.inner_height / self.height

    @property
    def ratio_x(self) -> float:
        return self.inner_width / self.width

    @property
    def zoom_per_keyframe(self) -> float:
        """s = H / (H - 2m): the zoom factor from one keyframe to the next."""
        return self.height / self.inner_height

    # --- keyframes -------------------------------------------------------------------------

    def shrink(self, previous: np.ndarray) -> np.ndarray:
        """The previous keyframe shrunk to the inner size (area filter: no aliasing)."""
        return cv2.resize(
            previous, (self.inner_width, self.inner_height), interpolation=cv2.INTER_AREA
        )

    def inpaint_mask(self) -> np.ndarray:
        """``uint8`` mask, 255 where the inpainter must fill: the border, plus the feather band
        inside the pasted centre (so the model redraws the seam that is then blended)."""
        mask = np.full((self.height, self.width), 255, dtype=np.uint8)
        f = self.feather_px
        mask[self.border_y + f : self.height - self.border_y - f,
             self.border_x + f : self.width - self.border_x - f] = 0  # fmt: skip
        return mask

    def canvas(self, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step 1 of a keyframe: the shrunken previous keyframe centred on a blank canvas, and
        the mask of what to fill. The blank border is mid-grey, a neutral start for inpainters."""
        canvas = np.full((self.height, self.width, 3), 127, dtype=np.uint8)
        canvas[self._inner_slices()] = self.shrink(previous)
        return canvas, self.inpaint_mask()

    def paste_back(self, inpainted: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """Step 3 of a keyframe: put the exact pixels of the shrunken previous keyframe back in
        the centre. With a feather, the outer ``feather_px`` of the centre blend linearly from
        the inpainted pixels (at the edge) to the exact ones (inside)."""
        out = inpainted.copy()
        inner = self.shrink(previous)
        sl = self._inner_slices()
        if self.feather_px <= 0:
            out[sl] = inner
            return out
        alpha = _edge_ramp(self.inner_height, self.inner_width, self.feather_px, self.feather_px)
        blended = alpha[..., None] * inner + (1.0 - alpha[..., None]) * inpainted[sl]
        out[sl] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        return out

    def _inner_slices(self) -> tuple[slice, slice]:
        return (
            slice(self.border_y, self.height - self.border_y),
            slice(self.border_x, self.width - self.border_x),
        )

    # --- in-between frames -----------------------------------------------------------------

    def visible_fraction(self, j: int, n: int) -> tuple[float, float]:
        """(fy, fx): side of the crop of K[i] shown by frame j of n, as a fraction of the full
        side: ``r ** (1 - j/n)``. j = 0 shows K[i-1] (fraction r), j = n shows all of K[i]."""
        t = 1.0 - j / n
        return self.ratio_y**t, self.ratio_x**t

    def inbetween(self, current: np.ndarray, previous: np.ndarray, j: int, n: int) -> np.ndarray:
        """Frame j (0..n) between ``previous`` = K[i-1] and ``current`` = K[i]."""
        if j <= 0:
            return previous.copy()
        if j >= n:
            return current.copy()
        fy, fx = self.visible_fraction(j, n)
        # 1. The crop of K[i], magnified to the full frame: f source pixels per output pixel.
        frame = _scale_about_centre(current, fy, fx, (0, 0, self.height, self.width))
        # 2. K[i-1] over its centre: it covers the fraction r/f = r**(j/n) of the frame, so the
        #    source step is f / r > 1 (a shrink). Only its footprint is resampled.
        ay, ax = fy / self.ratio_y, fx / self.ratio_x
        wy, wx = self._paste_weights(ay, ax)
        rows, cols = np.flatnonzero(wy), np.flatnonzero(wx)
        if rows.size == 0 or cols.size == 0:
            return frame
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        pasted = _scale_about_centre(previous, ay, ax, (y0, x0, y1, x1))
        # Inside the footprint, copy where both weights are 1 and blend only the seam strips.
        py, px = wy[y0:y1], wx[x0:x1]
        target = frame[y0:y1, x0:x1]
        full_rows, full_cols = np.flatnonzero(py == 1.0), np.flatnonzero(px == 1.0)
        if full_rows.size and full_cols.size:
            r0, r1, c0, c1 = full_rows[0], full_rows[-1] + 1, full_cols[0], full_cols[-1] + 1
            target[r0:r1, c0:c1] = pasted[r0:r1, c0:c1]
            strips = [
                (slice(0, r0), slice(None)),
                (slice(r1, None), slice(None)),
                (slice(r0, r1), slice(0, c0)),
                (slice(r0, r1), slice(c1, None)),
            ]
        else:
            strips = [(slice(None), slice(None))]
        for rs, cs in strips:
            alpha = np.minimum.outer(py[rs], px[cs])[..., None]
            if alpha.size == 0:
                continue
            under = target[rs, cs].astype(np.float32)
            blended = under + alpha * (pasted[rs, cs].astype(np.float32) - under)
            target[rs, cs] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        return frame

    def _paste_weights(self, ay: float, ax: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-row and per-column weights of the sharp K[i-1] pasted into a frame; the weight
        of a pixel is the smaller of its row's and its column's.

        Without a feather: 1 where the sampled pixel lies wholly inside K[i-1], else 0. With a
        feather, K[i]'s own seam band (a blend made at the keyframe) is left as it is, and the
        sharp K[i-1] fades in over a second band of the same width inside it, where K[i] holds
        exactly the shrunken K[i-1]: the two agree in content there, so no seam appears and
        none of the keyframe's blend is blended twice. Widths are in K[i-1] pixels, so the seam
        looks the same at every scale as in the keyframe itself.
        """
        h, w = self.height, self.width
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        # Distance (in K[i-1] pixels) from each sampled point to the nearest edge of K[i-1].
        v = cy + (np.arange(h) - cy) * ay
        u = cx + (np.arange(w) - cx) * ax
        dy = np.minimum(v + 0.5, h - 0.5 - v)
        dx = np.minimum(u + 0.5, w - 0.5 - u)
        if self.feather_px > 0:
            # feather_px keyframe pixels = feather_px / r pixels of K[i-1].
            band_y = self.feather_px / self.ratio_y
            band_x = self.feather_px / self.ratio_x
            wy = np.clip((dy - band_y) / band_y, 0.0, 1.0)
            wx = np.clip((dx - band_x) / band_x, 0.0, 1.0)
            return wy, wx
        # The sample's whole pixel lies inside K[i-1].
        return (dy >= 0.5).astype(np.float64), (dx >= 0.5).astype(np.float64)


def _scale_about_centre(
    image: np.ndarray, step_y: float, step_x: float, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Resample ``image`` so output pixel x reads source ``c + (x - c) * step`` (bilinear), for
    the output pixels in ``box`` = (y0, x0, y1, x1) only."""
    h, w = image.shape[:2]
    y0, x0, y1, x1 = box
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    # Output pixel (x0 + x') reads cx + (x0 + x' - cx) * step.
    matrix = np.array(
        [
            [step_x, 0.0, cx + (x0 - cx) * step_x],
            [0.0, step_y, cy + (y0 - cy) * step_y],
        ],
        dtype=np.float64,
    )
    return cv2.warpAffine(
        image,
        matrix,
        (int(x1 - x0), int(y1 - y0)),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _edge_ramp(h: int, w: int, ramp_y: int, ramp_x: int) -> np.ndarray:
    """Weights rising linearly from the edge: ``(d + 0.5) / ramp`` clipped to 1, where d is
    the pixel's distance in whole pixels to the nearest edge (0 for the edge row)."""
    dy = np.minimum(np.arange(h), np.arange(h)[::-1]) + 0.5
    dx = np.minimum(np.arange(w), np.arange(w)[::-1]) + 0.5
    wy = np.clip(dy / ramp_y, 0.0, 1.0)
    wx = np.clip(dx / ramp_x, 0.0, 1.0)
    return np.minimum.outer(wy, wx).astype(np.float32)


def output_frame_count(keyframes: int, frames_per_keyframe: int) -> int:
    """1 + N x (K - 1): the first keyframe, then N frames per further keyframe."""
    return 1 + frames_per_keyframe * (keyframes - 1)
