"""Which kernel eager PyTorch runs each convolution of a traced model with on this CPU, and the
records rewritten as what that kernel computes.

On a CPU an fp32 ``aten.convolution`` goes either to oneDNN, which reorders the weights into its
blocked layout at every eager call (the ``conv`` class: host calibration times it, at a large
and a small weight reuse, and fits its ``reuse_half``), or to PyTorch's native ``slow_conv2d``:
an im2col copy, then one GEMM of the weights as an (out, in x kh x kw) matrix, with no reorder.
PyTorch takes the native kernel for a batch-1 input of at most 20480 elements and a kernel of
at most 3x3 ("for some case, native is faster", ``ConvParams::use_mkldnn``): at 128 px the
UNet's two deepest levels without guidance, TAESD's latent-sized layers. The choice is asked of
the installed PyTorch (``torch._C._select_conv_backend`` on stride-0 CPU tensors of the traced
shapes), not copied from its source. A native convolution is counted as what it computes: the
im2col copy (data movement: bytes, no operations; none for a 1x1 kernel without stride or
padding, which the GEMM reads in place) and a GEMM (the ``linear`` class, whose calibrated
efficiency and reuse_half are MKL's GEMM with cold weights), with the same MACs and weights.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from zoomwatt.workload.records import DTYPE_BYTES, LayerRecord, OpClass

log = logging.getLogger(__name__)

NATIVE = "Slow2d"  # torch._C._ConvBackend's name of slow_conv2d (im2col + GEMM)
IM2COL_OP = "im2col (slow_conv2d)"
_TORCH_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclasses.dataclass(frozen=True)
class ConvCall:
    """One convolution call's shapes and arguments, as the traced model made it."""

    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    output_numel: int

    @property
    def needs_columns(self) -> bool:
        """slow_conv2d copies the input into columns unless the kernel is 1x1, unstrided and
        unpadded."""
        return (
            any(k != 1 for k in self.weight_shape[2:])
            or any(s != 1 for s in self.stride)
            or any(p != 0 for p in self.padding)
        )

    @property
    def column_numel(self) -> int:
        """Elements of the im2col matrix: (in / groups x kh x kw) per output pixel of each
        group, i.e. in x kh x kw x output pixels x batch."""
        out_channels = self.weight_shape[0]
        pixels = self.output_numel // out_channels
        kernel = 1
        for k in self.weight_shape[2:]:
            kernel *= k
        return self.input_shape[1] * kernel * pixels


def conv_calls(module: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict:
    """Module path (relative to ``module``) -> :class:`ConvCall` of every 2-d convolution
    ``fn(*args, **kwargs)`` runs (meta tensors: nothing is computed)."""
    import torch

    found: dict[str, ConvCall] = {}
    handles = []

    def keep(name: str) -> Callable[..., None]:
        def hook(conv: Any, inputs: tuple, output: Any) -> None:
            found[name] = ConvCall(
                tuple(inputs[0].shape),
                tuple(conv.weight.shape),
                tuple(conv.stride),
                tuple(conv.padding) if not isinstance(conv.padding, str) else (-1, -1),
                tuple(conv.dilation),
                int(conv.groups),
                int(output.numel()),
            )

        return hook

    for name, sub in module.named_modules():
        if isinstance(sub, torch.nn.Conv2d):
            handles.append(sub.register_forward_hook(keep(name)))
    try:
        with torch.no_grad():
            fn(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return found


def cpu_backend(call: ConvCall, dtype: str = "fp32") -> str | None:
    """The kernel PyTorch on this CPU picks for ``call`` in ``dtype`` (``"Mkldnn"``,
    ``"Slow2d"``, ...), with this process's thread count; None where this PyTorch cannot
    say (no ``torch._C._select_conv_backend``, or a padding given as text)."""
    import torch

    select = getattr(torch._C, "_select_conv_backend", None)
    if select is None or dtype not in _TORCH_DTYPES or -1 in call.padding:
        return None
    kind = getattr(torch, _TORCH_DTYPES[dtype])
    one = torch.zeros(1, dtype=kind)  # stride-0 views: the traced shapes, no memory
    x, w = one.expand(*call.input_shape), one.expand(*call.weight_shape)
    spatial = len(call.weight_shape) - 2
    try:
        backend = select(
            x, w, None, list(call.stride), list(call.padding), list(call.dilation),
            False, [0] * spatial, call.groups, None,
        )  # fmt: skip
    except (RuntimeError, TypeError) as exc:  # an older or newer signature
        log.info("conv kernel choice not readable from this PyTorch: %s", exc)
        return None
    return str(backend).rpartition(".")[2]


def native_records(
    records: tuple[LayerRecord, ...], calls: dict[str, ConvCall], dtype: str = "fp32"
) -> list[LayerRecord]:
    """``records`` with each convolution PyTorch runs natively here (:data:`NATIVE`) counted
    as its im2col copy and its GEMM (module text); the others unchanged."""
    out: list[LayerRecord] = []
    for r in records:
        call = calls.get(r.module) if r.op_class is OpClass.CONV else None
        if call is None or cpu_backend(call, dtype) != NATIVE:
            out.append(r)
            continue
        gemm_input = r.input_bytes
        if call.needs_columns:
            per = DTYPE_BYTES[r.activation_dtype or r.dtype]
            gemm_input = call.column_numel * per
            out.append(
                dataclasses.replace(
                    r,
                    op=IM2COL_OP,
                    op_class=OpClass.DATA_MOVEMENT,
                    macs=0,
                    flops=0,
                    weight_bytes=0.0,
                    output_bytes=gemm_input,
                )
            )
        out.append(dataclasses.replace(r, op_class=OpClass.LINEAR, input_bytes=gemm_input))
    return out
