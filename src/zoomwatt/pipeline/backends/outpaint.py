"""Weight-free outpainting by patch synthesis: the border is made of the picture's own patches.

:func:`outpaint` fills the masked part of a picture (in a zoom: the border around the shrunken
previous keyframe) by image quilting (Efros and Freeman, 2001) from the known part:

1. **Where patches come from.** The known part magnified by the zoom factor (2 for the default
   border), plus the known part's own finest detail (its top octave, which magnifying loses):
   a patch then shows the previous keyframe's structures at the size they had there, so the
   zoom does not shrink the picture into noise keyframe after keyframe, and it is as sharp as
   the centre. Source positions near the known part's edge are likelier: what surrounds a
   picture continues its edge, not its middle (a portrait's surroundings are not more faces).
2. **Placing them.** The border is covered by a grid of overlapping square patches (16 px at
   512 px, overlap a quarter), placed ring by ring (three patch steps wide) outward from the
   known part; the rings are
   made irregular with smooth seeded noise, so that no square outline shows keyframe after
   keyframe. The patches of one ring that do not touch each other are matched and placed
   together (vectorized). Candidates are a seeded random pool per ring and the coherent
   continuations of the neighbours already placed (at most ``coherent_run`` in a row, so no
   large region is copied whole). A candidate's cost is its squared difference from what is
   already there plus, weighted, the distance of its mean colour from a colour layout; any
   candidate within a tolerance of the best may be taken, at random. Each patch shows on its
   side of the minimum-error cut through its overlaps, softened by a pixel.
3. **The layout.** Random phase noise (Galerne, Gousseau and Morel, 2011) with the spectrum of
   the magnified known part: a colour field with the picture's large-scale structure and none
   of its geometry, the same in every direction. Matching patches to it breaks the chains of
   patches that continue each other outward (which make rays and crosses).
4. **Finishing.** The border's Lab mean and spreads (of its coarse structure and of its fine
   texture, separately) are matched to the known part's, the lightness corrected for what
   shrinking the picture into the next keyframe takes away (so brightness and contrast do not
   drift over keyframes); the colour offset at the pasted edge is spread a little way into
   the border and the first pixels blend into the mirrored edge (no seam).

Everything is numpy and OpenCV; the same inputs and seed give the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from zoomwatt.errors import InputError

MIN_PATCH_PX = 4
MAX_PATCH_PX = 16  # 16 px at 512 px: a sixteenth of the known centre's side
LAYOUT_SIDE_PX = 64  # the colour layout is made at about this size and enlarged
NOISE_FLOOR = 3 * 2.0**2  # grey levels^2 over 3 channels: candidates this close tie
SEAM_MIRROR_PX = 3  # the first pixels outside the pasted edge blend into its mirror image
MAX_GAIN = 3.0  # bounds of the colour match's gain on lightness spreads
CHROMA_GAIN = 1.5  # bounds of its gain on a and b spreads: more leaves the gamut
LAYOUT_FLOOR = 0.5  # the layout keeps at least half of the known middle's colour variation
MAX_LIFT = 1.25  # most the border's lightness spread is raised above the centre's
MAX_USES = 3  # placements of one pool patch per ring: no patch is stamped all around
SIDES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # neighbour directions on the patch grid


@dataclass(frozen=True)
class PatchSettings:
    """What decides the pixels of :func:`outpaint`; the defaults are the classical backend's."""

    patch_px: int = 0  # patch side; 0 = the picture's shorter side / 32, 4..16
    candidates: int = 128  # random source patches tried per ring
    tolerance: float = 0.1  # a candidate within this fraction of the best cost may be taken
    coherent_run: int = 2  # neighbours' continuations followed at most this many in a row
    layout_weight: float = 0.5  # weight of the colour layout against the overlaps
    edge_bias: float = 0.35  # e-folding depth of source positions, x the known inradius
    detail: float = 1.0  # share of the known part's top octave added to magnified patches
    ring_jitter: float = 2.0  # irregularity of the rings, in patch steps
    ring_steps: int = 3  # width of a ring in patch steps; 0 = the whole border is one ring
    colour_match: float = 1.0  # 0..1: how far the border's Lab statistics move to the target

    def check(self) -> None:
        if self.patch_px != 0 and not MIN_PATCH_PX <= self.patch_px <= 64:
            raise InputError("patch_px", self.patch_px, f"0 (automatic) or {MIN_PATCH_PX} to 64")
        ranges = {
            "candidates": (8, 4096),
            "tolerance": (0.0, 10.0),
            "coherent_run": (0, 64),
            "layout_weight": (0.0, 100.0),
            "edge_bias": (0.0, 10.0),
            "detail": (0.0, 2.0),
            "ring_jitter": (0.0, 10.0),
            "ring_steps": (0, 64),
            "colour_match": (0.0, 1.0),
        }
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise InputError(name, value, f"a value from {low} to {high}")


