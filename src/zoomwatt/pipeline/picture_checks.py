"""No-reference checks of a zoom's pictures, keyframe by keyframe.

A keyframe is its border (new content) around its centre (the previous keyframe, shrunk: the
picture the border must continue). :func:`check_zoom` compares, for every keyframe after the
first, the border with the centre, and every keyframe with the first:

- ``detail``: band-pass (difference of Gaussians) energy of the lightness, border over centre.
  A smooth fill with noise on top has little energy at mid frequencies.
- ``coherence``: structure-tensor coherence (how one-directional the gradients are), border
  minus centre. Smeared streaks are coherent.
- ``rays``: how much of the border's gradient energy runs across rays from the frame's centre
  (+1: all of it, as in rays; 0: none preferred; -1: rings).
- ``copies``: the share of textured border blocks (48 px at 512) that are near-exact copies of
  a block of the centre or of the previous keyframe (a collage, a wall of repeated faces).
- ``colour``: distance of the border's Lab means and standard deviations from the centre's.
- ``seam``: the lightness jump across the edge of the pasted centre over the typical jump
  between neighbouring rows and columns near it.
- ``drift``: mean lightness (change) and its standard deviation (ratio) of every keyframe
  against the first: a zoom that washes out to white drifts.

Each result carries its threshold and a one-line reason for it (the constants below): they
were calibrated so that real photos (their own outer band against their centre) pass, the
classical Telea zoom fails, rays from the centre fail and the patch outpainter passes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from zoomwatt.errors import InputError
from zoomwatt.pipeline.geometry import ZoomGeometry

log = logging.getLogger(__name__)

# Band-pass of the detail check: difference of Gaussians of sigma 1 and 4 px (features of
# about 3 to 12 px, the mid frequencies of a 512 px frame), scaled up for larger frames.
DETAIL_SIGMAS_PX = (1.0, 4.0)
STRUCTURE_SIGMA_PX = 4.0  # window of the structure tensor
COPY_BLOCK_PX_AT_512 = 48
MIN_COPY_BLOCK_PX = 24
COPY_MIN_DETAIL_L = 1.0  # blocks with less band-pass RMS (L units) are not judged: flat
COPY_MIN_CORRELATION = 0.95  # near-exact: band-passed blocks correlate at 0.95 or more
COPY_CANDIDATES = 4  # places found at half size that are re-scored at full size
# a copy at full size (0.95) still correlates highly at half size (a 1 px shift at
# full size is half a pixel there; 0.80 the lowest measured): places below 0.7 are not re-scored
COPY_SCREEN_CORRELATION = 0.7

# Thresholds, calibrated at 128, 192 and 512 px on: 8 real pictures, each its own outer band
# against its centre (coffee, rocket, astronaut, chelsea, gravel, brick, grass, the classical
# backend's generated picture); the Telea zoom of 8 keyframes from coffee, gravel, astronaut
# and the generated picture; rays from the centre; the patch zoom from the same four. The
# figures in the reasons are those measurements (tests/pipeline/test_picture_checks.py).
MIN_DETAIL_RATIO = 0.25
# Below 3 L RMS (9 L^2) the band is faint texture on a smooth picture: a centre with less has
# no detail for the border to keep, so that a smooth border of a smooth picture is not judged
# a wash (the generated start picture's centres have 0.5-6 L^2, photos' 37-83, 128-512 px).
DETAIL_FLOOR_L2 = 9.0
WHY_DETAIL = (
    "the border keeps at least a quarter of the centre's mid-frequency energy (a centre with "
    "under 9 L^2 has none to keep): photos' own bands keep 0.32 and more (coffee's plain "
    "table around its cup), Telea's fill 0.01-0.20"
)
MAX_COHERENCE_EXCESS = 0.2
WHY_COHERENCE = (
    "border gradients at most 0.2 more one-directional than the centre's: photos' bands "
    "differ by at most 0.12, Telea's smears by 0.2-0.6 in their first keyframes"
)
MAX_RAY_INDEX = 0.35
WHY_RAYS = (
    "at most 0.35 of the border's gradient energy across rays from the centre: photos lie "
    "within -0.8..+0.30 (rings of a saucer count negative), Telea's zooms reach 0.5-0.95"
)
MAX_COPIED_FRACTION = 0.1
WHY_COPIES = (
    "at most 10% of textured border blocks correlate at 0.95 with a block of the centre or "
    "of the previous keyframe (band-passed): photos have 0-6% (brick walls repeat), a "
    "tiled collage all of them"
)
MAX_LAB_DISTANCE = 15.0
WHY_COLOUR = (
    "border Lab means and spreads within 15 Lab units of the centre's: a photo's own band "
    "and centre differ by up to 9.7 (a table around a cup), the real surroundings beyond "
    "five photos' square crops by 3.0-13.7 (coffee's table the most)"
)
MAX_SEAM_RATIO = 1.8
WHY_SEAM = (
    "the jump across the pasted centre's edge at most 1.8 times the jump between rows next "
    "to it: a photo's own rows give 0.5-1.4, a hard paste of unrelated content 2-4"
)
MAX_MEAN_L_CHANGE = 5.0
MIN_STD_L_RATIO, MAX_STD_L_RATIO = 0.45, 1.5
WHY_DRIFT = (
    "mean lightness within 5 L of the first keyframe's and its spread within 0.45..1.5 "
    "times it: Telea's zooms wash out (+7 to +48 L in 8 keyframes); a zoom out of a subject "
    "ends on its surround, whose spread can be half the picture's (coffee's table beyond the "
    "photo's square crop: 0.56), a flat wash keeps less"
)


# --- measurements ------------------------------------------------------------------------


def lab(image: np.ndarray) -> np.ndarray:
    """CIE L*a*b* of an (H, W, 3) uint8 RGB picture, float32 (L* 0..100)."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def lightness(image: np.ndarray) -> np.ndarray:
    """CIE L* (0..100) of an (H, W, 3) uint8 RGB picture, float32."""
    return lab(image)[..., 0]


