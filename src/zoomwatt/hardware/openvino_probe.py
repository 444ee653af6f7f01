"""The OpenVINO runtime on this CPU, as a probe: the conv and GEMM rates of its CPU plugin and the
cost of one more node in a compiled graph.

What differs from eager PyTorch on a CPU is where a layer's weights are put into the kernel's
layout: eager oneDNN reorders them at every call (the host profile's ``reuse_half``), OpenVINO
once, when the model is compiled (the weights are constants of the graph). So the probe builds
each micro-benchmark as a one-layer OpenVINO model with its weights as constants (``opset13``,
no PyTorch conversion), compiles it for the CPU in fp32 (``INFERENCE_PRECISION_HINT f32``: a
CPU with AMX or AVX512-BF16 would otherwise run bf16) on PyTorch's thread count, and times
inference; a small-reuse layer cycles through several compiled copies, as a model's layers
bring cold weights. :func:`make_stack_probe` returns None and the reason where OpenVINO is not
installed (the do-nothing case: the stack is then not calibrated, and says why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from zoomwatt.errors import NotMeasurableError
from zoomwatt.hardware.host_probe import cold_copies, typical_time

log = logging.getLogger(__name__)

STACK = "openvino"
OVERHEAD_NODES = 64  # 1x1 convs in the graph whose time per node is the per-node overhead


class OpenVINOProbe:
    """Micro-benchmarks through OpenVINO's CPU plugin, fp32 (see the module docstring)."""

    name = STACK

    def __init__(self, threads: int) -> None:
        import numpy as np
        import openvino as ov

        from zoomwatt.pipeline.backends.openvino_stage import cpu_config

        self.np, self.ov = np, ov
        self.core = ov.Core()
        self.config = cpu_config(threads)  # as the openvino lever runs
        self.version = ov.__version__.split("-")[0]
        self._requests: dict[tuple, list[Any]] = {}  # (layer, shape, copies) -> compiled copies

    def identity(self) -> dict[str, str]:
        return {"openvino": self.version}

    def _compiled(self, build: Callable[[Any], Any], seed: int) -> Any:
        try:
            return self.core.compile_model(build(seed), "CPU", self.config).create_infer_request()
        except RuntimeError as exc:  # the runtime's errors enter here
            raise NotMeasurableError(
                f"OpenVINO {self.version} could not compile a micro-benchmark for the CPU "
                f"({str(exc).splitlines()[0][:120]}); reinstall openvino or calibrate without it"
            ) from exc

    def _rate(self, build, shape_in, macs: int, wbytes: int, cold_bytes: int, min_time_s: float):
        """OP/s of the layer ``build`` makes, cycling through enough compiled copies (each its
        own weights) to fill ``cold_bytes``; the copies are compiled once per probe."""
        copies = cold_copies(cold_bytes, wbytes)
        key = (build.__qualname__, tuple(shape_in), macs, copies)
        if key not in self._requests:
            self._requests[key] = [self._compiled(build, seed) for seed in range(copies)]
        requests = self._requests[key]
        x = self.np.random.default_rng(0).standard_normal(shape_in).astype(self.np.float32)

        def all_calls() -> None:  # no copy of the input or the output: only the layer is timed
            for request in requests:
                request.infer([x], share_inputs=True, share_outputs=True)

        seconds = typical_time(all_calls, lambda: None, min_time_s) / copies
        return 2.0 * macs / seconds

    def conv_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        """A 3x3 conv, channels in = out, (channels, side, batch), padding 1: OP/s."""
        if dtype != "fp32":
            return None
        channels, side, batch = shape
        np, ops = self.np, self._ops()

        def build(seed: int) -> Any:
            x = ops.parameter([batch, channels, side, side], np.float32)
            w = np.random.default_rng(seed).standard_normal((channels, channels, 3, 3))
            y = ops.convolution(
                x, ops.constant(w.astype(np.float32)), [1, 1], [1, 1], [1, 1], [1, 1]
            )
            return self.ov.Model([y], [x])

        macs = channels * channels * 9 * side * side * batch
        shape_in = (batch, channels, side, side)
        return self._rate(build, shape_in, macs, channels * channels * 36, cold_bytes, min_time_s)

    def gemm_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        """(rows, in, out) x @ w.T, as a linear layer: OP/s."""
        if dtype != "fp32":
            return None
        m, k, n = shape
        np, ops = self.np, self._ops()

        def build(seed: int) -> Any:
            x = ops.parameter([m, k], np.float32)
            w = np.random.default_rng(seed).standard_normal((n, k)).astype(np.float32)
            return self.ov.Model([ops.matmul(x, ops.constant(w), False, True)], [x])

        return self._rate(build, (m, k), m * k * n, n * k * 4, cold_bytes, min_time_s)

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


def stack_version(name: str) -> str | None:
    """The installed version of stack ``name``'s runtime (``openvino``), None if not installed."""
    if name != STACK:
        return None
    import importlib.metadata

    try:
        return importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        return None


def make_stack_probe(name: str, threads: int) -> tuple[OpenVINOProbe | None, str | None]:
    """The probe of stack ``name`` on this CPU and None, or None and why it cannot run here."""
    if name != STACK:
        return None, f"stack {name} cannot be calibrated on this machine (only {STACK})"
    from zoomwatt.pipeline.backends.levers import unavailable_reason

    reason = unavailable_reason("openvino", "cpu")  # the lever's: the package is installed
    if reason is not None:
        return None, reason
    try:
        return OpenVINOProbe(threads), None
    except Exception as exc:  # a broken install (a missing shared library): said, not raised
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return None, f"the openvino package does not load ({first}); reinstall it"