def outpaint(
    image: np.ndarray, mask: np.ndarray, seed: int, settings: PatchSettings | None = None
) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with the pixels where ``mask`` (H, W) > 0 synthesized from
    the others; known pixels are returned unchanged."""
    settings = settings or PatchSettings()
    _check_inputs(image, mask, seed)
    settings.check()
    known = mask == 0
    if known.all():
        return image.copy()
    automatic = int(np.clip(round(min(known.shape) / 32), MIN_PATCH_PX, MAX_PATCH_PX))
    patch = settings.patch_px or automatic
    picture = image.astype(np.float32)
    source = _Source.build(picture, known, patch, settings) if known.any() else None
    if source is None:  # too little known picture to take a patch from
        return cv2.inpaint(image, mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    rng = np.random.default_rng(seed)
    layout = random_phase_layout(picture, known, source.zoom, rng, settings.edge_bias)
    result = _quilt(picture, known, source, layout, rng, settings)
    if settings.colour_match > 0:
        result = match_colour(result, known, patch, settings.colour_match)
    result = _blend_seam(result, picture, known, patch)
    out = np.clip(np.rint(result), 0, 255).astype(np.uint8)
    out[known] = image[known]
    return out


def _check_inputs(image: object, mask: object, seed: object) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3):
        raise InputError("image", getattr(image, "shape", image), "an (H, W, 3) uint8 array")
    if image.shape[2] != 3:
        raise InputError("image", image.shape, "an (H, W, 3) uint8 array")
    if not (isinstance(mask, np.ndarray) and mask.shape == image.shape[:2]):
        shape = getattr(mask, "shape", type(mask).__name__)
        raise InputError("mask", shape, f"an array of the image's shape {image.shape[:2]}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InputError("seed", seed, "a non-negative integer")


# --- where patches come from -----------------------------------------------------------


@dataclass
class _Source:
    """The known part's bounding box magnified by the zoom factor (``pixels``), where a patch
    may start in it
    (``valid``; ``corners`` flat, with their ``chance``), and the known part's top octave at
    its own scale (``detail``), added to every patch."""

    pixels: np.ndarray  # (hs, ws, 3) float32
    valid: np.ndarray  # (hs, ws) bool
    corners: np.ndarray  # (N,) flat indices into valid
    chance: np.ndarray | None  # (N,) cumulative chance; None = uniform
    detail: np.ndarray | None  # (H, W, 3) float32
    zoom: float
    patch: int
    origin: np.ndarray  # (2,) where the known part's bounding box starts in the picture

    @classmethod
    def build(
        cls, picture: np.ndarray, known: np.ndarray, patch: int, settings: PatchSettings
    ) -> _Source | None:
        """None when no patch fits in the known part."""
        zoom = zoom_factor(known)
        rows, cols = np.flatnonzero(known.any(1)), np.flatnonzero(known.any(0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        for scale in (zoom, 1.0) if zoom > 1.0 else (1.0,):
            pixels, inside = _magnified(picture[box], known[box], scale)
            corners = _patch_corners(inside, patch)
            if corners.size:
                break
        else:
            return None
        valid = np.zeros(inside.shape, dtype=bool)
        valid.flat[corners] = True
        chance = _edge_preference(inside, patch, corners, settings.edge_bias)
        chance = None if chance is None else np.cumsum(chance)
        detail = None
        if scale > 1.0 and settings.detail > 0:
            top_octave = picture - _lowpass(picture, known, 2)
            detail = np.where(known[..., None], top_octave * settings.detail, 0.0)
        origin = np.array([rows[0], cols[0]])
        return cls(pixels, valid, corners, chance, detail, scale, patch, origin)

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """(k, 2) top-left corners of up to ``count`` distinct random patches (drawn with
        replacement by their chance, repeats dropped)."""
        if self.chance is None:
            picks = rng.integers(0, self.corners.size, size=count)
        else:
            picks = np.searchsorted(self.chance, rng.random(count) * self.chance[-1])
            picks = np.minimum(picks, self.corners.size - 1)
        chosen = self.corners[np.unique(picks)]
        return np.stack(np.divmod(chosen, self.valid.shape[1]), axis=1)

    def patches(self, corners: np.ndarray) -> np.ndarray:
        """(k, P, P, 3) float32 patches at (k, 2) corners, with the detail of the same place
        at the known part's own scale."""
        out = _gather(self.pixels, corners, self.patch)
        if self.detail is not None:
            p = self.patch
            at = np.rint((corners + p / 2) / self.zoom - p / 2).astype(np.int64) + self.origin
            at = np.clip(at, 0, np.array(self.detail.shape[:2]) - p)
            out += _gather(self.detail, at, p)
        return out


def zoom_factor(known: np.ndarray) -> float:
    """Side of the frame over side of the known part's bounding box (2 for a zoom's default
    border), between 1 and 4."""
    rows, cols = np.flatnonzero(known.any(1)), np.flatnonzero(known.any(0))
    tall, wide = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    return float(np.clip(min(known.shape[0] / tall, known.shape[1] / wide), 1.0, 4.0))


