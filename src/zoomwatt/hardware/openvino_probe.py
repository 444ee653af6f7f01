"""The OpenVINO runtime on this CPU, as a probe: the conv and GEMM rates of its CPU plugin and the
cost of one more node in a compiled graph.

What differs from eager PyTorch on a CPU is where a layer's weights are put into the kernel's
layout: eager oneDNN reorders them at every call (the host profile's ``reuse_half``, and the
page faults of the fresh buffer it reorders into: hardware/fresh_buffers.py), OpenVINO
once, when the model is compiled (the weights are constants of the graph). So the probe builds
each micro-benchmark as an OpenVINO model with its weights as constants (``opset13``, no
PyTorch conversion), compiles it for the CPU in fp32 (``INFERENCE_PRECISION_HINT f32``: a
CPU with AMX or AVX512-BF16 would otherwise run bf16) on PyTorch's thread count, and times
inference. The model is a chain of CHAIN_LAYERS layers of the shape measured, each with its
own weights and its input the output of the one before, as a compiled model runs its layers:
every layer's weights are its own (cold where 8 layers' weights exceed the cache, as a
model's are; the large-reuse point too, unlike eager's), the inputs warm, and one inference's
fixed cost is shared by the chain. One
layer a model, each its own inference, ran the SD2 UNet's linear layers at its shapes 37%
slower than OpenVINO's profiler timed them in the compiled UNet (0.48 against 0.35 s a call,
128 px, batch 2, AMD EPYC, 2026-12-02), a chain of 8 of each 10% slower (0.39 s).

The ``openvino-int8`` stack is the same runtime with NNCF's data-free int8 weights (the
``nncf-int8`` lever): its probe gives every layer the weights NNCF writes (INT8_ASYM: uint8
per output channel, with a zero point and a scale, decompressed in the graph). What the CPU
plugin makes of them is what it measures: its FullyConnected layers decompress in the kernel
(on the AVX2 EPYC here 25% slower than fp32 ones at 512 rows, as fast at 77), its
convolutions' weights are decompressed when the model is compiled (the compiled UNet's
profile lists fp32 convolution kernels only).
:func:`make_stack_probe` returns None and the reason where OpenVINO is not
installed (the do-nothing case: the stack is then not calibrated, and says why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from zoomwatt.errors import InputError, NotMeasurableError
from zoomwatt.hardware.host_probe import typical_time

log = logging.getLogger(__name__)

STACK = "openvino"
INT8_STACK = "openvino-int8"  # the same runtime, NNCF's int8 weights (module text)
WEIGHTS_OF_STACK = {STACK: "fp32", INT8_STACK: "int8"}
OVERHEAD_NODES = 64  # 1x1 convs in the graph whose time per node is the per-node overhead
CHAIN_LAYERS = 8  # layers of a rate micro-benchmark's chain (module text)
#: Bumped when the probe measures differently: recorded with the runtime's version, so that a
#: host profile calibrated by an earlier probe is calibrated again (2: chained layers).
PROBE_REVISION = 2


class OpenVINOProbe:
    """Micro-benchmarks through OpenVINO's CPU plugin, fp32, with fp32 or NNCF-style int8
    weights (``weights``; see the module docstring)."""

    def __init__(self, threads: int, weights: str = "fp32") -> None:
        import numpy as np
        import openvino as ov

        from zoomwatt.pipeline.backends.openvino_stage import cpu_config

        self.np, self.ov = np, ov
        self.core = ov.Core()
        self.config = cpu_config(threads)  # as the openvino lever runs
        if weights not in WEIGHTS_OF_STACK.values():
            raise InputError("weights", weights, f"one of {', '.join(WEIGHTS_OF_STACK.values())}")
        self.version = probe_version(ov.__version__.split("-")[0])
        self.weights = weights
        self.name = next(stack for stack, w in WEIGHTS_OF_STACK.items() if w == weights)
        self._requests: dict[tuple, Any] = {}  # (layer, shape, macs, layers) -> infer request

    def identity(self) -> dict[str, str]:
        return {"openvino": self.version, "weights": self.weights}

    def _compiled(self, build: Callable[[Any], Any], seed: int) -> Any:
        try:
            return self.core.compile_model(build(seed), "CPU", self.config).create_infer_request()
        except RuntimeError as exc:  # the runtime's errors enter here
            raise NotMeasurableError(
                f"OpenVINO {self.version} could not compile a micro-benchmark for the CPU "
                f"({str(exc).splitlines()[0][:120]}); reinstall openvino or calibrate without it"
            ) from exc

    def _rate(self, layer, shape_in, macs: int, min_time_s: float):
        """OP/s of one layer of a chain of CHAIN_LAYERS (module text): ``layer(node, i, rng)``
        adds the chain's ``i``-th layer after ``node``, ``macs`` each; every layer brings its
        own weights. Compiled once per probe."""
        layers = CHAIN_LAYERS
        key = (layer.__qualname__, tuple(shape_in), macs, layers)
        np = self.np

        def build(seed: int) -> Any:
            rng = np.random.default_rng(seed)
            x = self._ops().parameter(list(shape_in), np.float32)
            y = x
            for i in range(layers):
                y = layer(y, i, rng)
            return self.ov.Model([y], [x])

        if key not in self._requests:
            self._requests[key] = self._compiled(build, 0)
        request = self._requests[key]
        x = np.random.default_rng(0).standard_normal(shape_in).astype(np.float32)

        def chain() -> None:  # no copy of the input or the output: only the layers are timed
            request.infer([x], share_inputs=True, share_outputs=True)

        seconds = typical_time(chain, lambda: None, min_time_s) / layers
        return 2.0 * macs / seconds

    def _weights(self, rng: Any, shape: tuple[int, ...], fan_in: int) -> Any:
        """Normal weights of ``shape`` scaled by 1/sqrt(``fan_in``) (a chain's activations
        keep their size: no overflow to infinities, no denormals), as graph constants: fp32,
        or NNCF's INT8_ASYM form of them with int8 ``weights``."""
        np, ops = self.np, self._ops()
        w = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
        if self.weights == "fp32":
            return ops.constant(w)
        # per output channel (axis 0): w ~ (q - zero point) x scale, q and zero point uint8
        axes = tuple(range(1, w.ndim))
        low, high = w.min(axes, keepdims=True), w.max(axes, keepdims=True)
        scale = np.maximum(high - low, 1e-12) / 255.0
        zero = np.clip(np.round(-low / scale), 0, 255)
        q = np.clip(np.round(w / scale + zero), 0, 255).astype(np.uint8)
        # the graph NNCF 3 writes (nncf.compress_weights, INT8_ASYM): uint8 weights and zero
        # points to fp16, subtracted, times fp16 scales, then to fp32
        values = ops.convert(ops.constant(q), np.float16)
        offset = ops.convert(ops.constant(zero.astype(np.uint8)), np.float16)
        scaled = ops.multiply(ops.subtract(values, offset), ops.constant(scale.astype(np.float16)))
        return ops.convert(scaled, np.float32)

    def conv_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        """A 3x3 conv, channels in = out, (channels, side, batch), padding 1: OP/s."""
        if dtype != "fp32":
            return None
        channels, side, batch = shape
        ops = self._ops()

        def conv(node: Any, _i: int, rng: Any) -> Any:
            w = self._weights(rng, (channels, channels, 3, 3), 9 * channels)
            return ops.convolution(node, w, [1, 1], [1, 1], [1, 1], [1, 1])

        macs = channels * channels * 9 * side * side * batch
        shape_in = (batch, channels, side, side)
        return self._rate(conv, shape_in, macs, min_time_s)  # cold_bytes: the chain's own

    def gemm_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        """(rows, in, out) x @ w.T, as a linear layer: OP/s. The chain's layers alternate
        in -> out and out -> in (the same MACs)."""
        if dtype != "fp32":
            return None
        m, k, n = shape
        ops = self._ops()

        def linear(node: Any, i: int, rng: Any) -> Any:
            fan_in, out = (k, n) if i % 2 == 0 else (n, k)
            return ops.matmul(node, self._weights(rng, (out, fan_in), fan_in), False, True)

        return self._rate(linear, (m, k), m * k * n, min_time_s)  # cold_bytes: the chain's own

    def kernel_overhead_s(self, min_time_s: float) -> float:
        """Time per node of a chain of OVERHEAD_NODES 1x1 convs on a (1, 8, 4, 4) tensor (each
        does 1,024 MACs: 8 x 8 x 16), minus nothing: the arithmetic is negligible."""
        np, ops = self.np, self._ops()

        def build(_seed: int) -> Any:
            x = ops.parameter([1, 8, 4, 4], np.float32)
            y = x
            for i in range(OVERHEAD_NODES):
                w = (np.eye(8, dtype=np.float32) * (0.5 + i % 2)).reshape(8, 8, 1, 1)
                y = ops.convolution(y, ops.constant(w), [1, 1], [0, 0], [0, 0], [1, 1])
            return self.ov.Model([y], [x])

        request = self._compiled(build, 0)
        x = np.ones((1, 8, 4, 4), np.float32)
        run = lambda: request.infer([x], share_inputs=True, share_outputs=True)  # noqa: E731
        return typical_time(run, lambda: None, min_time_s) / OVERHEAD_NODES

    @staticmethod
    def _ops() -> Any:
        import openvino.opset13 as ops

        return ops


