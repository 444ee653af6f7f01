"""Predicted effect of quantization, sparsity and weight sharing on the layers: the layer table
(:class:`~zoomwatt.perfmodel.LayerTable`) of the fp16 workload, rewritten as the compressed
model would run it. No re-tracing: only the arrays change.

Quantization ``wXaY`` (weights in X, activations in Y):

    weight bytes x B(X) / B(fp16),  activation bytes x B(Y) / B(fp16)
    compute dtype = the wider of X and Y (int4 weights with fp16 activations compute in fp16:
    weight-only quantization saves bytes, not MACs), as ``characterize(dtype=...)`` counts it.

A device without an int4 engine computes int4 in int8 (``perfmodel`` fallback): smaller
weights, no int4 speed-up.

Sparsity and sharing change only the stored weights of conv and linear layers (n weights):

    2:4      n/2 values + a 2-bit position per kept value (NVIDIA's metadata); runs at the
             sparse peak where the device has one (``DeviceParams.use_sparse``)
    prune50  n/2 values + a 4-bit relative index per kept value (Deep Compression's conv
             format); no dense engine skips zeros, so only bytes shrink
    share b  a b-bit index per kept value + 2^b fp16 shared values per layer (decoded on chip
             to the compute dtype); only where b is below the weight's bits
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zoomwatt.errors import InputError
from zoomwatt.perfmodel.layer_table import DTYPE_INDEX, OP_CLASS_INDEX, LayerTable
from zoomwatt.workload.records import DTYPE_BYTES, OpClass

QUANT_DTYPES: dict[str, tuple[str, str]] = {
    "fp16": ("fp16", "fp16"),
    "w8a16": ("int8", "fp16"),
    "w4a16": ("int4", "fp16"),
    "w8a8": ("int8", "int8"),
    "w4a8": ("int4", "int8"),
}
SPARSITIES = ("dense", "2:4", "prune50")
INDEX_BITS = {"2:4": 2.0, "prune50": 4.0}
KEPT = {"dense": 1.0, "2:4": 0.5, "prune50": 0.5}
SHARE_BITS = (0, 4, 6)  # 0: no sharing
BASE_DTYPE = "fp16"
WEIGHT_CLASSES = (OP_CLASS_INDEX[OpClass.CONV], OP_CLASS_INDEX[OpClass.LINEAR])


def check_choice(quant: str, sparsity: str, share_bits: int) -> None:
    if quant not in QUANT_DTYPES:
        raise InputError("quant", quant, f"one of {list(QUANT_DTYPES)}")
    if sparsity not in SPARSITIES:
        raise InputError("sparsity", sparsity, f"one of {SPARSITIES}")
    if share_bits not in SHARE_BITS:
        raise InputError("share_bits", share_bits, f"one of {SHARE_BITS} (0: no sharing)")


def sharing_applies(quant: str, share_bits: int) -> bool:
    """Sharing with b-bit indices only compresses weights stored in more than b bits."""
    return 0 < share_bits < 8 * DTYPE_BYTES[QUANT_DTYPES[quant][0]]


def wider(a: str, b: str) -> str:
    return a if DTYPE_BYTES[a] >= DTYPE_BYTES[b] else b


def compressed_table(
    table: LayerTable,
    quant: str = "fp16",
    sparsity: str = "dense",
    share_bits: int = 0,
    weight_classes: tuple[OpClass, ...] = (OpClass.CONV, OpClass.LINEAR),
) -> LayerTable:
    """``table`` (model stages traced in fp16) as the compressed model runs it;
    ``weight_classes``: the conv and linear classes whose weights are stored so (a stack that
    keeps int8 weights in its linear kernels only, :data:`~zoomwatt.hardware.schema.
    INT8_WEIGHT_CLASSES`, reads the others' in fp16)."""
    # 1. inputs
    check_choice(quant, sparsity, share_bits)
    base = np.unique(table.dtype)
    if base.size and set(base.tolist()) != {DTYPE_INDEX[BASE_DTYPE]}:
        raise InputError("table", "a table not traced in fp16", "the fp16 workload's model stages")
    w_dtype, a_dtype = QUANT_DTYPES[quant]
    w_ratio = DTYPE_BYTES[w_dtype] / DTYPE_BYTES[BASE_DTYPE]
    a_ratio = DTYPE_BYTES[a_dtype] / DTYPE_BYTES[BASE_DTYPE]

    # 2. weights: dtype, then sparsity and sharing on conv/linear layers (those of
    # ``weight_classes``; the others keep their fp16 bytes)
    kept = np.isin(table.op_class, WEIGHT_CLASSES) & ~np.isin(
        table.op_class, [OP_CLASS_INDEX[c] for c in weight_classes]
    )
    weight = np.where(kept, table.weight_bytes, table.weight_bytes * w_ratio)
    is_weight_layer = np.isin(table.op_class, WEIGHT_CLASSES) & (table.weight_bytes > 0) & ~kept
    n = table.weight_bytes / DTYPE_BYTES[BASE_DTYPE]  # weights per layer
    value_bits = 8 * DTYPE_BYTES[w_dtype]
    codebook_bits = 0.0
    if sharing_applies(quant, share_bits):
        value_bits = float(share_bits)
        codebook_bits = (1 << share_bits) * 16.0
    stored_bits = n * KEPT[sparsity] * (value_bits + INDEX_BITS.get(sparsity, 0.0)) + codebook_bits
    weight = np.where(is_weight_layer, stored_bits / 8.0, weight)

    # 3. activations and compute dtype
    act = table.activation_bytes * a_ratio
    compute = np.full_like(table.dtype, DTYPE_INDEX[wider(w_dtype, a_dtype)])
    return dataclasses.replace(
        table,
        dtype=compute,
        weight_bytes=weight,
        activation_bytes=act,
        input_bytes=table.input_bytes * a_ratio,
        output_bytes=table.output_bytes * a_ratio,
        total_bytes=weight + act,
    )


def weight_ratio(table: LayerTable, compressed: LayerTable) -> np.ndarray:
    """Stored weight bytes after / before, per stage (for the memory footprint)."""
    before = np.bincount(table.stage_index, table.weight_bytes, minlength=table.n_stages)
    after = np.bincount(compressed.stage_index, compressed.weight_bytes, minlength=table.n_stages)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, after / before, 1.0)