def _magnified(picture: np.ndarray, known: np.ndarray, scale: float):
    """The picture enlarged by ``scale`` (bicubic) and where it is known, less the 2 px that
    the bicubic filter reads across the known part's edge."""
    if scale <= 1.0:
        return picture, known
    size = (round(known.shape[1] * scale), round(known.shape[0] * scale))
    pixels = cv2.resize(picture, size, interpolation=cv2.INTER_CUBIC)
    inside = cv2.resize(known.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    return pixels, cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0


def _patch_corners(known: np.ndarray, patch: int) -> np.ndarray:
    """Flat indices (y * W + x) of the top-left corners whose patch lies wholly in ``known``."""
    h, w = known.shape
    if patch > min(h, w):
        return np.empty(0, dtype=np.int64)
    unknown = cv2.integral((~known).astype(np.uint8))
    count = (
        unknown[patch:, patch:] - unknown[:-patch, patch:] - unknown[patch:, :-patch]
        + unknown[:-patch, :-patch]
    )  # fmt: skip
    ys, xs = np.nonzero(count == 0)
    return ys.astype(np.int64) * w + xs


def _edge_preference(
    known: np.ndarray, patch: int, corners: np.ndarray, edge_bias: float
) -> np.ndarray | None:
    """Chance of each source corner: falling off as exp(-d / tau) with the depth d of the
    patch centre inside the known part, tau = ``edge_bias`` x the largest depth; None
    (uniform) for ``edge_bias`` 0."""
    if edge_bias <= 0:
        return None
    padded = np.pad(known, 1).astype(np.uint8)
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    ys, xs = np.divmod(corners, known.shape[1])
    d = depth[ys + patch // 2, xs + patch // 2].astype(np.float64)
    weight = np.exp(-d / max(edge_bias * float(depth.max()), 1e-3))
    return weight / weight.sum()


def _lowpass(picture: np.ndarray, known: np.ndarray, factor: int) -> np.ndarray:
    """The known part's content as a level ``factor`` times coarser sees it, enlarged back
    (normalized convolution): the weighted picture and the weights are area-shrunk and
    bilinearly enlarged separately, then divided, so unknown pixels count for nothing and
    every pixel near the known part gets the average of the known pixels around it."""
    h, w = known.shape
    small = (max(1, w // factor), max(1, h // factor))
    weight = known.astype(np.float32)
    total = cv2.resize(picture * weight[..., None], small, interpolation=cv2.INTER_AREA)
    cover = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
    total = cv2.resize(total, (w, h), interpolation=cv2.INTER_LINEAR)
    cover = cv2.resize(cover, (w, h), interpolation=cv2.INTER_LINEAR)
    return total / np.maximum(cover, 1e-3)[..., None]


def _gather(picture: np.ndarray, corners: np.ndarray, patch: int) -> np.ndarray:
    """(k, P, P[, C]) copies of the patches at (k, 2) top-left corners (through a sliding
    window view: a few times faster than indexing every pixel)."""
    windows = np.lib.stride_tricks.sliding_window_view(picture, (patch, patch), axis=(0, 1))
    found = windows[corners[:, 0], corners[:, 1]]
    return np.ascontiguousarray(np.moveaxis(found, 1, -1) if picture.ndim == 3 else found)


def random_phase_layout(
    picture: np.ndarray,
    known: np.ndarray,
    zoom: float,
    rng: np.random.Generator,
    edge_bias: float = 0.35,
) -> np.ndarray:
    """A smooth colour layout of the whole frame, (H, W, 3) float32: random phase noise with
    the spectrum of the known part magnified by ``zoom``, made at about LAYOUT_SIDE_PX and
    enlarged. The sample's deviation from its edge colour is weighted like the source
    positions (``edge_bias``): the layout has the colours of the picture's edge more than
    of its middle. It is mirrored to make it periodic (no cross from its edges); one random
    phase for all three channels keeps their correlation (the colours stay the picture's)."""
    h, w = known.shape
    scale = min(1.0, LAYOUT_SIDE_PX / min(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    inside = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
    if not inside.any():
        return np.broadcast_to(picture[known].mean(0), picture.shape).astype(np.float32)
    rows, cols = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    sample = _edge_weighted(small[box], inside[box], edge_bias)
    grown = (max(2, round(sample.shape[1] * zoom)), max(2, round(sample.shape[0] * zoom)))
    sample = cv2.resize(sample, grown, interpolation=cv2.INTER_LINEAR)
    periodic = np.concatenate([sample, sample[:, ::-1]], 1)
    periodic = np.concatenate([periodic, periodic[::-1]], 0)
    mean = periodic.mean((0, 1))
    spectrum = np.fft.rfft2(periodic - mean, axes=(0, 1))
    noise = np.fft.rfft2(rng.standard_normal(periodic.shape[:2]))
    phase = noise / np.maximum(np.abs(noise), 1e-12)
    field = np.fft.irfft2(spectrum * phase[..., None], s=periodic.shape[:2], axes=(0, 1))
    reps = (-(-size[1] // field.shape[0]), -(-size[0] // field.shape[1]), 1)
    field = np.tile(field, reps)[: size[1], : size[0]] + mean
    return cv2.resize(field.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def _edge_weighted(sample: np.ndarray, inside: np.ndarray, edge_bias: float) -> np.ndarray:
    """The sample's deviation from the mean colour of its edge (its outer 10%), weighted by
    exp(-depth / tau) as in :func:`_edge_preference`, at least 0.2; unknown pixels get the
    edge colour."""
    depth = cv2.distanceTransform(np.pad(inside, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
    deepest = max(float(depth.max()), 1e-3)
    edge = inside & (depth <= max(1.0, 0.1 * deepest * 2))
    edge_colour = sample[edge].mean(0) if edge.any() else sample[inside].mean(0)
    weight = np.ones_like(depth) if edge_bias <= 0 else np.exp(-depth / (edge_bias * deepest))
    weight = np.where(inside, np.maximum(weight, LAYOUT_FLOOR), 0.0)[..., None]
    return (edge_colour + weight * (sample - edge_colour)).astype(np.float32)


# --- placing patches -------------------------------------------------------------------


@dataclass
class _Grid:
    """The patch grid: corner rows ``ys`` and columns ``xs``, and the waves of grid cells
    ``(ring, cells)`` (cells as flat indices iy * len(xs) + ix) in placing order."""

    ys: np.ndarray
    xs: np.ndarray
    waves: list[tuple[int, np.ndarray]]

    @classmethod
    def build(
        cls,
        known: np.ndarray,
        patch: int,
        step: int,
        rng: np.random.Generator,
        rings: tuple[int, float],
    ) -> _Grid:
        """Cells whose patch covers unknown pixels, in rings ``rings[0]`` steps wide outward
        from the known part (their distance disturbed by smooth noise of ``rings[1]`` steps;
        width 0: one ring), each ring
        in four waves by the parity of grid row and column: patches of one wave never
        overlap."""
        h, w = known.shape
        ys, xs = _grid_line(h, patch, step), _grid_line(w, patch, step)
        iy, ix = (
            a.ravel() for a in np.meshgrid(np.arange(ys.size), np.arange(xs.size), indexing="ij")
        )
        y0, x0 = ys[iy], xs[ix]
        unknown = cv2.integral((~known).astype(np.uint8))
        holes = (
            unknown[y0 + patch, x0 + patch] - unknown[y0, x0 + patch]
            - unknown[y0 + patch, x0] + unknown[y0, x0]
        )  # fmt: skip
        distance = cv2.distanceTransform((~known).astype(np.uint8), cv2.DIST_L2, 3)
        depth = distance[y0 + patch // 2, x0 + patch // 2]
        width, jitter = rings
        if jitter > 0:
            noise = rng.standard_normal((6, 6)).astype(np.float32)
            noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
            depth = depth + (depth > 0) * jitter * step * noise[y0 + patch // 2, x0 + patch // 2]
        ring = (np.maximum(depth, 0.0) // max(width * step, 1)).astype(np.int64)
        if width == 0:
            ring = np.zeros_like(ring)
        key = ring * 4 + (iy % 2) * 2 + ix % 2
        cells = np.flatnonzero(holes > 0)
        cells = cells[np.argsort(key[cells], kind="stable")]
        splits = np.flatnonzero(np.diff(key[cells])) + 1
        waves = [(int(ring[c[0]]), c) for c in np.split(cells, splits)]
        return cls(ys, xs, waves)


def _grid_line(side: int, patch: int, step: int) -> np.ndarray:
    """Patch corners along one side, evenly spaced at most ``step`` apart, the last one flush
    with the far edge."""
    count = int(np.ceil(max(side - patch, 0) / step)) + 1
    return np.rint(np.linspace(0, side - patch, count)).astype(np.int64)


@dataclass
class _State:
    """The picture being filled: what is filled so far, and for each grid cell the source
    corner of its patch (-1: none yet) and how many coherent continuations led to it."""

    image: np.ndarray  # (H, W, 3) float32
    known: np.ndarray  # (H, W) bool
    filled: np.ndarray  # (H, W) bool
    source_at: np.ndarray  # (cells, 2) int64
    run: np.ndarray  # (cells,) int64


def _quilt(
    picture: np.ndarray,
    known: np.ndarray,
    source: _Source,
    layout: np.ndarray,
    rng: np.random.Generator,
    settings: PatchSettings,
) -> np.ndarray:
    """The picture with its unknown part covered, wave by wave, by patches from ``source``."""
    patch = source.patch
    overlap = max(1, patch // 4)
    rings = (settings.ring_steps, settings.ring_jitter)
    grid = _Grid.build(known, patch, patch - overlap, rng, rings)
    cells = grid.ys.size * grid.xs.size
    state = _State(
        picture.copy(),
        known,
        known.copy(),
        np.full((cells, 2), -1, np.int64),
        np.zeros(cells, np.int64),
    )
    ring = None
    for wave_ring, wave in grid.waves:
        if wave_ring != ring:  # a fresh pool per ring: every ring gets good candidates
            ring, pool_at = wave_ring, source.sample(settings.candidates, rng)
            pool = source.patches(pool_at)
            pool_mean = pool.reshape(len(pool), -1, 3).mean(1)
            uses = np.zeros(len(pool), dtype=np.int64)
        parts = (pool, pool_at, pool_mean, uses)
        _fill_wave(state, grid, wave, parts, source, layout, rng, settings)
    return state.image


@dataclass
class _Wave:
    """The patch places of one wave: grid cells, corners and the pixels under them."""

    cells: np.ndarray  # (n,)
    iy: np.ndarray
    ix: np.ndarray
    rows: np.ndarray  # (n, P, 1) pixel rows of each place
    cols: np.ndarray  # (n, 1, P)
    target: np.ndarray  # (n, P, P, 3) what the picture holds there now
    filled: np.ndarray  # (n, P, P) bool
    known: np.ndarray  # (n, P, P) bool


def _wave(state: _State, grid: _Grid, cells: np.ndarray, patch: int) -> _Wave:
    iy, ix = np.divmod(cells, grid.xs.size)
    steps = np.arange(patch)
    rows = grid.ys[iy][:, None, None] + steps[None, :, None]
    cols = grid.xs[ix][:, None, None] + steps[None, None, :]
    corners = np.stack([grid.ys[iy], grid.xs[ix]], 1)
    return _Wave(
        cells, iy, ix, rows, cols, _gather(state.image, corners, patch),
        _gather(state.filled, corners, patch), _gather(state.known, corners, patch),
    )  # fmt: skip


def _fill_wave(
    state: _State,
    grid: _Grid,
    cells: np.ndarray,
    pool_parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    source: _Source,
    layout: np.ndarray,
    rng: np.random.Generator,
    settings: PatchSettings,
) -> None:
    """Choose and place the patches of one wave: from the ring's pool or continuing a
    neighbour's patch."""
    pool, pool_at, pool_mean, uses = pool_parts
    p, n, count = source.patch, cells.size, len(pool)
    wave = _wave(state, grid, cells, p)
    follow_at, follow_ok, follow_run = _continuations(state, grid, wave, source, settings)
    follow = source.patches(follow_at.reshape(-1, 2)).reshape(n, len(SIDES), p, p, 3)
    corners = np.stack([grid.ys[wave.iy], grid.xs[wave.ix]], 1)
    layout_here = _gather(layout, corners, p)
    cost = _costs(wave, layout_here, (pool, pool_mean), follow, settings.layout_weight)
    cost[:, count:][~follow_ok] = np.inf
    worn = uses >= MAX_USES
    if not worn.all():
        cost[:, :count][:, worn] = np.inf
    pick = _choose(cost, rng, settings.tolerance)
    from_pool = pick < count
    side, index, every = np.maximum(pick - count, 0), np.minimum(pick, count - 1), np.arange(n)
    pixels = np.where(from_pool[:, None, None, None], pool[index], follow[every, side])
    chosen_at = np.where(from_pool[:, None], pool_at[index], follow_at[every, side])
    state.source_at[cells] = chosen_at
    state.run[cells] = np.where(from_pool, 0, follow_run[every, side])
    np.add.at(uses, pick[from_pool], 1)
    _place(state, wave, pixels, max(1, p // 4))


def _continuations(
    state: _State, grid: _Grid, wave: _Wave, source: _Source, settings: PatchSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per place and side, the source corner that continues the neighbour's patch on that
    side (as if the source went on there), whether that may be taken (a neighbour is placed,
    its run is shorter than ``coherent_run``, the continuation lies in the source), and the
    run it would make: (n, 4, 2), (n, 4), (n, 4)."""
    n = wave.cells.size
    at = np.zeros((n, len(SIDES), 2), np.int64)
    ok = np.zeros((n, len(SIDES)), bool)
    run = np.zeros((n, len(SIDES)), np.int64)
    here = np.stack([grid.ys[wave.iy], grid.xs[wave.ix]], 1)
    limit = np.array(source.valid.shape)
    for j, (dy, dx) in enumerate(SIDES):
        ny, nx = wave.iy + dy, wave.ix + dx
        inside = (ny >= 0) & (ny < grid.ys.size) & (nx >= 0) & (nx < grid.xs.size)
        ny, nx = np.clip(ny, 0, grid.ys.size - 1), np.clip(nx, 0, grid.xs.size - 1)
        cell = ny * grid.xs.size + nx
        there = state.source_at[cell]
        corner = there + here - np.stack([grid.ys[ny], grid.xs[nx]], 1)
        good = inside & (there[:, 0] >= 0) & (state.run[cell] < settings.coherent_run)
        good &= (corner >= 0).all(1) & (corner < limit).all(1)
        corner = np.where(good[:, None], corner, 0)
        good &= source.valid[corner[:, 0], corner[:, 1]]
        corner = np.where(good[:, None], corner, 0)
        at[:, j], ok[:, j], run[:, j] = corner, good, state.run[cell] + 1
    return at, ok, run


def _costs(
    wave: _Wave,
    layout: np.ndarray,
    pool_parts: tuple[np.ndarray, np.ndarray],
    follow: np.ndarray,
    layout_weight: float,
) -> np.ndarray:
    """(n, C + 4) cost of every pool candidate and continuation for every place: the mean
    squared difference (over channels, per filled pixel) from what is already there, blended
    by the share of the place still empty with the squared distance of the candidate's mean
    colour from the layout's there. Pool patches of 8 px and more are compared at every
    second pixel, continuations too."""
    pool, pool_mean = pool_parts
    n, p = wave.target.shape[:2]
    weight = wave.filled.astype(np.float32)
    s = 2 if p >= 8 else 1
    from_pool = _weighted_sq_error(wave.target[:, ::s, ::s], weight[:, ::s, ::s], pool[:, ::s, ::s])
    from_pool /= np.maximum(weight[:, ::s, ::s].reshape(n, -1).sum(1), 1e-6)[:, None]
    part = follow[:, :, ::s, ::s] - wave.target[:, None, ::s, ::s]
    weights = weight[:, ::s, ::s].reshape(n, -1)
    sq = _channel_sum(np.square(part)).reshape(n, len(SIDES), -1)
    from_follow = np.einsum("nkp,np->nk", sq, weights)
    cost = np.concatenate([from_pool, from_follow / np.maximum(weights.sum(1), 1e-6)[:, None]], 1)
    if layout_weight <= 0:
        return cost
    empty = 1.0 - weight
    flat_empty = empty.reshape(n, -1, 1)
    want = (flat_empty * layout.reshape(n, -1, 3)).sum(1) / np.maximum(flat_empty.sum(1), 1e-6)
    have_pool = np.broadcast_to(pool_mean, (n, len(pool), 3))
    follow_mean = follow[:, :, ::s, ::s].reshape(n, len(SIDES), -1, 3).mean(2)
    have = np.concatenate([have_pool, follow_mean], 1)
    colour = _channel_sum(np.square(have - want[:, None, :]))
    share = weight.reshape(n, -1).mean(1)[:, None]
    free = layout_weight * (1.0 - share)
    return (share * cost + free * colour) / np.maximum(share + free, 1e-6)


def _weighted_sq_error(target: np.ndarray, weight: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """(n, C) sum of weight * |target - source|^2 over pixels and channels, by expanding the
    square into products of matrices. They are small: numpy's own ``einsum`` loops beat a
    threaded BLAS, which on a busy machine can take 50 times longer, and give the same sums
    whatever the thread count."""
    n, count = target.shape[0], sources.shape[0]
    wt = (weight[..., None] * target).reshape(n, -1)
    cross = np.einsum("nf,cf->nc", wt, sources.reshape(count, -1))
    squares = _channel_sum(np.square(sources)).reshape(count, -1)
    quad = np.einsum("np,cp->nc", weight.reshape(n, -1), squares)
    own = (wt * target.reshape(n, -1)).sum(1)
    return np.maximum(own[:, None] - 2.0 * cross + quad, 0.0)


def _channel_sum(values: np.ndarray) -> np.ndarray:
    """Sum over the last axis of 3 channels (faster than ``sum(-1)`` for so short an axis)."""
    return values[..., 0] + values[..., 1] + values[..., 2]


def _choose(cost: np.ndarray, rng: np.random.Generator, tolerance: float) -> np.ndarray:
    """Per place, a random candidate among those within ``tolerance`` of the best (or within
    NOISE_FLOOR of it)."""
    best = cost.min(axis=1, keepdims=True)
    good = cost <= best * (1.0 + tolerance) + NOISE_FLOOR
    lottery = rng.random(cost.shape)
    lottery[~good] = -1.0
    return lottery.argmax(axis=1)


def _place(state: _State, wave: _Wave, pixels: np.ndarray, overlap: int) -> None:
    """Put one wave's patches on the picture: each shows on its side of the minimum-error cut
    through its overlap with patches already placed, over a soft one-pixel edge; known
    pixels stay as they are."""
    synthesized = wave.filled & ~wave.known
    error = _channel_sum(np.square(pixels - wave.target)) * synthesized
    alpha = _soften(_cut(error, overlap).astype(np.float32))
    alpha = np.where(wave.filled, alpha, 1.0)
    alpha[wave.known] = 0.0
    state.image[wave.rows, wave.cols] = wave.target + alpha[..., None] * (pixels - wave.target)
    state.filled[wave.rows, wave.cols] = True


def _cut(error: np.ndarray, overlap: int) -> np.ndarray:
    """(n, P, P) bool, True where a new patch shows: inside the minimum-error cut through
    each of its four edge strips of ``overlap`` px (``error`` is 0 where nothing was placed,
    so the cut leaves those strips to the new patch)."""
    o = overlap
    strips = np.concatenate(
        [
            error[:, :, :o],  # left edge: the seam runs along y, columns from the edge inward
            error[:, :, ::-1][:, :, :o],  # right edge
            error.transpose(0, 2, 1)[:, :, :o],  # top edge, transposed
            error[:, ::-1].transpose(0, 2, 1)[:, :, :o],  # bottom edge
        ]
    )
    inside = np.arange(o)[None, None, :] >= _min_path(strips)[:, :, None]
    left, right, top, bottom = np.split(inside, 4)
    shows = np.ones(error.shape, dtype=bool)
    shows[:, :, :o] &= left
    shows[:, :, ::-1][:, :, :o] &= right
    shows.transpose(0, 2, 1)[:, :, :o] &= top
    shows[:, ::-1].transpose(0, 2, 1)[:, :, :o] &= bottom
    return shows


def _min_path(strips: np.ndarray) -> np.ndarray:
    """(m, L) column of the cheapest 8-connected path down each (L, O) strip of errors, by
    dynamic programming over all strips at once (the minimum-error boundary cut); ties go to
    the outermost column."""
    m, length, width = strips.shape
    total = strips.copy()
    for i in range(1, length):
        above = total[:, i - 1]
        best = above.copy()
        best[:, 1:] = np.minimum(best[:, 1:], above[:, :-1])
        best[:, :-1] = np.minimum(best[:, :-1], above[:, 1:])
        total[:, i] += best
    path = np.empty((m, length), dtype=np.int64)
    path[:, -1] = total[:, -1].argmin(axis=1)
    every = np.arange(m)
    for i in range(length - 2, -1, -1):
        below = path[:, i + 1]
        options = np.stack([np.maximum(below - 1, 0), below, np.minimum(below + 1, width - 1)], 1)
        values = np.take_along_axis(total[:, i], options, axis=1)
        path[:, i] = options[every, values.argmin(axis=1)]
    return path


def _soften(shows: np.ndarray) -> np.ndarray:
    """A [1, 2, 1] / 4 blur along both axes of each (P, P) mask: a one-pixel soft edge."""
    padded = np.pad(shows, ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows = 0.25 * padded[:, :-2] + 0.5 * padded[:, 1:-1] + 0.25 * padded[:, 2:]
    return 0.25 * rows[:, :, :-2] + 0.5 * rows[:, :, 1:-1] + 0.25 * rows[:, :, 2:]


# --- finishing -------------------------------------------------------------------------


def match_colour(
    picture: np.ndarray, known: np.ndarray, band_px: int, strength: float = 1.0
) -> np.ndarray:
    """The unknown part's Lab statistics moved ``strength`` of the way to the known part's, in
    two bands split at ``band_px``: the mean, the spread of the coarse band (the layout: large
    light and dark areas, colour regions) and the spread of the fine band (texture), each per
    channel, with gains held to 1/MAX_GAIN..MAX_GAIN (1/CHROMA_GAIN..CHROMA_GAIN for a and
    b); the fine band's lightness target is raised by :func:`shrink_compensation`. Matching
    the bands separately keeps the picture's balance of structure and texture: a flat border
    gets its large areas back rather than louder noise."""
    border = ~known
    lab = cv2.cvtColor(np.clip(picture, 0, 255) / 255.0, cv2.COLOR_RGB2Lab)
    factor = max(2, band_px)
    # Border pixels as (N, 3) rows; the centre's statistics on every second row and column.
    lab_b = lab[border]
    coarse_b = _lowpass(lab, border, factor)[border]
    fine_b = lab_b - coarse_b
    step = 2 if int(known[::2, ::2].sum()) >= 64 else 1
    inside = known[::step, ::step]
    lab_c = lab[::step, ::step][inside]
    coarse_c = _lowpass(lab, known, factor)[::step, ::step][inside]
    limit = np.array([MAX_GAIN, CHROMA_GAIN, CHROMA_GAIN], np.float32)
    lift = shrink_compensation(picture, known)
    mean_c = lab_c.mean(0) + np.array([lift.mean_offset_l, 0.0, 0.0], np.float32)

    def gain(target: np.ndarray, band: np.ndarray) -> np.ndarray:
        spread = np.maximum(band[::4].std(0), 1e-3)  # every 4th border pixel is plenty
        return np.clip(target.std(0) / spread, 1.0 / limit, limit).astype(np.float32)

    structure = (coarse_b - coarse_b[::4].mean(0)) * gain(coarse_c, coarse_b)
    texture = fine_b * gain(lab_c - coarse_c, fine_b)
    # Shrinking for the next keyframe takes texture away: the lightness spread the frame
    # needs to keep (the centre's, times the lift) is made up in the structure, which keeps,
    # and what that cannot give (its gain is held to MAX_GAIN) by both bands, up to 1.5 x.
    wanted = float(lab_c[:, 0].std()) * lift.spread_factor
    x = _spread_gain(structure[:, 0], texture[:, 0], wanted)
    y = float(
        np.clip(wanted / max(float((x * structure[:, 0] + texture[:, 0]).std()), 1e-3), 1, 1.5)
    )
    structure[:, 0] *= x * y
    texture[:, 0] *= y
    lab_b = lab_b + strength * (mean_c + structure + texture - lab_b)
    rgb = _lab_to_rgb(lab_b)
    # Colours outside the gamut were clipped, which moves the mean (dark texture clipped at
    # black lifts it): shift once more by what is left.
    again = _convert_rows(rgb[::4] / 255.0, cv2.COLOR_RGB2Lab).mean(0)
    lab_b += strength * (mean_c - again)
    out = picture.copy()
    out[border] = _lab_to_rgb(lab_b)
    return out


def _spread_gain(structure: np.ndarray, texture: np.ndarray, wanted: float) -> float:
    """The gain x >= 1 on ``structure`` that gives x * structure + texture the standard
    deviation ``wanted`` (a quadratic in x), at most MAX_GAIN."""
    s, t = structure - structure.mean(), texture - texture.mean()
    a, b, c = float(np.mean(s * s)), 2.0 * float(np.mean(s * t)), float(np.mean(t * t))
    c -= wanted**2
    if a < 1e-9 or c >= 0:
        return 1.0
    root = (-b + np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    return float(np.clip(root, 1.0, MAX_GAIN))


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """(N, 3) Lab rows to RGB 0..255, clipped to the gamut."""
    return np.clip(_convert_rows(lab, cv2.COLOR_Lab2RGB), 0.0, 1.0) * 255.0


def _convert_rows(rows: np.ndarray, code: int) -> np.ndarray:
    """``cv2.cvtColor`` of (N, 3) float32 rows, laid out as a picture 512 wide (OpenCV
    converts an (N, 1, 3) column 15 times slower: it splits work by rows)."""
    n = len(rows)
    width = 512
    padded = np.zeros((-(-n // width) * width, 3), np.float32)
    padded[:n] = rows
    return cv2.cvtColor(padded.reshape(-1, width, 3), code).reshape(-1, 3)[:n]


@dataclass(frozen=True)
class ShrinkCompensation:
    """What the border must make up for the shrinking of the previous keyframe into the
    centre: a factor on its lightness spread and an offset on its mean lightness."""

    spread_factor: float = 1.0
    mean_offset_l: float = 0.0  # L units


def shrink_compensation(picture: np.ndarray, known: np.ndarray) -> ShrinkCompensation:
    """Keep the whole frame's lightness from drifting. The centre is the previous keyframe
    shrunk, which took away its finest detail: the centre's lightness deviation is about rho
    times the previous keyframe's, and its mean about delta above it (averaging RGB and then
    taking L lifts the mean: L is concave), with rho and delta measured by shrinking the
    centre once more (the same loss, one octave down). With a share ``a`` of border, the frame
    keeps the previous keyframe's statistics when the border's variance is
    (1 / rho^2 - (1 - a)) / a times the centre's and its mean delta / a below it. None of
    this where the known part is not a rectangle; the factor at most MAX_LIFT, the offset at
    most 3 L."""
    rows, cols = np.flatnonzero(known.any(1)), np.flatnonzero(known.any(0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    centre = picture[box]
    if not known[box].all() or min(centre.shape[:2]) < 4:
        return ShrinkCompensation()
    half = (centre.shape[1] // 2, centre.shape[0] // 2)
    small = cv2.resize(centre, half, interpolation=cv2.INTER_AREA)
    to_l = lambda a: cv2.cvtColor(a / 255.0, cv2.COLOR_RGB2Lab)[..., 0]  # noqa: E731
    big_l, small_l = to_l(centre), to_l(small)
    rho = float(small_l.std()) / float(big_l.std()) if big_l.std() > 1e-3 else 1.0
    share = max(1.0 - float(known.mean()), 1e-3)
    variance = (1.0 / max(rho, 0.5) ** 2 - (1.0 - share)) / share
    factor = float(np.clip(np.sqrt(max(variance, 1.0)), 1.0, MAX_LIFT))
    delta = float(small_l.mean() - big_l.mean())
    return ShrinkCompensation(factor, float(np.clip(-delta / share, -3.0, 3.0)))


def _blend_seam(picture: np.ndarray, original: np.ndarray, known: np.ndarray, patch: int):
    """Hide the edge of a rectangular known part: the colour offset between the mirror image
    of the known edge and the border next to it (over half a patch) is spread outward,
    fading over two patches, and the first SEAM_MIRROR_PX pixels blend into the mirror image.
    Other known shapes are left as they are."""
    rows, cols = np.flatnonzero(known.any(1)), np.flatnonzero(known.any(0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if not known[y0:y1, x0:x1].all():
        return picture
    h, w = known.shape
    mirror = cv2.copyMakeBorder(
        original[y0:y1, x0:x1], y0, h - y1, x0, w - x1, cv2.BORDER_REFLECT_101
    )
    yy, xx = np.ogrid[0:h, 0:w]
    away = (
        np.maximum(np.maximum(y0 - yy, yy - (y1 - 1)), np.maximum(x0 - xx, xx - (x1 - 1)))
        .clip(0)
        .astype(np.float32)
    )  # Chebyshev distance to the rectangle, 0 inside
    band = ((away > 0) & (away <= max(1, patch // 2))).astype(np.float32)
    sigma = max(1.0, patch / 2)
    offset = cv2.GaussianBlur((mirror - picture) * band[..., None], (0, 0), sigma)
    offset /= np.maximum(cv2.GaussianBlur(band, (0, 0), sigma), 1e-3)[..., None]
    fade = np.clip(1.0 - away / (2.0 * patch), 0.0, 1.0) * (away > 0)
    out = picture + fade[..., None] * offset
    blend = np.clip(1.0 - away / (SEAM_MIRROR_PX + 1), 0.0, 1.0) * (away > 0)
    return out + blend[..., None] * (mirror - out)
