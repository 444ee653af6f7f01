"""The one table of per-op costs: aten op -> op class, MACs and FLOPs, with the derivation.

Every aten op the tracer can meet is looked up here by its overload packet (``aten.add`` covers
``aten.add.Tensor`` and ``aten.add.Scalar``). Each entry states its cost and the assumption
behind it, beside the formula. Conventions used throughout:

- A MAC is one multiply-accumulate; a MAC op costs ``flops = 2 * macs``. GEMM and convolution
  epilogues (bias add, ``alpha``/``beta`` scaling) are fused in every GEMM library and are not
  counted, exactly as ``torch.utils.flop_counter.FlopCounterMode`` does, so MAC totals can be
  checked against it.
- Non-MAC ops count FLOPs per element: one add, multiply, compare or select is 1; a
  special-function evaluation (exp, erf, sin, rsqrt, tanh) is also 1, as one SFU instruction.
  Their ``macs`` are 0.
- Matmuls are ``linear`` when one operand is a weight (a parameter, or a view or copy of one),
  and ``attention`` when both are activations (QK^T and AV): the tracer says which.
- Ops that only move data (cat, copy, pad, gather, embedding lookup) cost 0 FLOPs; their cost
  is in the bytes the tracer counts. Metadata-only views (view, transpose, expand, ...) are not
  recorded at all: they move nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from zoomwatt.workload.records import FLASH_ATTENTION_OPS, SDPA_OPS, OpClass

aten = torch.ops.aten


@dataclass(frozen=True)
class OpCall:
    """What a formula sees of one op call."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: tuple[torch.Tensor, ...]  # tensor outputs, flattened
    reads_weight: bool  # some operand is a parameter (or a view or copy of one)


@dataclass(frozen=True)
class OpCost:
    """The cost of an op, or of one part of a fused op."""

    op_class: OpClass
    macs: int
    flops: int
    part: str = ""  # name of the part of a fused op ("softmax" inside SDPA); "" for the op
    moves_bytes: bool = True  # False: a fused part whose data stays on chip (no bytes)


@dataclass(frozen=True)
class Formula:
    """One table entry."""

    op_class: OpClass  # the class, or the usual one for ops decided per call (matmuls)
    cost: Callable[[OpCall], tuple[OpCost, ...]] = field(repr=False)
    derivation: str


FORMULAS: dict[Any, Formula] = {}
"""aten overload packet -> formula. Fill it with :func:`register` only."""

VIEW_OPS: frozenset[Any] = frozenset(
    {aten._unsafe_view, aten._reshape_alias, aten.lift_fresh, aten.as_strided}
)
"""Metadata-only ops not flagged ``is_view`` by their schema (``_unsafe_view`` aliases its
input's storage). Ops whose schema ``is_view`` is true are metadata-only too."""

SKIPPED_OPS: frozenset[Any] = frozenset(
    {
        aten.empty,
        aten.empty_like,
        aten.empty_strided,
        aten.new_empty,
        aten.new_empty_strided,
        aten._local_scalar_dense,
        aten.sym_size,
        aten.sym_stride,
        aten.sym_numel,
        aten.is_same_size,
        aten._has_compatible_shallow_copy_type,
        aten.set_,
        aten.resize_,
    }
)
"""Ops that allocate without writing, or only read metadata: no record, no bytes."""


def register(*ops: Any, op_class: OpClass, derivation: str):
    """Decorator: ``cost(call) -> tuple[OpCost, ...]`` becomes the formula of ``ops``."""

    def decorate(cost: Callable[[OpCall], tuple[OpCost, ...]]):
        for op in ops:
            if op in FORMULAS:
                raise ValueError(f"{op} registered twice")  # a bug in this file, not user input
            FORMULAS[op] = Formula(op_class, cost, derivation)
        return cost

    return decorate


def lookup(func: Any) -> Formula | None:
    """The formula for an ``OpOverload`` (or packet), or None when the op is not in the table."""
    return FORMULAS.get(getattr(func, "overloadpacket", func))


def _numel(shape: Any) -> int:
    return math.prod(int(s) for s in shape)


def _out_numel(call: OpCall) -> int:
    return call.outputs[0].numel() if call.outputs else 0


