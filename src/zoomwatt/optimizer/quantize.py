"""Real weight (and activation) quantization of tensors: fp16, bf16, int8, int4.

Integer formats are symmetric with a scale per output channel (``per_channel``) or per group of
``group_size`` consecutive input elements of each output channel (``per_group``):

    scale = max |w| / qmax,   q = clamp(round(w / scale), -qmax - 1, qmax),   w' = q x scale
    qmax = 2^(bits-1) - 1   (int8: 127, int4: 7)

The integers and scales are what a W8/W4 kernel stores; :func:`quantize_weight` returns them
with the dequantized weights, which is what such a kernel multiplies by (the error of
weight-only kernels). Activations (``A8``) are quantized per tensor, dynamically (the scale of
each call's input), at the input of every conv and linear layer.

Why not a library: torchao 0.18 installs and runs here, but its ``quantize_`` handles
``nn.Linear`` only, and 84% of the UNet's MACs are convolutions; this one small implementation
quantizes convolutions and linears the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zoomwatt.errors import InputError

INT_BITS = {"int8": 8, "int4": 4}
FLOAT_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
WEIGHT_DTYPES = ("fp16", "bf16", "int8", "int4")
GRANULARITIES = ("per_channel", "per_group")


@dataclass(frozen=True)
class QuantScheme:
    """How a model's conv and linear layers are quantized."""

    weight: str = "int8"  # fp16, bf16, int8, int4
    activation: str | None = None  # None (kept), "fp16", "bf16" or "int8"
    granularity: str = "per_channel"  # integer weights: per_channel or per_group
    group_size: int = 128

    def __post_init__(self) -> None:
        if self.weight not in WEIGHT_DTYPES:
            raise InputError("weight", self.weight, f"one of {WEIGHT_DTYPES}")
        if self.activation not in (None, "fp16", "bf16", "int8"):
            raise InputError("activation", self.activation, "None, fp16, bf16 or int8")
        if self.granularity not in GRANULARITIES:
            raise InputError("granularity", self.granularity, f"one of {GRANULARITIES}")
        g = self.group_size
        if isinstance(g, bool) or not isinstance(g, int) or g < 1:
            raise InputError("group_size", g, "an integer >= 1")

    @property
    def name(self) -> str:
        w = {"int8": "w8", "int4": "w4"}.get(self.weight, self.weight)
        a = {None: "", "int8": "a8", "fp16": "a16", "bf16": "a16"}[self.activation]
        g = f"g{self.group_size}" if self.granularity == "per_group" and w in ("w8", "w4") else ""
        return f"{w}{a}{g}"


@dataclass(frozen=True)
class QuantizedWeight:
    """A quantized tensor: integers and scales (integer formats), and the dequantized values."""

    dequantized: torch.Tensor
    integers: torch.Tensor | None  # int8 storage of the codes (int4 codes fit in int8)
    scales: torch.Tensor | None  # one per channel or per group
    bits: int


def _rows(w: torch.Tensor) -> torch.Tensor:
    """Weights as (output channels, everything else): conv (K, C, R, S) -> (K, C*R*S)."""
    return w.reshape(w.shape[0], -1) if w.dim() > 1 else w.reshape(1, -1)


def quantize_int(
    w: torch.Tensor, bits: int, granularity: str = "per_channel", group_size: int = 128
) -> QuantizedWeight:
    """Symmetric integer quantization of ``w`` with ``bits`` bits (see module doc). A layer
    whose row length is not a multiple of ``group_size`` uses per-channel scales."""
    # 1. inputs
    if bits not in (2, 3, 4, 5, 6, 7, 8):
        raise InputError("bits", bits, "an integer in 2..8")
    if granularity not in GRANULARITIES:
        raise InputError("granularity", granularity, f"one of {GRANULARITIES}")
    # 2. scales
    rows = _rows(w.detach()).to(torch.float32)
    qmax = (1 << (bits - 1)) - 1
    grouped = granularity == "per_group" and rows.shape[1] % group_size == 0
    blocks = rows.reshape(rows.shape[0], -1, group_size) if grouped else rows.unsqueeze(1)
    scales = blocks.abs().amax(dim=-1, keepdim=True) / qmax
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    # 3. codes and dequantized values
    codes = torch.clamp(torch.round(blocks / scales), -qmax - 1, qmax)
    deq = (codes * scales).reshape(w.shape).to(w.dtype)
    return QuantizedWeight(deq, codes.to(torch.int8).reshape(w.shape), scales.squeeze(-1), bits)


def quantize_weight(w: torch.Tensor, scheme: QuantScheme) -> QuantizedWeight:
    """Quantize one weight tensor as ``scheme`` says."""
    if scheme.weight in FLOAT_DTYPES:
        deq = w.detach().to(FLOAT_DTYPES[scheme.weight]).to(w.dtype)
        return QuantizedWeight(deq, None, None, 16)
    return quantize_int(w, INT_BITS[scheme.weight], scheme.granularity, scheme.group_size)


def quantize_activation(x: torch.Tensor, dtype: str) -> torch.Tensor:
    """Round an activation tensor to ``dtype`` (int8: symmetric, one dynamic scale per tensor)."""
    if dtype in FLOAT_DTYPES:
        return x.to(FLOAT_DTYPES[dtype]).to(x.dtype)
    if dtype != "int8":
        raise InputError("activation dtype", dtype, "fp16, bf16 or int8")
    scale = x.detach().abs().amax() / 127
    if scale == 0:
        return x
    return torch.clamp(torch.round(x / scale), -128, 127) * scale
