"""Classical inpainting: no weights, fast on a CPU.

The default method, ``patch``, synthesizes the border by a multi-scale patch-based completion
(:mod:`zoomwatt.pipeline.backends.outpaint`) from the zoom's first keyframe: the border
continues the picture at the seam and is made of the start picture's material, with its detail,
colours and contrast, keyframe after keyframe; the per-keyframe seed gives a different border.
``patch-fast`` is the same completion searched only down to a quarter of the frame's side (the
field of matches enlarged from there): about half the time, coarser joins between patches.

``telea`` and ``ns`` are OpenCV's Telea (fast marching) and Navier-Stokes inpainting, which
propagate the centre's colours into the border; a wide border comes out smooth, so a seeded
multi-octave noise texture (amplitude ``texture`` grey levels) is added to the filled pixels.
Their zooms smear into rays and wash out over keyframes (issue 16); they are kept as the
fastest options and for the pictures they always made.

The prompt cannot steer this backend; it only colours the first keyframe when no start image
is given (a seeded procedural image whose palette comes from a hash of the prompt).
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict
from typing import Any

import cv2
import numpy as np

from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends.base import Inpainter, InpaintOutput
from zoomwatt.pipeline.backends.outpaint import PatchSettings, outpaint
from zoomwatt.workload.stages import INPAINT_TIMING as INPAINT

OPENCV_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
PATCH_METHODS = {
    "patch": PatchSettings(),
    "patch-fast": PatchSettings(iterations=(4, 3, 2), unsearched_levels=2),
}
METHODS = (*PATCH_METHODS, *OPENCV_METHODS)
DEFAULT_METHOD = "patch"
SEAM_BAND_PX = 8  # the OpenCV methods' full-size band at the seam (see opencv_fill)
TWO_SCALE_MIN_HOLE_SHARE = 0.25  # smaller holes are filled at full size in one go
# Bumped when the patch method's pictures change for the same settings, so that a resume
# does not mix keyframes of two versions.
PATCH_VERSION = 3  # 3: patches from the surround (2: the whole ring; 1: image quilting)


class ClassicalInpainter(Inpainter):
    """``method``: patch (default), patch-fast, telea or ns; ``radius`` and ``texture`` are
    the OpenCV methods' (the patch methods make their own detail)."""

    name = "classical"

    def __init__(self, method: str = DEFAULT_METHOD, radius: int = 3, texture: float = 12.0):
        if method not in METHODS:
            raise InputError("method", method, f"one of {', '.join(METHODS)}")
        if not 1 <= radius <= 64:
            raise InputError("radius", radius, "an inpainting radius from 1 to 64 pixels")
        if not 0 <= texture <= 128:
            raise InputError("texture", texture, "a texture amplitude from 0 to 128 grey levels")
        self.method = method
        self.radius = int(radius)
        self.texture = float(texture)

    def fingerprint(self) -> dict[str, Any]:
        settings = {
            "backend": self.name,
            "method": self.method,
            "radius": self.radius,
            "texture": self.texture,
        }
        if self.method in PATCH_METHODS:
            fields = asdict(PATCH_METHODS[self.method])  # tuples as lists, as the manifest has them
            fields = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
            settings["patch"] = {"version": PATCH_VERSION, **fields}
        return settings

    def made_by(self) -> str:
        how = (
            "patch-based completion from the first keyframe's surround"
            if self.method in PATCH_METHODS
            else "OpenCV inpainting"
        )
        return f"the classical backend ({self.method}: {how}), no model weights"

    def outpaint(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        prompt: str,
        negative_prompt: str,
        seed: int,
        exemplar: np.ndarray | None = None,
    ) -> InpaintOutput:
        """:meth:`inpaint` told the zoom's first keyframe, which the patch methods take their
        material from (the OpenCV methods ignore it)."""
        return self.inpaint(image, mask, prompt, negative_prompt, seed, exemplar=exemplar)

    def inpaint(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        prompt: str,
        negative_prompt: str,
        seed: int,
        exemplar: np.ndarray | None = None,
    ) -> InpaintOutput:
        """``exemplar``: the patch methods' material (None: the known part, magnified)."""
        start = time.perf_counter()
        if self.method in PATCH_METHODS:
            filled = outpaint(image, mask, seed, PATCH_METHODS[self.method], exemplar)
            return InpaintOutput(filled, {INPAINT: time.perf_counter() - start})
        filled = opencv_fill(image, mask, self.radius, OPENCV_METHODS[self.method])
        if self.texture > 0:
            noise = _octave_noise(image.shape[0], image.shape[1], seed) * self.texture
            hole = (mask > 0)[..., None]
            textured = filled.astype(np.float32) + noise * hole
            filled = np.clip(np.rint(textured), 0, 255).astype(np.uint8)
        return InpaintOutput(filled, {INPAINT: time.perf_counter() - start})

    def generate(
        self, height: int, width: int, prompt: str, negative_prompt: str, seed: int
    ) -> InpaintOutput:
        start = time.perf_counter()
        rng = np.random.default_rng(seed)
        field = _octave_noise(height, width, seed, octaves=5, base_cells=3)[..., 0]
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
        # Palette: two colours from the prompt's hash, one from the seed.
        hue = zlib.crc32(prompt.encode("utf-8")) % 180
        colours = np.array(
            [[hue, 160, 90], [(hue + 30) % 180, 120, 220], [int(rng.integers(0, 180)), 200, 160]],
            dtype=np.uint8,
        )
        rgb_colours = cv2.cvtColor(colours[None], cv2.COLOR_HSV2RGB)[0].astype(np.float32)
        t = field[..., None]
        low = rgb_colours[0] * (1 - t) + rgb_colours[1] * t
        image = low * (1 - t**4) + rgb_colours[2] * t**4
        out = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        return InpaintOutput(out, {INPAINT: time.perf_counter() - start})