def _first_tensor(call: OpCall) -> torch.Tensor:
    for a in call.args:
        if isinstance(a, torch.Tensor):
            return a
    raise TypeError("op without a tensor argument")


def _per_element(op_class: OpClass, flops_per_element: int, *ops: Any, derivation: str,
                 over: str = "output") -> None:  # fmt: skip
    """Register ``ops`` as costing ``flops_per_element`` per output (or input) element."""

    def cost(call: OpCall) -> tuple[OpCost, ...]:
        n = _out_numel(call) if over == "output" else _first_tensor(call).numel()
        return (OpCost(op_class, 0, flops_per_element * n),)

    register(*ops, op_class=op_class, derivation=derivation)(cost)


# --- matrix multiplies ----------------------------------------------------------------------


def _matmul_cost(macs: int, call: OpCall) -> tuple[OpCost, ...]:
    op_class = OpClass.LINEAR if call.reads_weight else OpClass.ATTENTION
    return (OpCost(op_class, macs, 2 * macs),)


@register(aten.mm, op_class=OpClass.LINEAR,
          derivation="A[n,k] @ B[k,m]: n*k*m MACs. linear if an operand is a weight, else "
          "attention (activation x activation)")  # fmt: skip
def _mm(call: OpCall) -> tuple[OpCost, ...]:
    a, b = call.args[0], call.args[1]
    return _matmul_cost(a.shape[0] * a.shape[1] * b.shape[1], call)


@register(aten.addmm, op_class=OpClass.LINEAR,
          derivation="bias + A[n,k] @ B[k,m]: n*k*m MACs; the bias add is a fused epilogue, "
          "not counted")  # fmt: skip
def _addmm(call: OpCall) -> tuple[OpCost, ...]:
    a, b = call.args[1], call.args[2]
    return _matmul_cost(a.shape[0] * a.shape[1] * b.shape[1], call)


@register(aten.bmm, op_class=OpClass.ATTENTION,
          derivation="A[b,n,k] @ B[b,k,m]: b*n*k*m MACs. attention when both operands are "
          "activations (QK^T, AV), linear when one is a weight")  # fmt: skip
def _bmm(call: OpCall) -> tuple[OpCost, ...]:
    a, b = call.args[0], call.args[1]
    return _matmul_cost(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2], call)


@register(aten.baddbmm, op_class=OpClass.ATTENTION,
          derivation="beta*C + alpha*A[b,n,k] @ B[b,k,m]: b*n*k*m MACs; alpha/beta are a "
          "fused epilogue, not counted")  # fmt: skip
def _baddbmm(call: OpCall) -> tuple[OpCost, ...]:
    a, b = call.args[1], call.args[2]
    return _matmul_cost(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2], call)


@register(aten.mv, op_class=OpClass.LINEAR, derivation="A[n,k] @ x[k]: n*k MACs")
def _mv(call: OpCall) -> tuple[OpCost, ...]:
    a = call.args[0]
    return _matmul_cost(a.shape[0] * a.shape[1], call)


# --- convolution ----------------------------------------------------------------------------


def _conv_macs(x: torch.Tensor, w: torch.Tensor, out: torch.Tensor, transposed: bool) -> int:
    # Direct convolution: each output element is a dot product over (C_in / groups) * prod(k)
    # inputs, and w.shape[1] = C_in / groups. Transposed: each *input* element is scattered
    # into (C_out / groups) * prod(k) outputs, and there w.shape[1] = C_out / groups.
    per_element = w.shape[1] * _numel(w.shape[2:])
    return (x.numel() if transposed else out.numel()) * per_element


@register(aten.convolution, aten._convolution, aten.convolution_overrideable,
          op_class=OpClass.CONV,
          derivation="out_numel * (C_in/groups) * prod(kernel) MACs (transposed: in_numel * "
          "(C_out/groups) * prod(kernel)); bias fused, not counted")  # fmt: skip
def _convolution(call: OpCall) -> tuple[OpCost, ...]:
    x, w = call.args[0], call.args[1]
    transposed = bool(call.args[6]) if len(call.args) > 6 else False
    macs = _conv_macs(x, w, call.outputs[0], transposed)
    return (OpCost(OpClass.CONV, macs, 2 * macs),)


