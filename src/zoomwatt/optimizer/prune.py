"""Real pruning of weight tensors: unstructured magnitude pruning and 2:4 structured sparsity.

- Magnitude pruning at ratio p zeroes the p share of each layer's weights with the smallest
  magnitude (per layer, ties broken by position).
- 2:4 sparsity keeps the two largest-magnitude weights of every group of four consecutive
  input elements (input channels for a conv, ``(K, R, S, C)`` order, as NVIDIA's sparse tensor
  cores group them). A layer whose input elements are not a multiple of four is left dense
  and reported (``applied=False``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zoomwatt.errors import InputError


@dataclass(frozen=True)
class PrunedWeight:
    weight: torch.Tensor  # pruned values, same shape and dtype
    mask: torch.Tensor  # bool, True where kept
    applied: bool  # False: the pattern does not fit the layer; left unchanged

    @property
    def density(self) -> float:
        return float(self.mask.float().mean())


def magnitude_prune(w: torch.Tensor, ratio: float) -> PrunedWeight:
    """Zero the ``ratio`` share of ``w`` with the smallest |w|."""
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio < 1:
        raise InputError("ratio", ratio, "a share of weights to prune in [0, 1)")
    flat = w.detach().reshape(-1)
    n_prune = round(ratio * flat.numel())
    mask = torch.ones(flat.numel(), dtype=torch.bool)
    if n_prune > 0:
        magnitude = flat.abs()
        threshold = torch.kthvalue(magnitude, n_prune).values
        mask = magnitude > threshold
        if int((~mask).sum()) != n_prune:  # ties at the threshold: by position instead
            order = torch.argsort(magnitude, stable=True)
            mask = torch.ones(flat.numel(), dtype=torch.bool)
            mask[order[:n_prune]] = False
    mask = mask.reshape(w.shape)
    return PrunedWeight(torch.where(mask, w.detach(), torch.zeros_like(w)), mask, True)


def _channels_last(w: torch.Tensor) -> torch.Tensor:
    return w.permute(0, *range(2, w.dim()), 1) if w.dim() > 2 else w


def _channels_first(w: torch.Tensor) -> torch.Tensor:
    return w.permute(0, w.dim() - 1, *range(1, w.dim() - 1)) if w.dim() > 2 else w


def prune_2_4(w: torch.Tensor) -> PrunedWeight:
    """2:4 structured sparsity along the input channels (see module doc)."""
    if w.dim() < 2:
        raise InputError("weight", tuple(w.shape), "a linear (K, C) or conv (K, C, ...) weight")
    if w.shape[1] % 4:
        return PrunedWeight(w.detach(), torch.ones_like(w, dtype=torch.bool), False)
    last = _channels_last(w.detach()).contiguous()
    groups = last.reshape(-1, 4)
    keep = torch.topk(groups.abs(), 2, dim=1).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(1, keep, True)
    mask = _channels_first(mask.reshape(last.shape))
    return PrunedWeight(torch.where(mask, w.detach(), torch.zeros_like(w)), mask, True)