def opencv_fill(image: np.ndarray, mask: np.ndarray, radius: int, flag: int) -> np.ndarray:
    """OpenCV's inpainting of ``mask`` (non-zero: to fill), in two scales when the hole is
    wide: the hole is filled at half size (a quarter of the pixels; the fill of a wide hole is
    smooth, so little is lost) and enlarged, then the band of the hole within SEAM_BAND_PX of
    the known pixels is filled again at full size, from the known pixels on one side and the
    enlarged fill on the other, so the seam keeps the full-size start of the fill. Known
    pixels are never changed. Telea's cost grows with the hole's area: on a 512x512 keyframe
    with a 128 px border the two scales took a third of the one-scale time (77 against 231 ms;
    Navier-Stokes 88 against 246 ms; 2-core Xeon, 2026-12-01); the fill differs from the
    one-scale fill by 3.5-5.4 grey levels mean absolute difference over the hole's values (up
    to 30-40 at single pixels): the same smooth fill, not the same pixels."""
    hole = mask > 0
    h, w = mask.shape
    narrow = np.count_nonzero(hole) < TWO_SCALE_MIN_HOLE_SHARE * hole.size
    if narrow or min(h, w) < 4 * SEAM_BAND_PX:
        return cv2.inpaint(image, mask, radius, flag)
    half_size = (w // 2, h // 2)
    small = cv2.resize(image, half_size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), half_size, interpolation=cv2.INTER_AREA) > 0
    small_fill = cv2.inpaint(small, small_hole.astype(np.uint8), radius, flag)
    coarse = cv2.resize(small_fill, (w, h), interpolation=cv2.INTER_LINEAR)
    guide = np.where(hole[..., None], coarse, image)
    known_distance = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    band = (hole & (known_distance <= SEAM_BAND_PX)).astype(np.uint8)
    return cv2.inpaint(guide, band, radius, flag)


def _octave_noise(
    height: int, width: int, seed: int, octaves: int = 4, base_cells: int = 8
) -> np.ndarray:
    """Seeded smooth noise in about [-1, 1], shape (H, W, 3): octaves of random grids upsampled
    bicubically, each with twice the cells and half the amplitude of the one before."""
    rng = np.random.default_rng(seed)
    total = np.zeros((height, width, 3), dtype=np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = base_cells * 2**octave
        grid = rng.uniform(-1.0, 1.0, size=(cells, cells, 3)).astype(np.float32)
        total += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        norm += amplitude
        amplitude *= 0.5
    return total / norm
