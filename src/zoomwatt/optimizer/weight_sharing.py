"""Deep Compression weight sharing (Han et al., ICLR 2016): per-layer k-means with 2^b shared
values, stored as a b-bit index per weight plus a codebook of 2^b values.

Storage of one layer of n weights, originally ``w_bits`` each:

    original bits = n x w_bits
    shared bits   = n x b  +  2^b x codebook_bits

The article's example (:func:`article_example`): a 4x4 fp32 matrix, 4 shared values, 2-bit
indices: 16 x 32 = 512 bits -> 16 x 2 + 4 x 32 = 160 bits (3.2x).

k-means is 1-D, initialised linearly between the smallest and the largest weight (the
initialisation Deep Compression found best), then Lloyd iterations until no weight changes
cluster. Codebook entries are sorted ascending, so index 0 is the smallest shared value.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from zoomwatt.errors import InputError

log = logging.getLogger(__name__)

# The weight matrix and cluster indices of Deep Compression, figure 3 (Han et al. 2016).
ARTICLE_WEIGHTS = (
    (2.09, -0.98, 1.48, 0.09),
    (0.05, -0.14, -1.08, 2.12),
    (-0.91, 1.92, 0.0, -1.03),
    (1.87, 0.0, 1.53, 1.49),
)
ARTICLE_INDICES = ((3, 0, 2, 1), (1, 1, 0, 3), (0, 3, 1, 0), (3, 1, 2, 2))
ARTICLE_CENTROIDS = (-1.0, 0.0, 1.5, 2.0)
MAX_FIT_SAMPLES = 1 << 16  # larger layers fit the codebook on an even subsample


@dataclass(frozen=True)
class SharedWeights:
    """One tensor after weight sharing."""

    codebook: torch.Tensor  # (2^b,) shared values, ascending
    indices: torch.Tensor  # same shape as the weights, int64 in [0, 2^b)
    bits: int  # index bits b
    weight_bits: int  # bits per original weight
    codebook_bits: int  # bits per codebook entry

    @property
    def n_weights(self) -> int:
        return int(self.indices.numel())

    @property
    def original_bits(self) -> int:
        return self.n_weights * self.weight_bits

    @property
    def shared_bits(self) -> int:
        return self.n_weights * self.bits + (1 << self.bits) * self.codebook_bits

    @property
    def compression_ratio(self) -> float:
        return self.original_bits / self.shared_bits

    def decode(self) -> torch.Tensor:
        """The weights as the hardware would use them: each index replaced by its value."""
        return self.codebook[self.indices]


def _check_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise InputError("bits", bits, "an integer number of index bits in 1..16")


def kmeans_1d(values: torch.Tensor, k: int, max_iter: int = 50) -> torch.Tensor:
    """Cluster centres of ``values`` (1-D) by Lloyd's algorithm with linear initialisation;
    returns ``k`` centres, ascending. Empty clusters keep their previous centre."""
    # 1. inputs
    if values.numel() == 0:
        raise InputError("values", "an empty tensor", "at least one weight")
    x = values.detach().reshape(-1).to(torch.float64)
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        return torch.full((k,), lo, dtype=torch.float64)
    # 2. linear initialisation, then Lloyd iterations on the sorted values
    centres = torch.linspace(lo, hi, k, dtype=torch.float64)
    assign = None
    for _ in range(max_iter):
        bounds = (centres[1:] + centres[:-1]) / 2
        new = torch.bucketize(x, bounds)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        sums = torch.zeros(k, dtype=torch.float64).scatter_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(torch.float64)
        centres = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
        centres, _ = torch.sort(centres)
    return centres


def share_weights(
    weights: torch.Tensor, bits: int, *, weight_bits: int = 32, codebook_bits: int | None = None
) -> SharedWeights:
    """k-means weight sharing of one tensor with 2^``bits`` shared values.

    ``weight_bits``: bits of an original weight (32 for fp32, 16 for fp16); ``codebook_bits``:
    bits of a shared value (default ``weight_bits``). Tensors over 65,536 weights fit the codebook
    on an even subsample and then assign every weight.
    """
    # 1. inputs
    _check_bits(bits)
    if weight_bits not in (8, 16, 32):
        raise InputError("weight_bits", weight_bits, "8, 16 or 32")
    codebook_bits = weight_bits if codebook_bits is None else codebook_bits
    flat = weights.detach().reshape(-1)
    # 2. fit the codebook (on a subsample of big tensors)
    step = max(1, math.ceil(flat.numel() / MAX_FIT_SAMPLES))
    centres = kmeans_1d(flat[::step], 1 << bits)
    # 3. assign every weight to its nearest shared value
    bounds = ((centres[1:] + centres[:-1]) / 2).to(flat.dtype)
    indices = torch.bucketize(flat, bounds).reshape(weights.shape)
    return SharedWeights(
        codebook=centres.to(weights.dtype),
        indices=indices,
        bits=bits,
        weight_bits=weight_bits,
        codebook_bits=codebook_bits,
    )


def article_example() -> SharedWeights:
    """The article's (and Deep Compression's) 4x4 fp32 matrix with 4 shared values, 2-bit
    indices: 512 bits -> 160 bits."""
    return share_weights(torch.tensor(ARTICLE_WEIGHTS, dtype=torch.float32), 2, weight_bits=32)


def shared_bytes_ratio(bits: int, weight_bits: int, n_weights: float) -> float:
    """Predicted bytes after sharing / bytes before, for a layer of ``n_weights`` weights of
    ``weight_bits`` with a ``weight_bits`` codebook (used by the predictions)."""
    _check_bits(bits)
    if n_weights <= 0:
        return 1.0
    return (n_weights * bits + (1 << bits) * weight_bits) / (n_weights * weight_bits)
