"""Outputs of the hot aten ops on the ``meta`` device, without running their meta kernels.

Many meta kernels are written in Python (``torch._refs``, ``torch._meta_registrations``) and
cost a fraction of a millisecond each; a UNet call runs about two thousand of them. On the meta
device an op only has to produce empty tensors of the right shape and dtype, which for the ops
below is a line of arithmetic. Each function returns the op's output, or ``None`` when the case
is not a plain one (mixed dtypes, unusual arguments): the tracer then runs the real kernel.
The tests check that both ways give identical records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

aten = torch.ops.aten

_META = torch.device("meta")


def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for shape in shapes:
        offset = ndim - len(shape)
        for i, size in enumerate(shape):
            j = offset + i
            if size == 1 or size == out[j]:
                continue
            if out[j] != 1:
                return None  # not broadcastable: let the real kernel raise
            out[j] = size
    return tuple(out)


def _like(t: torch.Tensor, shape: tuple[int, ...], dtype: torch.dtype | None = None):
    if tuple(t.shape) == shape:
        return torch.empty_like(t, dtype=dtype or t.dtype)
    return torch.empty(shape, dtype=dtype or t.dtype, device=_META)


def _elementwise(args: tuple, kwargs: dict, inplace: bool) -> torch.Tensor | None:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    first = tensors[0]
    if not first.is_floating_point() or any(t.dtype != first.dtype for t in tensors):
        return None  # type promotion: leave it to the real kernel
    if any(isinstance(a, complex) for a in args):
        return None
    if inplace:
        return first
    shape = _broadcast(*(tuple(t.shape) for t in tensors))
    if shape is None:
        return None
    full = next((t for t in tensors if tuple(t.shape) == shape), first)
    return _like(full, shape)


def _softmax(args: tuple, kwargs: dict) -> torch.Tensor | None:
    x = args[0]
    if not x.is_floating_point():
        return None
    return torch.empty_like(x)


def _group_norm(args: tuple, kwargs: dict):
    x, n, group = args[0], args[3], args[6]
    stats = torch.empty((n, group), dtype=x.dtype, device=_META)
    return torch.empty_like(x, memory_format=torch.contiguous_format), stats, stats.clone()


def _layer_norm(args: tuple, kwargs: dict):
    x, normalized = args[0], args[1]
    axis = x.dim() - len(normalized)
    stat_shape = (*x.shape[:axis], *([1] * len(normalized)))
    stats = torch.empty(stat_shape, dtype=x.dtype, device=_META)
    return torch.empty_like(x, memory_format=torch.contiguous_format), stats, stats.clone()


def _matmul(a: torch.Tensor, b: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor | None:
    if a.dtype != b.dtype or a.shape[-1] != b.shape[-2]:
        return None
    return torch.empty(shape, dtype=a.dtype, device=_META)


def _conv(args: tuple, kwargs: dict) -> torch.Tensor | None:
    x, w = args[0], args[1]
    stride, padding, dilation, transposed, output_padding, groups = args[3:9]
    if x.dtype != w.dtype or x.dim() != w.dim() or not x.is_contiguous():
        return None
    spatial = []
    for i in range(x.dim() - 2):
        size, k = x.shape[i + 2], w.shape[i + 2]
        s, p, d = stride[i], padding[i], dilation[i]
        if transposed:
            spatial.append((size - 1) * s - 2 * p + d * (k - 1) + output_padding[i] + 1)
        else:
            spatial.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
    channels = w.shape[1] * groups if transposed else w.shape[0]
    return torch.empty((x.shape[0], channels, *spatial), dtype=x.dtype, device=_META)


def _upsample_nearest2d(args: tuple, kwargs: dict) -> torch.Tensor | None:
    x, size = args[0], args[1]
    if size is None or not x.is_contiguous():
        return None
    return torch.empty((*x.shape[:2], *size), dtype=x.dtype, device=_META)


def _cat(args: tuple, kwargs: dict) -> torch.Tensor | None:
    tensors = [t for t in args[0] if t.numel() > 0 or t.dim() > 1]
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    first = tensors[0]
    if any(t.dtype != first.dtype or t.dim() != first.dim() for t in tensors):
        return None
    dim = dim % first.dim()
    shape = list(first.shape)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    return torch.empty(shape, dtype=first.dtype, device=_META)


def _clone(args: tuple, kwargs: dict) -> torch.Tensor | None:
    x = args[0]
    fmt = kwargs.get("memory_format")
    if fmt == torch.contiguous_format:
        return torch.empty(x.shape, dtype=x.dtype, device=_META)
    if fmt not in (None, torch.preserve_format):
        return None
    return torch.empty_like(x)


def _to_copy(args: tuple, kwargs: dict) -> torch.Tensor | None:
    if any(v is not None for key, v in kwargs.items() if key != "dtype") or len(args) != 1:
        return None
    return torch.empty_like(args[0], dtype=kwargs.get("dtype") or args[0].dtype)


def _pad(args: tuple, kwargs: dict) -> torch.Tensor | None:
    x, pad = args[0], args[1]
    shape = list(x.shape)
    for i in range(len(pad) // 2):
        shape[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    if min(shape) < 0:
        return None
    return torch.empty(shape, dtype=x.dtype, device=_META)


def _unary(args: tuple, kwargs: dict) -> torch.Tensor | None:
    x = args[0]
    return torch.empty_like(x) if x.is_floating_point() else None


_BINARY = (aten.add, aten.sub, aten.mul, aten.div)
_BINARY_INPLACE = (aten.add_, aten.sub_, aten.mul_, aten.div_)
_UNARY = (aten.silu, aten.gelu, aten.sigmoid, aten.relu, aten.tanh, aten.neg, aten.exp,
          aten.sin, aten.cos, aten.rsqrt, aten.sqrt)  # fmt: skip

SHAPES: dict[Any, Callable[[tuple, dict], Any]] = {
    **{op: (lambda a, k: _elementwise(a, k, False)) for op in _BINARY},
    **{op: (lambda a, k: _elementwise(a, k, True)) for op in _BINARY_INPLACE},
    **{op: _unary for op in _UNARY},
    aten._softmax: _softmax,
    aten._safe_softmax: _softmax,
    aten.native_group_norm: _group_norm,
    aten.native_layer_norm: _layer_norm,
    aten.mm: lambda a, k: _matmul(a[0], a[1], (a[0].shape[0], a[1].shape[1])),
    aten.addmm: lambda a, k: _matmul(a[1], a[2], (a[1].shape[0], a[2].shape[1])),
    aten.bmm: lambda a, k: _matmul(a[0], a[1], (a[0].shape[0], a[0].shape[1], a[1].shape[2])),
    aten.baddbmm: lambda a, k: _matmul(a[1], a[2], (a[1].shape[0], a[1].shape[1], a[2].shape[2])),
    aten.convolution: _conv,
    aten.upsample_nearest2d: _upsample_nearest2d,
    aten.cat: _cat,
    aten.clone: _clone,
    aten._to_copy: _to_copy,
    aten.constant_pad_nd: _pad,
}


def fast_meta(func: Any, args: tuple, kwargs: dict) -> Any:
    """The output of ``func(*args, **kwargs)`` on the meta device, or None to run the kernel."""
    shape_fn = SHAPES.get(func.overloadpacket)
    if shape_fn is None or func._overloadname not in ("default", "Tensor", "Scalar", "vec"):
        return None  # not a hot op, or an out= / dtype= variant
    first = args[0][0] if isinstance(args[0], (list, tuple)) else args[0]
    if not isinstance(first, torch.Tensor) or first.device != _META:
        return None
    return shape_fn(args, kwargs)
