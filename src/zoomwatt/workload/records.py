"""Per-op records of a traced model, and the op classes they fall into.

This is the contract between ``workload`` (which fills records by tracing a model) and
``perfmodel`` / ``optimize`` (which turn records into time and energy). Fields may be added;
existing names and units do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class OpClass(str, Enum):
    """What kind of work an op is; the performance model has an efficiency per class."""

    CONV = "conv"
    LINEAR = "linear"  # GEMM against a weight matrix (nn.Linear, 1x1 projections as matmul)
    ATTENTION = "attention"  # activation x activation matmuls: QK^T and AV
    SOFTMAX = "softmax"
    NORM = "norm"  # group/layer norm
    ACTIVATION = "activation"  # SiLU, GELU, ...
    ELEMENTWISE = "elementwise"  # add, mul, residuals, scaling
    RESAMPLE = "resample"  # up/down sampling by interpolation
    DATA_MOVEMENT = "data_movement"  # cat, copy, permute made contiguous, embedding lookup
    OTHER = "other"


# Bytes per element for the dtypes a study can count in. int4 is half a byte.
DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "uint8": 1.0,  # images and video frames in the non-model stages (not a model dtype)
}

MODEL_DTYPES: tuple[str, ...] = ("fp32", "fp16", "bf16", "fp8", "int8", "int4")
"""Dtypes a model's weights and activations can be counted in (``uint8`` is for frames)."""


@dataclass(frozen=True)
class LayerRecord:
    """One op of one model call, attributed to the module that issued it."""

    module: str  # dotted module path, e.g. "down_blocks.0.resnets.0.conv1"
    op: str  # aten op name, e.g. "aten.convolution.default"
    op_class: OpClass
    macs: int  # multiply-accumulates (0 for ops that are not MAC-shaped)
    flops: int  # floating-point operations: 2*macs for MAC ops, the per-element cost otherwise
    weight_bytes: float  # parameter bytes this op reads, in `dtype`
    input_bytes: float  # activation bytes read (excluding weights), in `dtype`
    output_bytes: float  # activation bytes written, in `dtype`
    dtype: str  # the dtype the bytes are counted in (a key of DTYPE_BYTES)
    # Added fields (defaults keep older constructors valid):
    activation_dtype: str | None = None  # dtype of input/output bytes when not `dtype` (which
    # then counts the weights only), e.g. int4 weights with int8 activations; None: same

    @property
    def total_bytes(self) -> float:
        """Bytes touched if nothing stays on chip between ops: weights + inputs + outputs."""
        return self.weight_bytes + self.input_bytes + self.output_bytes

    @property
    def is_kernel(self) -> bool:
        """Whether the op is a kernel that pays the per-kernel overhead (:func:`does_work`)."""
        return bool(does_work(self.flops, self.macs, self.total_bytes))


#: The fused attention ops (one kernel for softmax(Q K^T) V) by the names records carry less
#: their overload: a record of one of them is a whole attention call, where a ``bmm`` record is
#: one of its two matmuls. The formula table registers these (``formulas._sdpa``, ``_flash``).
SDPA_OPS = (
    "aten.scaled_dot_product_attention",
    "aten._scaled_dot_product_flash_attention",
    "aten._scaled_dot_product_flash_attention_for_cpu",
    "aten._scaled_dot_product_efficient_attention",
    "aten._scaled_dot_product_cudnn_attention",
)
FLASH_ATTENTION_OPS = ("aten._flash_attention_forward", "aten._efficient_attention_forward")
FUSED_ATTENTION_OPS = frozenset(SDPA_OPS + FLASH_ATTENTION_OPS)


#: The convolution ops by the names records carry less their overload (``formulas`` registers
#: them): a linear-class record of one is the GEMM of a convolution PyTorch runs natively
#: (``measurement/conv_kernels.py``), the weights times the im2col columns
CONV_OPS = frozenset(("aten.convolution", "aten._convolution", "aten.convolution_overrideable"))


def _op_name(op: str) -> str:
    """``aten.NAME`` of a record's ``op`` (``aten.NAME.OVERLOAD``, a part's ``[name]`` after it)."""
    return op.split("[", 1)[0].rsplit(".", 1)[0]


def is_fused_attention(op: str) -> bool:
    """Whether a record's ``op`` is a fused attention call."""
    return _op_name(op) in FUSED_ATTENTION_OPS


def is_conv_op(op: str) -> bool:
    """Whether a record's ``op`` is a convolution (:data:`CONV_OPS`)."""
    return _op_name(op) in CONV_OPS


def does_work(flops: Any, macs: Any, total_bytes: Any) -> Any:
    """Whether an op does any work (operations or bytes): what the performance model counts as
    a kernel. Scalars or arrays alike (``LayerTable.is_kernel`` applies it to a stage's)."""
    return (flops > 0) | (macs > 0) | (total_bytes > 0)


@dataclass(frozen=True)
class Trace:
    """Everything one traced call did (made by :func:`zoomwatt.workload.trace_call`; plain
    data, so that a trace read back from the workload cache needs no torch)."""

    records: tuple[LayerRecord, ...]
    params: int  # parameters the call read (each once), i.e. what must be resident
    weight_bytes: float  # params * bytes per weight
    peak_activation_bytes: float  # largest live activation set during the call, inputs included
    input_shapes: tuple[tuple[int, ...], ...]  # tensor inputs of the call, in order
    output_shape: tuple[int, ...]  # the output selected by the caller
    unknown_ops: tuple[str, ...]  # aten ops not in the formula table (recorded as 0-FLOP "other")
