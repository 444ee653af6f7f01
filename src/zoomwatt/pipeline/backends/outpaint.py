"""Weight-free outpainting: multi-scale patch-based completion from an exemplar picture.

:func:`outpaint` fills the masked part of a picture (in a zoom: the border around the shrunken
previous keyframe) with content made of an exemplar's patches, by the expectation-maximization
completion of Wexler, Shechtman and Irani (2007) with PatchMatch (Barnes et al., 2009) as the
nearest-neighbour search (:mod:`~zoomwatt.pipeline.backends.patchmatch`):

1. **The exemplar.** In a zoom, the first keyframe (the start photo, or the picture made from
   the prompt) at its own scale, every keyframe: the border is then made of the same material
   as the picture the zoom started from, at the size its features had there, so the zoom
   neither shrinks the picture into noise keyframe after keyframe nor drifts away from it (a
   border copied from the keyframe before, which was copied from the one before, degenerates
   within a few keyframes). Without one, the known part magnified by the zoom factor.
   Patches come from the exemplar's outer ring, and in it from the materials its edge is made
   of and its detailed part (:mod:`~zoomwatt.pipeline.backends.surround`): a zoom out of a cup
   on a table continues the table, not the saucer the frame cuts.
2. **Coarse to fine.** The picture (grown past its edges by a margin the completion fills
   and the crop drops, so that the frame's outer rows are made like any other), its known
   mask and the exemplar are halved until the
   shorter side is about ``coarsest_px``. At the coarsest level every unknown pixel starts at
   a random exemplar patch; at every level, a few times: PatchMatch finds each patch that
   covers an unknown pixel its nearest exemplar patch (descriptors of its low frequencies; the
   patch reaches into the known part near the seam, so what continues there is what fits the
   known edge: structures carry across), and every unknown pixel becomes the weighted mean of
   what the patches covering it say (votes near the known part weigh more). The field of
   matches is carried to the next level at twice the coordinates.
3. **The finest level(s)** take no search: the field, enlarged, copies exemplar pixels one to
   one (no blur).
4. **Finishing.** The border's Lab mean and spread are moved to the exemplar's (so brightness
   and contrast keep to the start picture's keyframe after keyframe) and the pasted edge is
   blended over a few pixels into its mirror image (no seam).

Large pieces of the exemplar are not copied whole: the coarse levels are random draws and every
level re-matches small patches, so matches stay coherent over tens of pixels, not over objects.
Everything is numpy and OpenCV; the same inputs and seed give the same pixels.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends import patchmatch as pm
from zoomwatt.pipeline.backends.surround import detailed_mask, surround_mask

SEAM_MIRROR_PX = 3  # the first pixels outside the pasted edge blend into its mirror image
CONFIDENCE_BASE = 1.3  # a vote weighs 1.3^-d, d its patch centre's distance to the known part
MIN_CONFIDENCE = 0.05
VOTE_PERCENTILE = 75  # vote weights exp(-cost / 2 s), s this percentile of the level's costs
BAND_SIGMA_PX = 4.0  # the colour match's coarse band: Gaussian of 4 px at 512 px
# Bounds of the colour match's gains on the border's spreads. A completion from coffee's table
# alone keeps a third of the material's L spread (raw border 47 +- 7 L, 512 px) and half its
# chroma spread (a and b 5-8 against the crop's 15-16; the photo's own table beyond its square
# crop has 10). Coarse L up to 4 gives the table's own L spread (0.58 of the first keyframe's;
# the real table beyond the crop 0.56); 8 passes for more but reads as ridged rock.
MAX_COARSE_GAIN = 4.0  # on the coarse band's L spread (light and dark areas)
MAX_FINE_GAIN = 2.0  # on the fine band's (texture: more turns wood grain to metal)
MAX_CHROMA_GAIN = 2.5  # a and b spreads, both bands (1.3 left coffee's table grey-brown; 2
# left its border's chroma spread at 7.7 against 10 for the real table beyond the crop)
EDGE_PAD_SHARE = 1 / 16  # the completion reaches this far past the frame (32 px at 512)
VOTE_EVERY_BELOW_PX = 64  # levels this small vote from every patch offset
VOTE_SPARSE_FROM_PX = 128  # levels this large from every third
MIN_UNSEARCHED_PX = 192  # smaller levels are always searched (they are cheap, and coarse)
COARSEST_PATCH_PX = 5  # at the coarsest level a patch is a fifth of a 32 px side
EXEMPLAR_RING = 0.25  # patch centres in the exemplar's outer quarter (a zoom's border ring)
MIN_SOURCE_SHARE = 0.1  # a narrowing of that ring that leaves less of it is not applied


@dataclass(frozen=True)
class PatchSettings:
    """What decides the pixels of :func:`outpaint`; the defaults are the classical backend's
    ``patch`` method."""

    patch_px: int = 7  # patch side at every level
    coarsest_px: int = 32  # the pyramid is halved while the shorter side stays >= this
    iterations: tuple[int, ...] = (6, 5, 4, 2)  # EM rounds per level, coarsest first; the
    # last figure holds for the finer levels that are searched
    unsearched_levels: int = 1  # finest levels made by enlarging the field only (1: full
    # size), among those of MIN_UNSEARCHED_PX and more
    radius_px: int = 6  # random search radius at levels of 128 px and more (else half the side)
    colour_match: float = 1.0  # 0..1: how far the border's Lab statistics move to the target

    def check(self) -> None:
        if not (isinstance(self.patch_px, int) and 3 <= self.patch_px <= 15 and self.patch_px % 2):
            raise InputError("patch_px", self.patch_px, "an odd patch side from 3 to 15")
        if not (isinstance(self.coarsest_px, int) and 8 <= self.coarsest_px <= 512):
            raise InputError("coarsest_px", self.coarsest_px, "a side from 8 to 512 pixels")
        rounds = self.iterations
        if not (rounds and all(isinstance(r, int) and 0 <= r <= 50 for r in rounds)):
            raise InputError("iterations", rounds, "a tuple of 0 to 50 rounds per level")
        if self.unsearched_levels not in (0, 1, 2, 3):
            raise InputError("unsearched_levels", self.unsearched_levels, "0, 1, 2 or 3")
        if not 1 <= self.radius_px <= 64:
            raise InputError("radius_px", self.radius_px, "a radius from 1 to 64 pixels")
        if not 0.0 <= self.colour_match <= 1.0:
            raise InputError("colour_match", self.colour_match, "a value from 0 to 1")


def outpaint(
    image: np.ndarray,
    mask: np.ndarray,
    seed: int,
    settings: PatchSettings | None = None,
    exemplar: np.ndarray | None = None,
) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with the pixels where ``mask`` (H, W) > 0 synthesized from
    ``exemplar`` ((h, w, 3) uint8; None: the known part magnified); known pixels are
    returned unchanged."""
    # 1. inputs; 2. the exemplar; 3. the completion; 4. finishing
    settings = settings or PatchSettings()
    _check_inputs(image, mask, seed, exemplar)
    settings.check()
    known = mask == 0
    if known.all():
        return image.copy()
    picture = image.astype(np.float32)
    key = None if exemplar is None else _content_key(exemplar, known.shape)
    source = _exemplar(picture, known, exemplar, settings.patch_px, key)
    if source is None:  # nothing known and no exemplar: nothing to take patches from
        return cv2.inpaint(image, mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    rng = np.random.default_rng(seed)
    pad = _edge_margin(known.shape, settings.patch_px)  # completed past the edges, then cropped
    grown = cv2.copyMakeBorder(picture, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    grown_known = np.pad(known, pad, constant_values=False)
    result = complete(grown, grown_known, source, rng, settings, key)[pad:-pad, pad:-pad]
    if settings.colour_match > 0:
        h = known.shape[0]  # the exemplar at full size, not the strip; its colours where
        reference, sources = source[0][:h], source[1][:h]  # the border's patches come from
        result = match_statistics(result, ~known, reference, settings.colour_match, sources)
    result = _blend_seam(result, picture, known)
    out = np.clip(np.rint(result), 0, 255).astype(np.uint8)
    out[known] = image[known]
    return out


def _check_inputs(image: object, mask: object, seed: object, exemplar: object) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3):
        raise InputError("image", getattr(image, "shape", image), "an (H, W, 3) uint8 array")
    if image.shape[2] != 3:
        raise InputError("image", image.shape, "an (H, W, 3) uint8 array")
    if not (isinstance(mask, np.ndarray) and mask.shape == image.shape[:2]):
        shape = getattr(mask, "shape", type(mask).__name__)
        raise InputError("mask", shape, f"an array of the image's shape {image.shape[:2]}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InputError("seed", seed, "a non-negative integer")
    if exemplar is not None and not (
        isinstance(exemplar, np.ndarray)
        and exemplar.dtype == np.uint8
        and exemplar.ndim == 3
        and exemplar.shape[2] == 3
        and min(exemplar.shape[:2]) >= 8
    ):
        shape = getattr(exemplar, "shape", type(exemplar).__name__)
        raise InputError("exemplar", shape, "None or an (H, W, 3) uint8 picture of 8 px or more")


def _exemplar(
    picture: np.ndarray,
    known: np.ndarray,
    exemplar: np.ndarray | None,
    patch: int,
    key: tuple | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Where patches come from, float32, and where in it their centres may be: the exemplar
    at the picture's size (a zoom's first keyframe is) above a strip of it at half size,
    beside that strip turned half a turn (the same orientations, other neighbours); in each,
    only the centres :func:`_sources` allows (the outer ring, EXEMPLAR_RING of the shorter
    side deep, narrowed to what surrounds the subject). The half-size copy holds the
    picture's features at the size they have in the centre next to the seam, the full-size
    one at the size they had in the first keyframe. Without an exemplar, the known part's
    bounding box magnified to the frame (bicubic) stands in for it; None when nothing is
    known. ``key``: the exemplar's content key, to reuse its allowed centres."""
    h, w = known.shape
    if exemplar is not None:
        if exemplar.shape[:2] != (h, w):
            exemplar = cv2.resize(exemplar, (w, h), interpolation=cv2.INTER_AREA)
        full = exemplar.astype(np.float32)
    elif known.any():
        rows, cols = np.flatnonzero(known.any(1)), np.flatnonzero(known.any(0))
        box = picture[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        full = cv2.resize(box, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        return None
    half = cv2.resize(full, (w // 2, max(1, h // 2)), interpolation=cv2.INTER_AREA)
    strip = np.concatenate([half, half[::-1, ::-1]], axis=1)
    strip = cv2.resize(strip, (w, strip.shape[0]), interpolation=cv2.INTER_NEAREST)
    allowed = _cached_sources(full, patch, key)
    ring_half = (
        cv2.resize(allowed.astype(np.float32), half.shape[1::-1], interpolation=cv2.INTER_AREA)
        > 0.5
    )
    ring_strip = np.concatenate([ring_half, ring_half[::-1, ::-1]], axis=1)
    ring_strip = cv2.resize(
        ring_strip.astype(np.uint8), (w, strip.shape[0]), interpolation=cv2.INTER_NEAREST
    ).astype(bool)
    atlas = np.ascontiguousarray(np.concatenate([full, strip], axis=0))
    return atlas, np.concatenate([allowed, ring_strip], axis=0)


def _cached_sources(full: np.ndarray, patch: int, key: tuple | None) -> np.ndarray:
    """:func:`_sources`, kept for the last few exemplars (a zoom passes the same one every
    keyframe; 45 ms at 512 px). Read-only."""
    if key is None:
        return _sources(full, patch)

    def make() -> np.ndarray:
        allowed = _sources(full, patch)
        allowed.setflags(write=False)
        return allowed

    return _remember(_SOURCES_CACHE, (*key, patch), CACHED_EXEMPLARS, make)


def _sources(full: np.ndarray, patch: int) -> np.ndarray:
    """(h, w) bool: where in the full-size exemplar patch centres may be: its outer ring,
    narrowed to the materials of its edge (what surrounds the subject: more table, not more
    saucer) and to its detailed part (flat patches fit the average of any votes, so a
    completion collapses onto them: an out-of-focus corner fills the whole border); each
    narrowing only where it leaves MIN_SOURCE_SHARE of the ring."""
    allowed = _ring(full.shape[:2])
    floor = MIN_SOURCE_SHARE * allowed.sum()
    for narrower in (surround_mask(full, margin_px=patch // 2), detailed_mask(full, patch)):
        if (allowed & narrower).sum() >= floor:
            allowed = allowed & narrower
    return allowed


def _ring(shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the pixels less than EXEMPLAR_RING of the shorter side from the edge."""
    h, w = shape
    depth = max(1, round(EXEMPLAR_RING * min(h, w)))
    ring = np.ones((h, w), bool)
    ring[depth : h - depth, depth : w - depth] = False
    return ring


def zoom_factor(known: np.ndarray) -> float:
    """Side of the frame over side of the known part's bounding box (2 for a zoom's default
    border), between 1 and 4."""
    rows, cols = np.flatnonzero(known.any(1)), np.flatnonzero(known.any(0))
    tall, wide = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    return float(np.clip(min(known.shape[0] / tall, known.shape[1] / wide), 1.0, 4.0))


# --- the completion --------------------------------------------------------------------


@dataclass
class _Level:
    """One level of the pyramid: the picture (known pixels exact), what is known, the
    exemplar and where in it patch centres may be."""

    picture: np.ndarray  # (h, w, 3) float32
    known: np.ndarray  # (h, w) bool
    exemplar: np.ndarray  # (he, we, 3) float32
    allowed: np.ndarray  # (he, we) bool


def pyramid(
    picture: np.ndarray,
    known: np.ndarray,
    exemplar: tuple[np.ndarray, np.ndarray],
    coarsest: int,
) -> list[_Level]:
    """Levels from the finest (the inputs) to the coarsest, each half the one before; a pixel
    is known at a level when all it covers was known, allowed when most of it was."""
    levels = [_Level(picture, known, *exemplar)]
    while min(levels[-1].known.shape) // 2 >= coarsest and min(levels[-1].exemplar.shape[:2]) >= 16:
        last = levels[-1]
        h, w = last.known.shape
        half = (w // 2, h // 2)
        cover = cv2.resize(last.known.astype(np.float32), half, interpolation=cv2.INTER_AREA)
        ex = last.exemplar
        ex_half = (ex.shape[1] // 2, ex.shape[0] // 2)
        allowed = cv2.resize(last.allowed.astype(np.float32), ex_half, interpolation=cv2.INTER_AREA)
        levels.append(
            _Level(
                cv2.resize(last.picture, half, interpolation=cv2.INTER_AREA),
                cover > 0.999,
                cv2.resize(ex, ex_half, interpolation=cv2.INTER_AREA),
                allowed > 0.5,
            )
        )
    return levels


def complete(
    picture: np.ndarray,
    known: np.ndarray,
    exemplar: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    settings: PatchSettings,
    cache_key: tuple | None = None,
) -> np.ndarray:
    """The picture with its unknown part made of exemplar patches, coarse to fine (see the
    module docstring); (H, W, 3) float32. ``exemplar``: the pixels and where patch centres may
    be in them; ``cache_key``: its content's, to reuse the descriptors of its patches made for
    an earlier keyframe (a zoom passes the same exemplar every keyframe)."""
    levels = pyramid(picture, known, exemplar, settings.coarsest_px)
    unsearched = min(settings.unsearched_levels, len(levels) - 1)
    field, estimate = None, None
    for depth, level in enumerate(reversed(levels)):  # coarsest first
        patch = min(settings.patch_px, COARSEST_PATCH_PX) if depth == 0 else settings.patch_px
        source = _source(level, patch, None if cache_key is None else (*cache_key, depth))
        estimate = level.picture.copy()
        unknown = ~level.known
        if field is None:
            field = pm.Field.random(unknown.shape, source, rng)
            weight = np.ones(unknown.shape, np.float32)
        else:
            field = field.upsampled(unknown.shape, source)
            weight = _confidence(level.known)
        if depth >= len(levels) - unsearched and min(unknown.shape) >= MIN_UNSEARCHED_PX:
            # enlarged field only: copy, one to one
            estimate[unknown] = pm.copy(field, level.exemplar)[unknown]
            continue
        stride = _vote_stride(unknown.shape)
        estimate[unknown] = pm.vote(field, level.exemplar, weight, patch, stride)[0][unknown]
        rounds = settings.iterations[min(depth, len(settings.iterations) - 1)]
        radius = settings.radius_px if min(unknown.shape) >= 128 else max(unknown.shape) // 2
        _refine(estimate, level, source, field, rng, (rounds, radius, patch, depth == 0))
        if depth == len(levels) - 1:  # the finest level: copied, not voted (votes blur)
            estimate[unknown] = pm.copy(field, level.exemplar)[unknown]
    return estimate


def _edge_margin(shape: tuple[int, int], patch_px: int) -> int:
    """How far past the frame's edges :func:`outpaint` completes the picture (unknown there)
    before cropping it back: EDGE_PAD_SHARE of the shorter side, at least half a patch. At
    the frame's edge a patch sees the picture mirrored, and the mirror-symmetric patches that
    fit it best are flat ones: without the margin the completion's outer rows turned to the
    darkest flat material of the exemplar (coffee: the bottom 16 rows at L 23-26 against 42
    for the whole frame, 2026-12-03), and the next keyframe, shrinking that frame into its
    centre, drew a dark line along the seam, one more rectangle each keyframe. With the margin
    the outer rows are inside the completion like any other: L 37-40 with 16 px at 512 px,
    44-45 with 32 (the pixels grow by 27%: the 9-keyframe zoom took 3.1 s against 2.8)."""
    return max(patch_px // 2 + 1, round(EDGE_PAD_SHARE * min(shape)))


def _refine(
    estimate: np.ndarray,
    level: _Level,
    source: pm.Source,
    field: pm.Field,
    rng: np.random.Generator,
    plan: tuple[int, int, int, bool],
) -> None:
    """``rounds`` of search-and-vote on one level, in place (``plan``: rounds, search radius,
    patch side, whether the field is a fresh random one). The active pixels are those whose
    patch covers an unknown pixel."""
    rounds, radius, patch, fresh_field = plan
    unknown = ~level.known
    grown = cv2.dilate(unknown.astype(np.uint8), np.ones((patch, patch), np.uint8))
    active = np.flatnonzero(grown)
    confidence = _confidence(level.known).reshape(-1)
    for round_ in range(rounds):
        target = pm.descriptors(estimate, patch)
        fresh = fresh_field and round_ == 0
        cost = pm.search(target, source, field, active, rng, 2 if fresh else 1, radius, fresh)
        spread = float(np.percentile(cost, VOTE_PERCENTILE)) + 1e-6
        weight = np.zeros(unknown.size, np.float32)
        weight[active] = np.exp(-cost / (2.0 * spread)) * confidence[active]
        stride = _vote_stride(unknown.shape)
        voted, _ = pm.vote(field, level.exemplar, weight.reshape(unknown.shape), patch, stride)
        estimate[unknown] = voted[unknown]


def _vote_stride(shape: tuple[int, int]) -> int:
    """Votes from every patch offset below VOTE_EVERY_BELOW_PX, every second one up to
    VOTE_SPARSE_FROM_PX, every third one above (with 7 px patches: 49, 16 and 9 votes a
    pixel; the patches voting still overlap)."""
    side = min(shape)
    return 1 if side < VOTE_EVERY_BELOW_PX else (2 if side < VOTE_SPARSE_FROM_PX else 3)


def _confidence(known: np.ndarray) -> np.ndarray:
    """Vote weights by distance to the known part: CONFIDENCE_BASE^-d, at least
    MIN_CONFIDENCE."""
    distance = cv2.distanceTransform((~known).astype(np.uint8), cv2.DIST_L2, 3)
    return np.maximum(CONFIDENCE_BASE**-distance, MIN_CONFIDENCE).astype(np.float32)


# --- finishing -------------------------------------------------------------------------


def match_statistics(
    picture: np.ndarray,
    region: np.ndarray,
    reference: np.ndarray,
    strength: float = 1.0,
    chroma_from: np.ndarray | None = None,
) -> np.ndarray:
    """``picture`` with the Lab statistics of its ``region`` moved ``strength`` of the way to
    targets, per channel, in two bands split at BAND_SIGMA_PX (scaled with the frame): the
    fine band (texture) to the larger of the spreads ``reference`` and the rest of the picture
    (the known centre the border continues) have in it, within 1/MAX_FINE_GAIN..
    MAX_FINE_GAIN; the mean to
    ``reference``'s ((h, w, 3) float32 RGB, the exemplar), and the coarse band (light and
    dark areas, colour regions) to what makes the whole spread ``reference``'s, within
    1/MAX_COARSE_GAIN..MAX_COARSE_GAIN (a and b: MAX_CHROMA_GAIN in both bands). A patch
    completion averages votes, which flattens coarse areas and dulls texture. Statistics are
    taken on every second row and column (every one in a thin border). ``chroma_from``:
    where in ``reference`` the a and b targets are taken ((h, w) bool; None: everywhere):
    lightness keeps to the whole first keyframe (no wash-out), colour to the material the
    border is made of (a grey table round a red cup stays grey)."""
    to_lab = lambda rgb: cv2.cvtColor(np.clip(rgb, 0, 255) / 255.0, cv2.COLOR_RGB2Lab)  # noqa: E731
    lab = to_lab(picture)
    sigma = BAND_SIGMA_PX * max(1.0, min(region.shape) / 512.0)
    coarse = cv2.GaussianBlur(lab, (0, 0), sigma)
    fine = lab - coarse
    step = 2 if int(region[::2, ::2].sum()) >= 64 else 1  # a thin border: every pixel
    inside, outside = region[::step, ::step], ~region[::step, ::step]
    coarse_s, fine_s = coarse[::step, ::step][inside], fine[::step, ::step][inside]
    ref_mean, ref_std, want_f = _reference_statistics(reference, sigma)
    if chroma_from is not None and chroma_from.any():
        chroma_targets = _reference_statistics(reference, sigma, chroma_from)
        for whole, material in zip((ref_mean, ref_std, want_f), chroma_targets, strict=True):
            whole[1:] = material[1:]
    mean_c = coarse_s.mean(0)
    s_c, s_f = np.maximum(coarse_s.std(0), 1e-3), np.maximum(fine_s.std(0), 1e-3)
    if outside.any():  # at least the detail of the centre the border continues
        want_f = np.maximum(want_f, fine[::step, ::step][outside].std(0))
    chroma = np.array([1.0, MAX_CHROMA_GAIN, MAX_CHROMA_GAIN], np.float32)
    limit_f = np.where(chroma > 1.0, chroma, MAX_FINE_GAIN)
    g_f = np.clip(want_f / s_f, 1.0 / limit_f, limit_f)
    limit_c = np.where(chroma > 1.0, chroma, MAX_COARSE_GAIN)
    g_c = np.sqrt(np.maximum(ref_std**2 - (g_f * s_f) ** 2, 0.0)) / s_c
    g_c = np.clip(g_c, 1.0 / limit_c, limit_c)
    # mean_ref + g_c (coarse - mean_c) + g_f (lab - coarse), blended by strength
    a = (1.0 - strength) + strength * g_f
    b = strength * (g_c - g_f)
    c = strength * (ref_mean - g_c * mean_c)
    moved = lab * a.astype(np.float32) + coarse * b.astype(np.float32) + c.astype(np.float32)
    rgb = np.clip(cv2.cvtColor(moved, cv2.COLOR_Lab2RGB), 0.0, 1.0) * 255.0
    return np.where(region[..., None], rgb, picture)


_REFERENCE_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_SOURCE_CACHE: dict[tuple, pm.Source] = {}
_SOURCES_CACHE: dict[tuple, np.ndarray] = {}
_CACHE_LOCK = threading.Lock()  # zooms in two threads of one process share the caches
CACHED_EXEMPLARS = 4  # the caches keep the figures of this many exemplars' levels


def _content_key(exemplar: np.ndarray, shape: tuple[int, int]) -> tuple:
    """What identifies an exemplar's patches for a frame: its bytes' digest and the sizes."""
    digest = hashlib.blake2b(np.ascontiguousarray(exemplar).tobytes(), digest_size=16).digest()
    return (exemplar.shape, shape, digest)


def _source(level: _Level, patch: int, key: tuple | None) -> pm.Source:
    """The level's exemplar as a patch source, reused from an earlier call with the same
    exemplar (same pixels: same descriptors; the cache holds the last few)."""
    if key is None:
        return pm.Source.of(level.exemplar, patch, level.allowed)
    key = (*key, patch)
    with _CACHE_LOCK:
        if key not in _SOURCE_CACHE:
            if len(_SOURCE_CACHE) >= 8 * CACHED_EXEMPLARS:
                _SOURCE_CACHE.pop(next(iter(_SOURCE_CACHE)))
            source = pm.Source.of(level.exemplar, patch, level.allowed)
            source.features  # noqa: B018 - made once, under the lock
            _SOURCE_CACHE[key] = source
        return _SOURCE_CACHE[key]


def _reference_statistics(
    reference: np.ndarray, sigma: float, where: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lab mean, spread and fine-band spread of ``reference`` (every second row and column;
    only ``where`` it is True, if given): copies of the figures kept for the exemplar a zoom
    passes every keyframe (a cache of the last few, by content: the same pixels give the same
    figures)."""
    digest = hashlib.blake2b(reference.tobytes(), digest_size=16)
    if where is not None:
        digest.update(np.packbits(where).tobytes())
    key = (reference.shape, sigma, where is None, digest.digest())

    def make() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lab = cv2.cvtColor(np.clip(reference, 0, 255) / 255.0, cv2.COLOR_RGB2Lab)
        step = 1 if where is not None and not where[::2, ::2].any() else 2
        every = (np.ones(lab.shape[:2], bool) if where is None else where)[::step, ::step]
        fine = (lab - cv2.GaussianBlur(lab, (0, 0), sigma))[::step, ::step][every]
        ref = lab[::step, ::step][every]
        return ref.mean(0), ref.std(0), fine.std(0)

    # whole and material: two entries an exemplar
    figures = _remember(_REFERENCE_CACHE, key, 2 * CACHED_EXEMPLARS, make)
    return tuple(a.copy() for a in figures)


def _remember(cache: dict[tuple, Any], key: tuple, limit: int, make: Callable[[], Any]) -> Any:
    """``cache[key]``, made by ``make()`` (outside the lock) and kept if absent; the oldest
    entry goes when the cache holds ``limit``."""
    with _CACHE_LOCK:
        if key in cache:
            return cache[key]
    value = make()
    with _CACHE_LOCK:
        if len(cache) >= limit:
            cache.pop(next(iter(cache)))
        cache[key] = value
    return value


def _blend_seam(picture: np.ndarray, original: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Hide the edge of a rectangular known part: the first SEAM_MIRROR_PX pixels outside it
    blend into its mirror image, and the colour offset between the mirror image and the
    border next to it is spread a little way (8 px, fading over 16) into the border. Other
    known shapes are left as they are."""
    if not known.any():
        return picture
    rows, cols = np.flatnonzero(known.any(1)), np.flatnonzero(known.any(0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if not known[y0:y1, x0:x1].all():
        return picture
    h, w = known.shape
    band_px = 8
    mirror = cv2.copyMakeBorder(
        original[y0:y1, x0:x1], y0, h - y1, x0, w - x1, cv2.BORDER_REFLECT_101
    )
    yy, xx = np.ogrid[0:h, 0:w]
    away = (
        np.maximum(np.maximum(y0 - yy, yy - (y1 - 1)), np.maximum(x0 - xx, xx - (x1 - 1)))
        .clip(0)
        .astype(np.float32)
    )  # Chebyshev distance to the rectangle, 0 inside
    band = ((away > 0) & (away <= band_px // 2)).astype(np.float32)
    sigma = band_px / 2
    offset = cv2.GaussianBlur((mirror - picture) * band[..., None], (0, 0), sigma)
    offset /= np.maximum(cv2.GaussianBlur(band, (0, 0), sigma), 1e-3)[..., None]
    fade = np.clip(1.0 - away / (2.0 * band_px), 0.0, 1.0) * (away > 0)
    out = picture + fade[..., None] * offset
    blend = np.clip(1.0 - away / (SEAM_MIRROR_PX + 1), 0.0, 1.0) * (away > 0)
    return out + blend[..., None] * (mirror - out)