@lru_cache(maxsize=32)
def regions(geometry: ZoomGeometry, margin_px: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(border, centre) boolean masks of a keyframe, each ``margin_px`` away from the seam
    (and the border that far from the frame's edge), so that filters do not mix the two; the
    margin is at most a third of the border, so that a small frame keeps a border. Made once
    per geometry and margin; read-only."""
    g = geometry
    m = min(margin_px, max(0, min(g.border_y, g.border_x) // 3))  # small frames keep pixels
    inner = np.zeros((g.height, g.width), dtype=bool)
    inner[g.border_y : g.height - g.border_y, g.border_x : g.width - g.border_x] = True
    kernel = np.ones((2 * m + 1, 2 * m + 1), np.uint8) if m > 0 else None
    centre = cv2.erode(inner.astype(np.uint8), kernel) > 0 if m > 0 else inner
    outside = cv2.erode((~inner).astype(np.uint8), kernel) > 0 if m > 0 else ~inner
    frame = np.zeros_like(inner)
    frame[m : g.height - m, m : g.width - m] = True
    border = outside & frame
    border.setflags(write=False)
    centre.setflags(write=False)
    return border, centre


def _scale(geometry: ZoomGeometry) -> float:
    """Filter sizes are in pixels of a 512 px frame, never below that (small frames keep
    1 px detail)."""
    return max(1.0, min(geometry.height, geometry.width) / 512.0)


def band_energy(
    light: np.ndarray, geometry: ZoomGeometry, band: np.ndarray | None = None
) -> tuple[float, float]:
    """Mean squared difference-of-Gaussians response (L units^2) in the border and in the
    centre (``band``: :func:`band_pass` of ``light``, if already made)."""
    s2 = DETAIL_SIGMAS_PX[1] * _scale(geometry)
    band = band_pass(light, geometry) if band is None else band
    border, centre = regions(geometry, int(np.ceil(3 * s2)))
    return float(np.mean(band[border] ** 2)), float(np.mean(band[centre] ** 2))


def _tensor(light: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Structure tensor (Jxx, Jyy, Jxy) of the lightness, gradients after a 1 px blur."""
    smooth = cv2.GaussianBlur(light, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    blur = lambda a: cv2.GaussianBlur(a, (0, 0), sigma)  # noqa: E731
    return blur(gx * gx), blur(gy * gy), blur(gx * gy)


def coherence(light: np.ndarray, geometry: ZoomGeometry, tensor=None) -> tuple[float, float]:
    """Energy-weighted structure-tensor coherence (0: no preferred direction, 1: all one
    direction) in the border and in the centre (``tensor``: :func:`structure_tensor`'s, if
    already made)."""
    sigma = STRUCTURE_SIGMA_PX * _scale(geometry)
    jxx, jyy, jxy = tensor or structure_tensor(light, geometry)
    anisotropic = np.sqrt((jxx - jyy) ** 2 + 4.0 * jxy**2)
    trace = jxx + jyy
    border, centre = regions(geometry, int(np.ceil(2 * sigma)))
    share = lambda m: float(anisotropic[m].sum() / max(trace[m].sum(), 1e-9))  # noqa: E731
    return share(border), share(centre)


def structure_tensor(light: np.ndarray, geometry: ZoomGeometry):
    """(Jxx, Jyy, Jxy) over the window STRUCTURE_SIGMA_PX (scaled with the frame)."""
    return _tensor(light, STRUCTURE_SIGMA_PX * _scale(geometry))


def ray_index(light: np.ndarray, geometry: ZoomGeometry, tensor=None) -> float:
    """Share of the border's gradient energy across rays from the frame's centre, minus the
    share along them: -sum(w cos 2(theta - phi)) / sum(trace), with theta the dominant
    gradient direction, phi the direction from the centre and w the anisotropic energy."""
    sigma = STRUCTURE_SIGMA_PX * _scale(geometry)
    jxx, jyy, jxy = tensor or structure_tensor(light, geometry)
    cos2, sin2 = _ray_directions(*light.shape)
    along = (jxx - jyy) * cos2 + 2.0 * jxy * sin2
    border, _ = regions(geometry, int(np.ceil(2 * sigma)))
    return float(-along[border].sum() / max((jxx + jyy)[border].sum(), 1e-9))


@lru_cache(maxsize=8)
def _ray_directions(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """cos 2 phi and sin 2 phi, phi the direction of each pixel from the frame's centre."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    phi = np.arctan2(ys - (h - 1) / 2.0, xs - (w - 1) / 2.0)
    cos2, sin2 = np.cos(2 * phi), np.sin(2 * phi)
    cos2.setflags(write=False)
    sin2.setflags(write=False)
    return cos2, sin2


def copy_block_px(geometry: ZoomGeometry) -> int:
    """Side of the blocks judged for copies: COPY_BLOCK_PX_AT_512 scaled with the frame."""
    return max(MIN_COPY_BLOCK_PX, round(COPY_BLOCK_PX_AT_512 * geometry.height / 512))


def band_pass(light: np.ndarray, geometry: ZoomGeometry) -> np.ndarray:
    """The lightness's difference of Gaussians (DETAIL_SIGMAS_PX): its mid frequencies."""
    s1, s2 = (s * _scale(geometry) for s in DETAIL_SIGMAS_PX)
    return cv2.GaussianBlur(light, (0, 0), s1) - cv2.GaussianBlur(light, (0, 0), s2)


def copied_fraction(
    light: np.ndarray, geometry: ZoomGeometry, sources: list[np.ndarray]
) -> tuple[float, int]:
    """(share of textured border blocks that are near-exact copies of a block of a source,
    blocks judged). Blocks tile the border; they and the sources are compared band-passed
    (:func:`band_pass`), by normalized cross-correlation at every position, so that a copy
    is found whatever brightness or contrast change it went through, and a smooth ramp does
    not match every other ramp. Blocks with less band-pass detail than COPY_MIN_DETAIL_L are
    not judged; nor is every second block (a checkerboard: half the work, and a copied
    region two blocks wide covers a judged one). The search runs at half size first (a
    quarter of the pixels); the best COPY_CANDIDATES places found there are scored at full
    size."""
    searchable = [_Searchable.of(band_pass(source, geometry)) for source in sources]
    return _copied(band_pass(light, geometry), geometry, searchable)


def _copied(
    detail: np.ndarray, geometry: ZoomGeometry, sources: list[_Searchable]
) -> tuple[float, int]:
    """:func:`copied_fraction` on the band-passed keyframe and the searchable sources."""
    block = copy_block_px(geometry)
    border, _ = regions(geometry)
    judged = copied = 0
    for row, y in enumerate(range(0, geometry.height - block + 1, block)):
        for col, x in enumerate(range(0, geometry.width - block + 1, block)):
            if (row + col) % 2:  # a checkerboard of the blocks: half the work, the same share
                continue
            patch = detail[y : y + block, x : x + block]
            if not border[y : y + block, x : x + block].all() or patch.std() < COPY_MIN_DETAIL_L:
                continue
            judged += 1
            copied += max(s.best_correlation(patch) for s in sources) >= COPY_MIN_CORRELATION
    return (copied / judged if judged else 0.0), judged


@dataclass(frozen=True)
class _Searchable:
    """A band-passed source at full and at half size."""

    full: np.ndarray
    half: np.ndarray

    @classmethod
    def of(cls, detail: np.ndarray) -> _Searchable:
        return cls(detail, _halved(detail))

    def best_correlation(self, patch: np.ndarray) -> float:
        """The highest normalized cross-correlation of ``patch`` anywhere in the source: the
        COPY_CANDIDATES best places at half size, each re-scored at full size within 2 px
        (none when no place at half size reaches COPY_SCREEN_CORRELATION)."""
        if self.full.shape[0] < patch.shape[0] or self.full.shape[1] < patch.shape[1]:
            return -1.0
        small = _halved(patch)
        if min(small.shape) < 4 or min(self.half.shape) < min(small.shape):
            return _correlation(self.full, patch)
        scores = cv2.matchTemplate(self.half, small, cv2.TM_CCOEFF_NORMED)
        if float(scores.max()) < COPY_SCREEN_CORRELATION:  # no place at half size is close
            return float(scores.max())
        flat = scores.reshape(-1)
        best = (
            np.argpartition(flat, -COPY_CANDIDATES)[-COPY_CANDIDATES:]
            if flat.size > COPY_CANDIDATES
            else np.arange(flat.size)
        )
        found = -1.0
        h, w = patch.shape
        for row, col in zip(*np.unravel_index(best, scores.shape), strict=True):
            y0, x0 = max(0, 2 * row - 2), max(0, 2 * col - 2)
            window = self.full[y0 : 2 * row + h + 2, x0 : 2 * col + w + 2]
            found = max(found, _correlation(window, patch))
        return found


def _halved(image: np.ndarray) -> np.ndarray:
    return cv2.resize(
        image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA
    )


def _correlation(source: np.ndarray, patch: np.ndarray) -> float:
    if source.shape[0] < patch.shape[0] or source.shape[1] < patch.shape[1]:
        return -1.0
    return float(cv2.matchTemplate(source, patch, cv2.TM_CCOEFF_NORMED).max())


def lab_distance(
    image: np.ndarray, geometry: ZoomGeometry, image_lab: np.ndarray | None = None
) -> float:
    """sqrt(sum over L, a, b of (mean difference^2 + standard deviation difference^2)) between
    border and centre, in Lab units (``image_lab``: :func:`lab` of ``image``, if already
    made)."""
    image_lab = lab(image) if image_lab is None else image_lab
    (b_mean, b_std), (c_mean, c_std) = (
        cv2.meanStdDev(image_lab, mask=_mask_u8(region)) for region in regions(geometry)
    )  # per channel, accumulated in float64
    return float(np.sqrt(np.sum((b_mean - c_mean) ** 2 + (b_std - c_std) ** 2)))


def _mask_u8(region: np.ndarray) -> np.ndarray:
    """A boolean region as the uint8 mask OpenCV takes."""
    return region.view(np.uint8)


def seam_ratio(light: np.ndarray, geometry: ZoomGeometry) -> float:
    """Mean lightness jump across the four edges of the pasted centre over the mean jump
    between neighbouring rows (columns) within 4 px on either side of each edge."""
    g = geometry
    y0, y1, x0, x1 = g.border_y, g.height - g.border_y, g.border_x, g.width - g.border_x
    across, near = [], []
    for plane, first, last, lo, hi in ((light, y0, y1, x0, x1), (light.T, x0, x1, y0, y1)):
        lines = plane[:, lo:hi]
        for edge, inward in ((first, 1), (last - 1, -1)):
            outer = edge - inward
            if not 0 <= outer < plane.shape[0]:
                continue
            across.append(_row_step(lines, outer, edge))
            for k in range(4):
                for a in (edge + inward * k, outer - inward * k):
                    b = a + inward if a * inward >= edge * inward else a - inward
                    if min(a, b) >= 0 and max(a, b) < plane.shape[0]:
                        near.append(_row_step(lines, a, b))
    return float(np.mean(across) / max(float(np.mean(near)), 1e-6))


def _row_step(lines: np.ndarray, a: int, b: int) -> float:
    return float(np.abs(lines[a] - lines[b]).mean())


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DetailCheck:
    """Mid-frequency detail of the border against the centre's."""

    border_energy_l2: float  # mean squared band-pass response, L units^2
    centre_energy_l2: float
    energy_ratio: float  # border / centre
    min_energy_ratio: float = MIN_DETAIL_RATIO
    min_centre_energy_l2: float = DETAIL_FLOOR_L2  # a centre with less has no detail to keep
    why: str = WHY_DETAIL

    @property
    def passed(self) -> bool:
        smooth = self.centre_energy_l2 < self.min_centre_energy_l2
        return smooth or self.energy_ratio >= self.min_energy_ratio


@dataclass(frozen=True)
class CoherenceCheck:
    """How much more one-directional the border's gradients are than the centre's."""

    border_coherence: float  # 0..1, energy-weighted
    centre_coherence: float
    excess: float  # border - centre
    max_excess: float = MAX_COHERENCE_EXCESS
    why: str = WHY_COHERENCE

    @property
    def passed(self) -> bool:
        return self.excess <= self.max_excess


@dataclass(frozen=True)
class RayCheck:
    """Gradient energy of the border across rays from the frame's centre."""

    ray_index: float  # -1 (rings) .. 0 (no preference) .. 1 (rays)
    max_ray_index: float = MAX_RAY_INDEX
    why: str = WHY_RAYS

    @property
    def passed(self) -> bool:
        return self.ray_index <= self.max_ray_index


@dataclass(frozen=True)
class CopyCheck:
    """Large near-exact copies of the centre or of the previous keyframe in the border."""

    copied_block_fraction: float  # of the textured border blocks judged
    blocks_judged: int
    block_px: int
    max_copied_fraction: float = MAX_COPIED_FRACTION
    why: str = WHY_COPIES

    @property
    def passed(self) -> bool:
        return self.copied_block_fraction <= self.max_copied_fraction


@dataclass(frozen=True)
class ColourCheck:
    """Border Lab statistics against the centre's."""

    lab_distance: float  # Lab units
    max_lab_distance: float = MAX_LAB_DISTANCE
    why: str = WHY_COLOUR

    @property
    def passed(self) -> bool:
        return self.lab_distance <= self.max_lab_distance


@dataclass(frozen=True)
class SeamCheck:
    """The jump across the pasted centre's edge against neighbouring rows' jumps."""

    jump_ratio: float
    max_jump_ratio: float = MAX_SEAM_RATIO
    why: str = WHY_SEAM

    @property
    def passed(self) -> bool:
        return self.jump_ratio <= self.max_jump_ratio


@dataclass(frozen=True)
class DriftCheck:
    """A keyframe's mean lightness and spread against the first keyframe's."""

    keyframe: int
    mean_l: float  # L units, 0..100
    std_l: float
    mean_l_change: float  # against keyframe 0, L units
    std_l_ratio: float  # against keyframe 0
    std_l_change: float  # against keyframe 0, L units
    max_mean_l_change: float = MAX_MEAN_L_CHANGE
    std_l_ratio_range: tuple[float, float] = (MIN_STD_L_RATIO, MAX_STD_L_RATIO)
    why: str = WHY_DRIFT

    @property
    def passed(self) -> bool:
        low, high = self.std_l_ratio_range
        spread_ok = low <= self.std_l_ratio <= high
        return abs(self.mean_l_change) <= self.max_mean_l_change and spread_ok


@dataclass(frozen=True)
class KeyframeChecks:
    """The border-against-centre checks of one keyframe."""

    index: int
    detail: DetailCheck
    coherence: CoherenceCheck
    rays: RayCheck
    copies: CopyCheck
    colour: ColourCheck
    seam: SeamCheck

    def checks(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "index"}

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks().values())

    def failed(self) -> list[str]:
        return [name for name, check in self.checks().items() if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "passed": self.passed}
        for name, check in self.checks().items():
            data[name] = {**asdict(check), "passed": check.passed}
        return data


@dataclass(frozen=True)
class ZoomChecks:
    """Every keyframe's checks (from the second on) and the drift of every keyframe."""

    keyframes: list[KeyframeChecks] = field(default_factory=list)
    drift: list[DriftCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(k.passed for k in self.keyframes) and all(d.passed for d in self.drift)

    def failed(self) -> list[str]:
        """``keyframe 3: rays`` lines, one per failed check."""
        lines = [f"keyframe {k.index}: {name}" for k in self.keyframes for name in k.failed()]
        return lines + [f"keyframe {d.keyframe}: drift" for d in self.drift if not d.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "keyframes": [k.to_dict() for k in self.keyframes],
            "drift": [{**asdict(d), "passed": d.passed} for d in self.drift],
        }


# --- checking ----------------------------------------------------------------------------


def check_keyframe(
    image: np.ndarray,
    geometry: ZoomGeometry,
    index: int = 0,
    previous: np.ndarray | None = None,
    previous_light: np.ndarray | None = None,
) -> KeyframeChecks:
    """The border-against-centre checks of one keyframe (``previous``: the keyframe before,
    whose blocks the border must not copy either; without it only the centre is searched;
    ``previous_light``: its lightness, if already made)."""
    _check_image("image", image, geometry)
    prior = None
    if previous is not None:
        _check_image("previous", previous, geometry)
        light = lightness(previous) if previous_light is None else previous_light
        prior = _Searchable.of(band_pass(light, geometry))
    return _checks(_Picture.of(image, geometry), geometry, index, prior)


@dataclass(frozen=True)
class _Picture:
    """What several checks of one keyframe measure on: made once per keyframe."""

    image: np.ndarray
    lab: np.ndarray
    light: np.ndarray
    detail: np.ndarray  # band_pass of light

    @classmethod
    def of(cls, image: np.ndarray, geometry: ZoomGeometry) -> _Picture:
        image_lab = lab(image)
        light = image_lab[..., 0]
        return cls(image, image_lab, light, band_pass(light, geometry))


def _checks(
    picture: _Picture, geometry: ZoomGeometry, index: int, prior: _Searchable | None
) -> KeyframeChecks:
    """:func:`check_keyframe` on a measured keyframe (``prior``: the keyframe before, made
    searchable)."""
    light, g = picture.light, geometry
    border_e, centre_e = band_energy(light, geometry, picture.detail)
    tensor = structure_tensor(light, geometry)
    border_c, centre_c = coherence(light, geometry, tensor)
    centre = light[g.border_y : g.height - g.border_y, g.border_x : g.width - g.border_x]
    sources = [_Searchable.of(band_pass(centre, geometry)), *([prior] if prior is not None else [])]
    copied, judged = _copied(picture.detail, geometry, sources)
    result = KeyframeChecks(
        index=index,
        detail=DetailCheck(border_e, centre_e, border_e / max(centre_e, 1e-9)),
        coherence=CoherenceCheck(border_c, centre_c, border_c - centre_c),
        rays=RayCheck(ray_index(light, geometry, tensor)),
        copies=CopyCheck(copied, judged, copy_block_px(geometry)),
        colour=ColourCheck(lab_distance(picture.image, geometry, picture.lab)),
        seam=SeamCheck(seam_ratio(light, geometry)),
    )
    log.debug("keyframe %d checks: %s", index, "passed" if result.passed else result.failed())
    return result


def check_drift(keyframes: list[np.ndarray]) -> list[DriftCheck]:
    """Mean and spread of every keyframe's lightness against the first keyframe's."""
    return _drift(
        [(float(light.mean()), float(light.std())) for light in map(lightness, keyframes)]
    )


def _drift(stats: list[tuple[float, float]]) -> list[DriftCheck]:
    """The drift checks of keyframes whose lightness has these (mean, spread)."""
    mean0, std0 = stats[0]
    return [
        DriftCheck(i, mean, std, mean - mean0, std / max(std0, 1e-9), std - std0)
        for i, (mean, std) in enumerate(stats)
    ]


def check_zoom(keyframes: list[np.ndarray], geometry: ZoomGeometry) -> ZoomChecks:
    """Every keyframe after the first checked against its centre and the keyframe before,
    and every keyframe's drift from the first. ``keyframes``: (H, W, 3) uint8 arrays of the
    geometry's size, in order."""
    if not isinstance(geometry, ZoomGeometry):
        raise InputError("geometry", type(geometry).__name__, "a ZoomGeometry")
    if not isinstance(keyframes, (list, tuple)) or not keyframes:
        raise InputError("keyframes", type(keyframes).__name__, "a list of keyframe images")
    for i, image in enumerate(keyframes):
        _check_image(f"keyframes[{i}]", image, geometry)
    checker = ZoomChecker(geometry)
    for image in keyframes:
        checker.add(image)
    return checker.result()


class ZoomChecker:
    """:func:`check_zoom` one keyframe at a time, as a zoom makes them: only the keyframe before
    is kept, so a zoom of any length is checked in constant memory."""

    def __init__(self, geometry: ZoomGeometry):
        if not isinstance(geometry, ZoomGeometry):
            raise InputError("geometry", type(geometry).__name__, "a ZoomGeometry")
        self.geometry = geometry
        self.rows: list[KeyframeChecks] = []
        self.stats: list[tuple[float, float]] = []  # mean and spread of L per keyframe
        self.previous: _Searchable | None = None  # the keyframe before, band-passed

    def add(self, image: np.ndarray) -> None:
        """The next keyframe, (H, W, 3) uint8 RGB of the geometry's size."""
        index = len(self.stats)
        _check_image(f"keyframes[{index}]", image, self.geometry)
        picture = _Picture.of(image, self.geometry)
        if self.previous is not None:
            self.rows.append(_checks(picture, self.geometry, index, self.previous))
        self.stats.append((float(picture.light.mean()), float(picture.light.std())))
        self.previous = _Searchable.of(picture.detail)

    def result(self) -> ZoomChecks:
        if not self.stats:
            raise InputError("keyframes", 0, "at least one keyframe checked")
        result = ZoomChecks(list(self.rows), _drift(self.stats))
        log.info("zoom checks of %d keyframes: %s", len(self.stats), result.failed() or "passed")
        return result


def checks_path(video: str | Path) -> Path:
    """Where a zoom's picture checks are kept: NAME_checks.json beside the video."""
    video = Path(video)
    return video.with_name(f"{video.stem}_checks.json")


def _check_image(argument: str, image: object, geometry: ZoomGeometry) -> None:
    expected = (geometry.height, geometry.width, 3)
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == expected):
        shape = getattr(image, "shape", type(image).__name__)
        raise InputError(argument, shape, f"a {expected} uint8 RGB array (the geometry's size)")