@register(aten.cudnn_convolution, aten.mkldnn_convolution, aten._slow_conv2d_forward,
          op_class=OpClass.CONV,
          derivation="backend convolution kernels: out_numel * (C_in/groups) * prod(kernel) "
          "MACs")  # fmt: skip
def _backend_convolution(call: OpCall) -> tuple[OpCost, ...]:
    macs = _conv_macs(call.args[0], call.args[1], call.outputs[0], transposed=False)
    return (OpCost(OpClass.CONV, macs, 2 * macs),)


# --- fused attention ------------------------------------------------------------------------

SOFTMAX_FLOPS_PER_ELEMENT = 5  # max, subtract, exp, sum, divide


def _sdpa_cost(batch_heads: int, lq: int, lk: int, e: int, ev: int) -> tuple[OpCost, ...]:
    scores = batch_heads * lq * lk
    macs = scores * (e + ev)  # QK^T: scores * E MACs; AV: scores * Ev MACs
    return (
        OpCost(OpClass.ATTENTION, macs, 2 * macs),
        OpCost(OpClass.SOFTMAX, 0, SOFTMAX_FLOPS_PER_ELEMENT * scores, "softmax", False),
    )


_SDPA_OPS = tuple(getattr(aten, name.removeprefix("aten.")) for name in SDPA_OPS)
_FLASH_OPS = tuple(getattr(aten, name.removeprefix("aten.")) for name in FLASH_ATTENTION_OPS)


@register(*_SDPA_OPS,
          op_class=OpClass.ATTENTION,
          derivation="fused softmax(Q K^T * scale) V, q[..,Lq,E], k[..,Lk,E], v[..,Lk,Ev]: "
          "B*H*Lq*Lk*(E+Ev) MACs (QK^T then AV, full score matrix even when causal, as "
          "FlopCounterMode); plus a 'softmax' part of 5 FLOPs per score (max, sub, exp, sum, "
          "div; scale and mask folded in) that stays on chip: no bytes")  # fmt: skip
def _sdpa(call: OpCall) -> tuple[OpCost, ...]:
    q, k, v = call.args[0], call.args[1], call.args[2]
    return _sdpa_cost(_numel(q.shape[:-2]), q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1])


@register(*_FLASH_OPS,
          op_class=OpClass.ATTENTION,
          derivation="as scaled_dot_product_attention, with q[B,Lq,H,E] (sequence before "
          "heads)")  # fmt: skip
def _flash(call: OpCall) -> tuple[OpCost, ...]:
    q, k, v = call.args[0], call.args[1], call.args[2]
    return _sdpa_cost(q.shape[0] * q.shape[2], q.shape[1], k.shape[1], q.shape[3], v.shape[3])


# --- softmax, normalization -----------------------------------------------------------------

_per_element(OpClass.SOFTMAX, SOFTMAX_FLOPS_PER_ELEMENT,
             aten._softmax, aten._safe_softmax, aten._log_softmax,
             derivation="5 FLOPs per element: max, subtract, exp, sum, divide (log_softmax: "
             "log and subtract instead of divide)")  # fmt: skip

# Normalization over E elements with affine: mean (1 add per element), variance (subtract,
# square, add: 3), normalize (subtract mean, multiply by rstd: 2), affine (multiply, add: 2) =
# 8 per element; 6 without affine. The per-group rsqrt is negligible and not counted.
NORM_FLOPS_PER_ELEMENT = 8
NORM_FLOPS_PER_ELEMENT_NO_AFFINE = 6


@register(aten.native_group_norm, op_class=OpClass.NORM,
          derivation="8 FLOPs per element with affine (mean 1, variance 3, normalize 2, "
          "affine 2), 6 without")  # fmt: skip
def _group_norm(call: OpCall) -> tuple[OpCost, ...]:
    x, weight = call.args[0], call.args[1]
    per = NORM_FLOPS_PER_ELEMENT if weight is not None else NORM_FLOPS_PER_ELEMENT_NO_AFFINE
    return (OpCost(OpClass.NORM, 0, per * x.numel()),)


