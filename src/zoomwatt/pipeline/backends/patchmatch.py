"""PatchMatch (Barnes et al., 2009) on patch descriptors, vectorized with numpy and OpenCV.

The pieces of the multi-scale completion in :mod:`zoomwatt.pipeline.backends.outpaint`:

- :func:`descriptors`: every pixel's square patch as a short vector, its projection on the
  lowest 2-D cosine (DCT) frequencies of the luma and the two chroma channels. The basis is
  orthonormal, so the squared distance of two descriptors is the squared difference of the
  patches' low frequencies; it is fixed (no fitting to the picture) and separable, so each
  coefficient is one ``cv2.sepFilter2D``.
- :class:`Field`: the nearest-neighbour field, the source patch centre of every target pixel.
- :func:`search`: improves a field where the target is active, in passes of jump-flood
  propagation (a neighbour's match, shifted, is tried: the coherent continuation) and random
  search around the current match (halving radius), all pixels at once.
- :func:`vote`: the target rebuilt from the field, every pixel the weighted mean of what the
  patches covering it say it is.

Ties and draws come from the caller's seeded generator: the same inputs give the same field.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# RGB to an opponent space (luma, blue-yellow, red-green; BT.601 weights): descriptors weigh
# luma detail more than chroma detail, as the eye does.
_OPPONENT = np.array(
    [[0.299, 0.587, 0.114], [-0.169, -0.331, 0.5], [0.5, -0.419, -0.081]], np.float32
)
LUMA_ORDER = 3  # luma DCT coefficients with u + v <= 3: 10 of them
CHROMA_ORDER = 1  # chroma: u + v <= 1, 3 per channel
# jump-flood distances of a search's first pass from a random field, of a first pass from an
# enlarged field (already coherent) and of the passes after it, pixels
PROPAGATION_STEPS = ((8, 4, 2, 1), (4, 1), (2, 1))
COHERENCE_BIAS = [0.15]  # a random candidate must beat the match by this fraction


def _dct_row(size: int, frequency: int) -> np.ndarray:
    row = np.cos(np.pi * (np.arange(size) + 0.5) * frequency / size)
    return (row / np.linalg.norm(row)).astype(np.float32)


@lru_cache(maxsize=16)
def dct_basis(patch: int) -> tuple[tuple[int, np.ndarray, np.ndarray], ...]:
    """(opponent channel, vertical kernel, horizontal kernel) of every descriptor coefficient
    of a ``patch`` x ``patch`` patch: luma up to LUMA_ORDER, chroma up to CHROMA_ORDER."""
    basis = []
    for channel, order in ((0, LUMA_ORDER), (1, CHROMA_ORDER), (2, CHROMA_ORDER)):
        for u in range(min(order, patch - 1) + 1):
            for v in range(min(order, patch - 1) - u + 1):
                basis.append((channel, _dct_row(patch, u), _dct_row(patch, v)))
    return tuple(basis)


def descriptors(image: np.ndarray, patch: int) -> np.ndarray:
    """(H * W, K) float32: the descriptor of the patch centred on every pixel of ``image``
    ((H, W, 3) float32 RGB); patches reaching over the edge see it mirrored."""
    opponent = cv2.transform(image, _OPPONENT)
    planes = [np.ascontiguousarray(opponent[..., c]) for c in range(3)]
    basis = dct_basis(patch)
    h, w = image.shape[:2]
    out = np.empty((h, w, len(basis)), np.float32)
    for k, (channel, column, row) in enumerate(basis):
        out[..., k] = cv2.sepFilter2D(
            planes[channel], -1, row, column, borderType=cv2.BORDER_REFLECT
        )
    return out.reshape(h * w, len(basis))


@dataclass
class Source:
    """Where patches come from: the pixels, the box of valid patch centres (every patch
    wholly inside), the centres allowed in it (None: all) and, made when first asked for,
    their descriptors."""

    pixels: np.ndarray  # (hs, ws, 3) float32
    patch: int
    low: np.ndarray  # (2,) smallest valid centre (y, x)
    high: np.ndarray  # (2,) largest
    allowed: np.ndarray | None = None  # (hs * ws,) bool
    _features: np.ndarray | None = None
    _choices: np.ndarray | None = None  # flat indices of the allowed valid centres

    @classmethod
    def of(cls, pixels: np.ndarray, patch: int, allowed: np.ndarray | None = None) -> Source:
        """``allowed``: (hs, ws) bool, where patch centres may be (None: anywhere); if it
        allows no valid centre, anywhere."""
        r = patch // 2
        hs, ws = pixels.shape[:2]
        low = np.array([min(r, (hs - 1) // 2), min(r, (ws - 1) // 2)])
        high = np.maximum(np.array([hs - 1 - r, ws - 1 - r]), low)
        source = cls(pixels, patch, low, high)
        if allowed is not None:
            inside = np.zeros((hs, ws), bool)
            inside[low[0] : high[0] + 1, low[1] : high[1] + 1] = True
            choices = np.flatnonzero(allowed & inside)
            if choices.size:
                source.allowed, source._choices = allowed.reshape(-1), choices
        return source

    @property
    def features(self) -> np.ndarray:
        """(hs * ws, K) descriptors of the source's patches."""
        if self._features is None:
            self._features = descriptors(self.pixels, self.patch)
        return self._features

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    def clamp(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.low, self.high  # minimum/maximum: np.clip's overhead is larger
        return np.minimum(np.maximum(ys, low[0]), high[0]), np.minimum(
            np.maximum(xs, low[1]), high[1]
        )

    def random(self, shape: tuple[int, ...], rng: np.random.Generator):
        if self._choices is not None:
            picks = self._choices[rng.integers(0, self._choices.size, shape)]
            ys, xs = np.divmod(picks, self.width)
            return ys.astype(np.int32), xs.astype(np.int32)
        ys = rng.integers(self.low[0], self.high[0] + 1, shape, dtype=np.int32)
        xs = rng.integers(self.low[1], self.high[1] + 1, shape, dtype=np.int32)
        return ys, xs


@dataclass
class Field:
    """The nearest-neighbour field: source patch centre (``ys``, ``xs``) of every target pixel."""

    ys: np.ndarray  # (h, w) int32
    xs: np.ndarray

    @classmethod
    def random(cls, shape: tuple[int, int], source: Source, rng: np.random.Generator) -> Field:
        return cls(*source.random(shape, rng))

    def upsampled(self, shape: tuple[int, int], source: Source) -> Field:
        """The field of the next finer level (twice the size): each pixel continues its
        parent's match at twice the coordinates, plus its own offset within the parent."""
        h, w = shape
        rows = np.minimum(np.arange(h) // 2, self.ys.shape[0] - 1)
        cols = np.minimum(np.arange(w) // 2, self.ys.shape[1] - 1)
        ys = self.ys[rows][:, cols] * 2 + (np.arange(h) % 2)[:, None]
        xs = self.xs[rows][:, cols] * 2 + (np.arange(w) % 2)[None, :]
        ys, xs = source.clamp(ys, xs)
        return Field(np.ascontiguousarray(ys, np.int32), np.ascontiguousarray(xs, np.int32))


def _cost(
    target: np.ndarray,
    features: np.ndarray,
    width: int,
    ys: np.ndarray,
    xs: np.ndarray,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """Squared descriptor distance of the active target pixels to the candidates (infinite
    where the source does not allow a centre)."""
    where = ys * width + xs
    diff = np.take(features, where, axis=0)
    diff -= target
    cost = np.einsum("nk,nk->n", diff, diff)
    return cost if allowed is None else np.where(allowed[where], cost, np.inf)


def search(
    target: np.ndarray,
    source: Source,
    field: Field,
    active: np.ndarray,
    rng: np.random.Generator,
    passes: int,
    radius: int,
    fresh: bool = True,
) -> np.ndarray:
    """Improve ``field`` at the ``active`` pixels (flat indices) of a target whose descriptors
    are ``target`` (H * W, K); returns their final costs. A pass tries, for every pixel, the
    continuation of each neighbour PROPAGATION_STEPS away (8, 4, 2, 1 in the first pass over a
    ``fresh`` random field, 4, 1 over an enlarged one, 2, 1 after), then random candidates
    around its match at ``radius``, ``radius`` / 2, ... 1."""
    h, w = field.ys.shape
    ay, ax = np.divmod(active, w)
    wanted = np.take(target, active, axis=0)
    field.ys, field.xs = np.ascontiguousarray(field.ys), np.ascontiguousarray(field.xs)
    flat_y, flat_x = field.ys.reshape(-1), field.xs.reshape(-1)  # views: writes reach the field
    ys, xs = flat_y[active], flat_x[active]
    features, width = source.features, source.width
    allowed = source.allowed
    best = _cost(wanted, features, width, ys, xs, allowed)

    def consider(cy: np.ndarray, cx: np.ndarray, handicap: float = 1.0) -> None:
        nonlocal ys, xs, best
        cost = _cost(wanted, features, width, cy, cx, allowed)
        better = cost * handicap < best
        ys, xs = np.where(better, cy, ys), np.where(better, cx, xs)
        best = np.minimum(cost, best)

    for index in range(passes):
        for step in PROPAGATION_STEPS[2 if index else (0 if fresh else 1)]:
            for dy, dx in ((step, 0), (-step, 0), (0, step), (0, -step)):
                ny, nx = np.clip(ay + dy, 0, h - 1), np.clip(ax + dx, 0, w - 1)
                there = ny * w + nx
                consider(*source.clamp(flat_y[there] - (ny - ay), flat_x[there] - (nx - ax)))
            flat_y[active], flat_x[active] = ys, xs
        r = radius
        while r >= 1:
            jump = rng.integers(-r, r + 1, (2, active.size), dtype=np.int32)
            consider(*source.clamp(ys + jump[0], xs + jump[1]), 1.0 + COHERENCE_BIAS[0])
            r //= 2
        flat_y[active], flat_x[active] = ys, xs
    return best


def vote(field: Field, pixels: np.ndarray, weight: np.ndarray, patch: int, stride: int = 1):
    """(H, W, 3) float32: every pixel the ``weight``-ed mean of the source pixels the patches
    covering it (every ``stride``-th offset) put there; and the total weight (0: no patch)."""
    h, w = field.ys.shape
    r = patch // 2
    pad = lambda a, v: cv2.copyMakeBorder(a, r, r, r, r, cv2.BORDER_CONSTANT, value=v)  # noqa: E731
    ys = pad(field.ys.astype(np.float32), 0)
    xs = pad(field.xs.astype(np.float32), 0)
    weights = pad(weight.astype(np.float32), 0)
    total = np.zeros((h, w, 3), np.float32)
    count = np.zeros((h, w), np.float32)
    for dy in range(-r, r + 1, stride):
        for dx in range(-r, r + 1, stride):
            window = (slice(r - dy, r - dy + h), slice(r - dx, r - dx + w))
            said = cv2.remap(
                pixels, xs[window] + dx, ys[window] + dy, cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_REFLECT,
            )  # fmt: skip
            share = weights[window]
            total += said * share[..., None]
            count += share
    return total / np.maximum(count, 1e-6)[..., None], count


def copy(field: Field, pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3): every pixel the source pixel at its match (no blending)."""
    return cv2.remap(
        pixels, field.xs.astype(np.float32), field.ys.astype(np.float32), cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_REFLECT,
    )  # fmt: skip
