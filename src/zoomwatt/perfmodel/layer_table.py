"""The layers of all stages as flat numpy arrays (one entry per layer), built once.

The roofline works on these arrays, so evaluating a device, or thousands of device/efficiency
combinations (with leading batch axes on the device parameters), never loops over Python
objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zoomwatt.perfmodel.stage import Stage
from zoomwatt.workload.records import (
    DTYPE_BYTES,
    LayerRecord,
    OpClass,
    does_work,
    is_conv_op,
    is_fused_attention,
)

OP_CLASSES: tuple[OpClass, ...] = tuple(OpClass)
OP_CLASS_INDEX = {c: i for i, c in enumerate(OP_CLASSES)}
DTYPES: tuple[str, ...] = tuple(DTYPE_BYTES)
DTYPE_INDEX = {d: i for i, d in enumerate(DTYPES)}


@dataclass(frozen=True)
class LayerTable:
    """Struct of arrays over every layer of every stage (one call of each stage)."""

    stages: tuple[Stage, ...]
    stage_index: np.ndarray  # int, which stage each layer belongs to
    op_class: np.ndarray  # int, index into OP_CLASSES
    dtype: np.ndarray  # int, index into DTYPES: the dtype the arithmetic runs in
    macs: np.ndarray  # multiply-accumulates
    ops: np.ndarray  # operations to execute: max(flops, 2 * macs)
    extra_ops: np.ndarray  # non-MAC operations: ops - 2 * macs
    weight_bytes: np.ndarray
    activation_bytes: np.ndarray  # input + output bytes
    input_bytes: np.ndarray
    output_bytes: np.ndarray
    total_bytes: np.ndarray  # weights + inputs + outputs
    is_kernel: np.ndarray  # bool, the layer does any work (pays the per-kernel overhead)
    reuse: np.ndarray  # what the small-size factor amortizes over: MACs per weight element
    # (the rows, batch x pixels or tokens, sharing each weight) of a conv or linear; a fused
    # attention call's MACs (a fixed cost per call); inf for other layers
    conv_gemm: np.ndarray | None = None  # bool, a linear-class record of a convolution op:
    # the GEMM of a convolution PyTorch runs natively (weights @ im2col columns)
    weight_dtype: np.ndarray | None = None  # int, index into DTYPES: the weights' storage dtype

    @property
    def n_layers(self) -> int:
        return int(self.macs.shape[0])

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    @property
    def calls_per_keyframe(self) -> np.ndarray:
        return np.array([s.calls_per_keyframe for s in self.stages], dtype=float)

    def used_dtypes(self, mask: np.ndarray | None = None) -> tuple[str, ...]:
        """Compute dtypes of the layers (of those selected by ``mask``)."""
        codes = self.dtype if mask is None else self.dtype[mask]
        return tuple(DTYPES[i] for i in np.unique(codes))


def compute_storage_dtype(layer: LayerRecord) -> str:
    """The dtype the layer's arithmetic needs: the wider of its weight dtype and its activation
    dtype (int4 weights with fp16 activations compute in fp16; with int8 ones in int8)."""
    act = getattr(layer, "activation_dtype", None)
    if act is None or act == layer.dtype:
        return layer.dtype
    return act if DTYPE_BYTES.get(act, 0.0) >= DTYPE_BYTES.get(layer.dtype, 0.0) else layer.dtype


def build_layer_table(stages: Sequence[Stage]) -> LayerTable:
    """Flatten ``stages`` (see :func:`~zoomwatt.perfmodel.stage.make_stage`) into arrays."""
    stages = tuple(stages)
    layers = [(i, layer) for i, stage in enumerate(stages) for layer in stage.layers]
    n = len(layers)
    stage_index = np.fromiter((i for i, _ in layers), dtype=np.int64, count=n)
    op_class = np.fromiter((OP_CLASS_INDEX[la.op_class] for _, la in layers), np.int64, count=n)
    dtype = np.fromiter(
        (DTYPE_INDEX[compute_storage_dtype(la)] for _, la in layers), np.int64, count=n
    )
    macs = np.fromiter((la.macs for _, la in layers), dtype=float, count=n)
    flops = np.fromiter((la.flops for _, la in layers), dtype=float, count=n)
    weight = np.fromiter((la.weight_bytes for _, la in layers), dtype=float, count=n)
    inputs = np.fromiter((la.input_bytes for _, la in layers), float, count=n)
    outputs = np.fromiter((la.output_bytes for _, la in layers), float, count=n)
    act = inputs + outputs
    ops = np.maximum(flops, 2.0 * macs)
    total = weight + act
    # weight elements in the layer's own storage dtype (an int4 weight is half a byte)
    elements = np.fromiter(
        (la.weight_bytes / DTYPE_BYTES[la.dtype] for _, la in layers), dtype=float, count=n
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        reuse = np.where((elements > 0) & (macs > 0), macs / elements, np.inf)
    fused_attention = np.fromiter(
        (la.op_class is OpClass.ATTENTION and is_fused_attention(la.op) for _, la in layers),
        dtype=bool,
        count=n,
    )
    reuse = np.where(fused_attention & (macs > 0), macs, reuse)
    conv_gemm = np.fromiter(
        (la.op_class is OpClass.LINEAR and is_conv_op(la.op) for _, la in layers),
        dtype=bool,
        count=n,
    )
    return LayerTable(
        stages=stages,
        stage_index=stage_index,
        op_class=op_class,
        dtype=dtype,
        macs=macs,
        ops=ops,
        extra_ops=ops - 2.0 * macs,
        weight_bytes=weight,
        activation_bytes=act,
        input_bytes=inputs,
        output_bytes=outputs,
        total_bytes=total,
        is_kernel=does_work(flops, macs, total),
        reuse=reuse,
        conv_gemm=conv_gemm,
        weight_dtype=np.fromiter((DTYPE_INDEX[la.dtype] for _, la in layers), np.int64, count=n),
    )