@register(aten.native_layer_norm, op_class=OpClass.NORM,
          derivation="8 FLOPs per element with affine (mean 1, variance 3, normalize 2, "
          "affine 2), 6 without")  # fmt: skip
def _layer_norm(call: OpCall) -> tuple[OpCost, ...]:
    x = call.args[0]
    weight = call.args[2] if len(call.args) > 2 else None
    per = NORM_FLOPS_PER_ELEMENT if weight is not None else NORM_FLOPS_PER_ELEMENT_NO_AFFINE
    return (OpCost(OpClass.NORM, 0, per * x.numel()),)


_per_element(OpClass.NORM, 4, aten._native_batch_norm_legit_no_training,
             derivation="inference batch norm: subtract mean, multiply rstd, multiply weight, "
             "add bias: 4 per element")  # fmt: skip

# --- activations ----------------------------------------------------------------------------

_per_element(
    OpClass.ACTIVATION,
    4,
    aten.silu,
    aten.silu_,
    derivation="x / (1 + exp(-x)): negate, exp, add, divide = 4 per element",
)
_per_element(
    OpClass.ACTIVATION,
    4,
    aten.sigmoid,
    aten.sigmoid_,
    derivation="1 / (1 + exp(-x)): negate, exp, add, divide = 4 per element",
)
_per_element(
    OpClass.ACTIVATION,
    1,
    aten.relu,
    aten.relu_,
    aten.tanh,
    aten.tanh_,
    derivation="relu: one compare-select; tanh: one special-function evaluation",
)
_per_element(OpClass.ACTIVATION, 2, aten.leaky_relu, aten.hardtanh, aten.hardtanh_,
             derivation="compare and select/multiply: 2 per element")  # fmt: skip

GELU_ERF_FLOPS = 5  # 0.5 * x * (1 + erf(x / sqrt 2)): multiply, erf, add, multiply, multiply
GELU_TANH_FLOPS = 9  # 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))): x^3 (2), mul, add, mul,
# tanh, add, mul, mul


@register(aten.gelu, aten.gelu_, op_class=OpClass.ACTIVATION,
          derivation="erf form: 0.5*x*(1+erf(x/sqrt2)) = 5 per element; tanh approximation: "
          "9 per element")  # fmt: skip
def _gelu(call: OpCall) -> tuple[OpCost, ...]:
    approximate = call.kwargs.get("approximate", call.args[1] if len(call.args) > 1 else "none")
    per = GELU_TANH_FLOPS if approximate == "tanh" else GELU_ERF_FLOPS
    return (OpCost(OpClass.ACTIVATION, 0, per * _out_numel(call)),)


# --- elementwise arithmetic -----------------------------------------------------------------

_per_element(OpClass.ELEMENTWISE, 1,
             aten.add, aten.add_, aten.sub, aten.sub_, aten.rsub, aten.mul, aten.mul_,
             aten.div, aten.div_, aten.neg, aten.abs, aten.reciprocal, aten.sqrt, aten.rsqrt,
             aten.exp, aten.log, aten.sin, aten.cos, aten.erf, aten.pow, aten.maximum,
             aten.minimum, aten.where, aten.masked_fill, aten.masked_fill_, aten.eq, aten.ne,
             aten.lt, aten.le, aten.gt, aten.ge, aten.logical_not, aten.logical_and,
             aten.logical_or, aten.bitwise_not, aten.round, aten.floor, aten.ceil, aten.sign,
             aten.remainder, aten.fmod, aten.clamp_min, aten.clamp_max,
             derivation="one arithmetic, compare, select or special-function evaluation per "
             "output element (residual adds, scaling, timestep sin/cos)")  # fmt: skip
_per_element(
    OpClass.ELEMENTWISE,
    3,
    aten.lerp,
    aten.addcmul,
    aten.addcdiv,
    derivation="a + w*(b - a) or a + v*(b*c): 3 per element",
)


@register(
    aten.clamp,
    aten.clamp_,
    op_class=OpClass.ELEMENTWISE,
    derivation="one compare-select per bound given (min, max) per element",
)
def _clamp(call: OpCall) -> tuple[OpCost, ...]:
    bounds = [call.kwargs.get("min"), call.kwargs.get("max")]
    for i, arg in enumerate(call.args[1:3]):
        bounds[i] = arg
    return (OpCost(OpClass.ELEMENTWISE, 0, sum(b is not None for b in bounds) * _out_numel(call)),)