def probe_version(runtime: str) -> str:
    """What a calibration records for a stack: its runtime's version and PROBE_REVISION."""
    return f"{runtime}+probe{PROBE_REVISION}"


def stack_version(name: str) -> str | None:
    """The installed version of stack ``name``'s runtime (openvino's, for ``openvino`` and
    ``openvino-int8``) with this probe's revision, None if not installed."""
    if name not in WEIGHTS_OF_STACK:
        return None
    import importlib.metadata

    try:
        return probe_version(importlib.metadata.version("openvino"))
    except importlib.metadata.PackageNotFoundError:
        return None


def make_stack_probe(name: str, threads: int) -> tuple[OpenVINOProbe | None, str | None]:
    """The probe of stack ``name`` on this CPU and None, or None and why it cannot run here."""
    if name not in WEIGHTS_OF_STACK:
        stacks = " and ".join(WEIGHTS_OF_STACK)
        return None, f"stack {name} cannot be calibrated on this machine (only {stacks})"
    from zoomwatt.pipeline.backends.levers import unavailable_reason

    reason = unavailable_reason("openvino", "cpu")  # the package is installed (the int8
    # weights are built here, in NNCF's form: nncf itself is not needed)
    if reason is not None:
        return None, reason
    try:
        return OpenVINOProbe(threads, WEIGHTS_OF_STACK[name]), None
    except Exception as exc:  # a broken install (a missing shared library): said, not raised
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return None, f"the openvino package does not load ({first}); reinstall it"