# --- reductions (counted as "other") --------------------------------------------------------

_per_element(
    OpClass.OTHER,
    1,
    aten.sum,
    aten.mean,
    aten.amax,
    aten.amin,
    aten.max,
    aten.min,
    aten.argmax,
    aten.argmin,
    aten.any,
    aten.all,
    aten.prod,
    aten.cumsum,
    derivation="reductions: one add/compare per input element",
    over="input",
)
_per_element(
    OpClass.OTHER,
    3,
    aten.var,
    aten.var_mean,
    aten.std,
    derivation="variance: subtract, square, add per input element",
    over="input",
)

# --- resampling -----------------------------------------------------------------------------

_per_element(
    OpClass.RESAMPLE,
    0,
    aten.upsample_nearest1d,
    aten.upsample_nearest2d,
    aten.upsample_nearest3d,
    aten._upsample_nearest_exact2d,
    derivation="nearest neighbour: a copy, 0 FLOPs; its cost is bytes",
)
_per_element(OpClass.RESAMPLE, 7, aten.upsample_bilinear2d, aten._upsample_bilinear2d_aa,
             derivation="bilinear: 4 taps, 4 multiplies + 3 adds per output element "
             "(weights precomputed per row/column)")  # fmt: skip
_per_element(
    OpClass.RESAMPLE,
    31,
    aten.upsample_bicubic2d,
    derivation="bicubic: 16 taps, 16 multiplies + 15 adds per output element",
)


@register(aten.avg_pool2d, aten.max_pool2d, aten.max_pool2d_with_indices,
          op_class=OpClass.RESAMPLE,
          derivation="pooling over a k*k window: k*k - 1 adds or compares (+ 1 divide for "
          "average) per output element")  # fmt: skip
def _pool(call: OpCall) -> tuple[OpCost, ...]:
    kernel = call.args[1]
    window = _numel(kernel) if isinstance(kernel, (list, tuple)) else int(kernel) ** 2
    return (OpCost(OpClass.RESAMPLE, 0, window * _out_numel(call)),)


_per_element(OpClass.RESAMPLE, 1, aten._adaptive_avg_pool2d,
             derivation="adaptive average pooling: one add per input element (the divide per "
             "output is negligible)", over="input")  # fmt: skip

# --- data movement --------------------------------------------------------------------------

_per_element(OpClass.DATA_MOVEMENT, 0,
             aten.cat, aten.stack, aten.clone, aten.copy_, aten._to_copy, aten.contiguous,
             aten.constant_pad_nd, aten.embedding, aten.index, aten.index_select, aten.gather,
             aten.repeat, aten.roll, aten.flip, aten.slice_scatter, aten.select_scatter,
             aten.index_put, aten.index_put_, aten._unsafe_index, aten.pixel_shuffle,
             aten.pixel_unshuffle, aten.masked_select, aten.expand_copy, aten.permute_copy,
             aten.view_copy, aten.transpose_copy, aten.split_with_sizes_copy, aten.tril,
             aten.triu,
             derivation="copies, concatenation, padding, gathers and embedding lookups: 0 FLOPs, "
             "the cost is the bytes read and written")  # fmt: skip

# --- tensor creation (other) ----------------------------------------------------------------

_per_element(OpClass.OTHER, 0, aten.arange, aten.zeros, aten.zeros_like, aten.ones,
             aten.ones_like, aten.full, aten.full_like, aten.scalar_tensor, aten.fill,
             aten.fill_, aten.zero_, aten.new_zeros, aten.new_ones, aten.new_full,
             aten.randn, aten.randn_like, aten.rand, aten.normal, aten.normal_, aten.bernoulli,
             derivation="creating a tensor: 0 FLOPs, the bytes written")  # fmt: skip


def describe() -> list[tuple[str, str, str]]:
    """(op, class, derivation) for every entry: the table in words, for documentation."""
    return sorted((str(op), f.op_class.value, f.derivation) for op, f in FORMULAS.items())
