"""Access to the machine zoomwatt runs on: the one place that times kernels and reads limits.

:class:`HostProbe` is the interface host calibration uses; :class:`TorchCpuProbe` and
:class:`TorchCudaProbe` implement it with PyTorch (CPU threads, or one CUDA device). Anything
that cannot be measured raises :class:`~zoomwatt.errors.NotMeasurableError` with the fix in the
message; a dtype the device cannot run returns ``None``.
"""

from __future__ import annotations

import itertools
import logging
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from zoomwatt.errors import InputError, NotMeasurableError
from zoomwatt.workload.conv_layout import channels_last_convs

log = logging.getLogger(__name__)

PROBE_DEVICES = ("auto", "cpu", "cuda")
_TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "int8"}


class HostProbe(Protocol):
    """What host calibration needs from a machine."""

    kind: str  # "cpu" or "cuda"

    def identity(self) -> dict[str, str]:
        """Name and fingerprint fields (model, cores, library versions) of the device."""
        ...

    def matmul_ops_per_s(self, dtype: str, n: int, min_time_s: float) -> float | None:
        """Best OP/s (2 per MAC) of an n x n x n matmul in ``dtype``; None if unsupported."""
        ...

    def gemm_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        """Best OP/s of a linear layer with a bias, (m, k, n) = (rows, in, out features),
        cycling through enough weight copies to fill ``cold_bytes`` so each call reads weights
        not in cache (as in a model, where every layer has its own); None if unsupported. The
        bias is there because a model's layers have one (all of SD 2's but the UNet
        attention's query, key and value projections), and in bf16 it is not free: on the AMX
        Xeon (2026-12-03) a bias cost 30% at 2048x320->2560, 15% at 2048x320->320, 10% at
        77x1024->1024, 4% at 512x1024->4096; in fp32 0-6%."""
        ...

    def conv_gemm_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        """OP/s of the GEMM of PyTorch's native convolution (``slow_conv2d``: im2col, then the
        weights as an (out, in x kh x kw) matrix times the columns), (m, k, n) = (rows: output
        pixels x batch, in x kh x kw, out channels), with cold weights as in
        :meth:`gemm_ops_per_s`; None if unsupported."""
        ...

    def conv_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        """Best OP/s of a 3x3 convolution, (channels in = out, side, batch), padding 1, with
        cold weights as in :meth:`gemm_ops_per_s`, in the memory format the pipeline runs
        ``dtype``'s convolutions in (:func:`~zoomwatt.workload.conv_layout.channels_last_convs`);
        None if unsupported."""
        ...

    def elementwise_elements_per_s(
        self, op: str, dtype: str, numel: int, min_time_s: float
    ) -> float | None:
        """Best elements/s of ``op`` ('silu', 'group_norm' (32 groups), 'add',
        'upsample_bilinear' (2x, on :func:`as_image` of the tensor), 'sum' (over the last
        axis)) on a ``dtype`` tensor of ``numel`` elements (shape (1, 128, numel / 128)),
        output freshly allocated as in a model; None if unsupported."""
        ...

    def attention_seconds(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float
    ) -> float | None:
        """Best time of ``dtype`` scaled-dot-product attention, (batch x heads, length, head dim),
        self-attention; None if unsupported."""
        ...

    def copy_bytes_per_s(self, nbytes: int, min_time_s: float) -> float:
        """Best (read + write) bytes/s of copying an ``nbytes`` buffer."""
        ...

    def page_fault_bytes_per_s(self, nbytes: int, min_time_s: float) -> float | None:
        """Bytes/s at which a fresh ``nbytes`` buffer's pages are faulted in: the median time of
        allocating, filling and freeing one (its unmapping included), less the median time of
        filling one already touched; None where not measurable (off a CPU, or no slower)."""
        ...

    #: What :meth:`kernel_overhead_s` timed, for the calibration record; a probe that times
    #: more than one bare kernel says what after the call (the CPU probe: the model code's).
    kernel_overhead_basis: str

    def kernel_overhead_s(self, min_time_s: float) -> float:
        """The per-kernel overhead: one tiny kernel's time (dispatch), or more where the probe
        says so in :attr:`kernel_overhead_basis`."""
        ...

    def memory_bytes(self) -> int: ...

    def cache_bytes(self) -> int | None:
        """Largest on-chip cache, None if unknown."""
        ...

    def power_limit_w(self) -> tuple[float, str] | None:
        """(power limit in W, where it was read), None if not readable."""
        ...

    def clock_hz(self) -> float | None:
        """Current or maximum clock of the compute engine, None if not readable."""
        ...


#: What a bare per-kernel overhead measurement times.
BARE_KERNEL_BASIS = "one tiny add"

#: Below this share of its threads' CPU time, a process was not alone on its cores (another
#: program held one: on a 2-core VM one core taken gives about 0.5; a quiet one gives 0.8-1.0
#: over a 0.1 s matmul). Calibration notes it, measurement drops such samples, the report says so.
BUSY_CPU_SHARE = 0.8


def cpu_share(cpu_s: float, wall_s: float, threads: int) -> float | None:
    """Process CPU time over (wall time x threads): about 1 when the process had its cores."""
    return cpu_s / (wall_s * threads) if wall_s > 0 and threads > 0 else None


def as_image(x: Any) -> Any:
    """A (1, C, L) tensor as the largest square image (1, C, s, s), s = isqrt(L): the input
    of the resampling benchmark (host calibration counts its operations on the same view)."""
    import math

    side = max(1, math.isqrt(int(x.shape[-1])))
    return x[..., : side * side].reshape(x.shape[0], x.shape[1], side, side)


def upsample_bilinear(image: Any) -> Any:
    """The resampling benchmark: 2x bilinear upsampling of ``image``."""
    import torch

    return torch.nn.functional.interpolate(image, scale_factor=2, mode="bilinear")


def _torch() -> Any:
    import torch

    return torch


def typical_time(fn: Callable[[], Any], sync: Callable[[], None], min_time_s: float) -> float:
    """The median time of one call of ``fn``, after a warm-up, repeating for about
    ``min_time_s`` (at least 3 calls). The median, not the best: a prediction made from these
    rates is compared with the median of measured stages on the same shared machine, where
    the best call runs 6-20% faster than the median one (Intel Xeon, 2 cores, 2026-12-01)."""
    fn()
    sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < min_time_s:
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
        if len(times) >= 1000:
            break
    return statistics.median(times)


#: Most weight copies a small-reuse micro-benchmark cycles through (a bound for tiny weights;
#: 4 MB weights fill a 2 x 480 MiB cold set with 240)
MAX_COLD_COPIES = 1024
COLD_CHUNKS = 8  # a cold-weight benchmark's samples: an eighth of its cycle of copies each


def _fill_fresh_mapping(torch: Any, nbytes: int) -> None:
    """Map ``nbytes`` afresh from the OS, fill them as fp32 and unmap them: every page faulted
    in, whatever the heap holds (glibc serves even a 64 MiB request from touched free heap
    memory where it has that much, after a process has freed blocks below its mmap
    threshold: then a heap-allocated buffer faults nothing)."""
    import mmap

    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS  # as malloc maps: not shared memory
    with mmap.mmap(-1, nbytes, flags=flags) as mapping:
        view = torch.frombuffer(mapping, dtype=torch.float32)
        view.fill_(1.0)
        del view  # the mapping closes only without views of it


def cold_copies(cold_bytes: int, weight_bytes: int) -> int:
    """Weight copies that fill ``cold_bytes`` (so each call brings its weights from beyond the
    cache, as a model's layers do): at least one, at most :data:`MAX_COLD_COPIES`."""
    return min(MAX_COLD_COPIES, max(1, -(-cold_bytes // max(1, weight_bytes))))


class _TorchProbe:
    kind = "cpu"

    def __init__(self) -> None:
        self.torch = _torch()
        self.device = "cpu"

    def _sync(self) -> None:
        return None

    def _matmul_fn(self, dtype: str, n: int) -> Callable[[], Any]:
        torch = self.torch
        if dtype == "int8":
            a = torch.randint(-8, 8, (n, n), dtype=torch.int8, device=self.device)
            b = torch.randint(-8, 8, (n, n), dtype=torch.int8, device=self.device)
            return lambda: torch._int_mm(a, b)
        tdtype = getattr(torch, _TORCH_DTYPES[dtype])
        a = torch.randn(n, n, device=self.device).to(tdtype)
        b = torch.randn(n, n, device=self.device).to(tdtype)
        return lambda: a @ b

    def matmul_ops_per_s(self, dtype: str, n: int, min_time_s: float) -> float | None:
        if dtype not in _TORCH_DTYPES:
            return None
        try:
            fn = self._matmul_fn(dtype, n)
            seconds = typical_time(fn, self._sync, min_time_s)
        except (RuntimeError, NotImplementedError) as exc:
            log.info("matmul %s not supported on %s: %s", dtype, self.device, exc)
            return None
        return 2.0 * n**3 / seconds

    def _copies(self, first: Any, copies: int) -> list[Any]:
        """``copies`` copies of the random weight ``first`` (cheaper than randn), with its
        strides, as views into one allocation: one block of a gigabyte is mapped afresh and
        returned whole when freed, where hundreds of 4 MB copies can leave the allocator a
        gigabyte of touched free memory, from which the fresh outputs of later benchmarks are
        served without the page faults a fresh process pays (2-core Xeon, 2026-12-03: after
        100 tensors of 16 MiB were freed under a live one, SiLU with a fresh 64 MiB output ran
        at 10.1 GB/s, against 3.4 in a fresh process)."""
        torch = self.torch
        numel = first.numel()
        dense = first.is_contiguous() or (
            first.dim() == 4 and first.is_contiguous(memory_format=torch.channels_last)
        )
        if not dense:  # views numel apart would overlap: copies of their own
            return [first] + [first.clone() for _ in range(copies - 1)]
        block = torch.empty(copies * numel, dtype=first.dtype, device=first.device)
        weights = []
        for i in range(copies):
            view = torch.as_strided(block, first.shape, first.stride(), i * numel)
            weights.append(view.copy_(first))
        return weights

    def _cold_time(
        self, make_weight: Callable[[], Any], run: Callable[[Any], Any], wbytes: int,
        cold_bytes: int, min_time_s: float,
    ) -> float:  # fmt: skip
        """Median time per call (see typical_time), cycling through enough weight copies to fill
        ``cold_bytes`` (:func:`cold_copies`). The copies are freed before the next benchmark:
        while a 2-core Xeon VM held 3 GB of them (2026-12-03), SiLU with a fresh 64 MB output
        ran at a seventh of its rate."""
        copies = cold_copies(cold_bytes, wbytes)
        weights = self._copies(make_weight(), copies)
        # timed in chunks of an eighth of the cycle, which goes on from chunk to chunk: each
        # call's weights were last read a whole cycle of copies before, and a sample does not
        # wait for a whole cycle (240 copies of a text encoder's 4 MB weights)
        chunk = -(-copies // COLD_CHUNKS)
        cycle = itertools.cycle(weights)

        def next_chunk() -> None:
            for _ in range(chunk):
                run(next(cycle))

        return typical_time(next_chunk, self._sync, min_time_s) / chunk

    def _cold_gemm_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int,
        layout: str,
    ) -> float | None:  # fmt: skip
        """OP/s of a (m, k, n) GEMM with cold (n, k) weights in ``layout``: ``linear`` (the input
        times the weights' transpose, with a bias) or ``conv`` (the weights times (k, m)
        columns, a native convolution's); None if unsupported."""
        if dtype not in ("fp32", "fp16", "bf16"):
            return None
        torch = self.torch
        m, k, n = shape
        tdtype = getattr(torch, _TORCH_DTYPES[dtype])
        try:
            if layout == "linear":
                x = torch.randn(m, k, device=self.device).to(tdtype)
                bias = torch.randn(n, device=self.device).to(tdtype)

                def run(w: Any) -> Any:
                    return torch.nn.functional.linear(x, w, bias)
            else:
                x = torch.randn(k, m, device=self.device).to(tdtype)

                def run(w: Any) -> Any:
                    return torch.mm(w, x)

            with torch.inference_mode():
                seconds = self._cold_time(
                    lambda: torch.randn(n, k, device=self.device).to(tdtype),
                    run,
                    n * k * x.element_size(),
                    cold_bytes,
                    min_time_s,
                )
        except (RuntimeError, NotImplementedError) as exc:
            log.info("%s GEMM %s not supported on %s: %s", layout, dtype, self.device, exc)
            return None
        return 2.0 * m * k * n / seconds

    def gemm_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        return self._cold_gemm_ops_per_s(dtype, shape, min_time_s, cold_bytes, "linear")

    def conv_gemm_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        return self._cold_gemm_ops_per_s(dtype, shape, min_time_s, cold_bytes, "conv")

    def conv_ops_per_s(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float, cold_bytes: int
    ) -> float | None:
        if dtype not in ("fp32", "fp16", "bf16"):
            return None
        torch = self.torch
        channels, side, batch = shape
        tdtype = getattr(torch, _TORCH_DTYPES[dtype])
        # the layout the pipeline runs this dtype's convolutions in (one rule for both)
        layout = (
            torch.channels_last
            if channels_last_convs(self.device, dtype)
            else torch.contiguous_format
        )
        try:
            x = torch.randn(batch, channels, side, side, device=self.device).to(tdtype)
            x = x.contiguous(memory_format=layout)
            with torch.inference_mode():
                seconds = self._cold_time(
                    lambda: (
                        torch.randn(channels, channels, 3, 3, device=self.device)
                        .to(tdtype)
                        .contiguous(memory_format=layout)
                    ),
                    lambda w: torch.nn.functional.conv2d(x, w, padding=1),
                    channels * channels * 9 * x.element_size(),
                    cold_bytes,
                    min_time_s,
                )
        except (RuntimeError, NotImplementedError) as exc:
            log.info("conv %s not supported on %s: %s", dtype, self.device, exc)
            return None
        macs = channels * channels * 9 * side * side * batch  # out x in x 3x3 x pixels x batch
        return 2.0 * macs / seconds

    def elementwise_elements_per_s(
        self, op: str, dtype: str, numel: int, min_time_s: float
    ) -> float | None:
        if dtype not in ("fp32", "fp16", "bf16"):
            return None
        torch = self.torch
        tdtype = getattr(torch, _TORCH_DTYPES[dtype])
        functional = torch.nn.functional
        groups = 32
        channels = 128
        per_image = max(1, numel // channels)
        x = torch.randn(1, channels, per_image, device=self.device).to(tdtype)
        ones = torch.ones(channels, device=self.device, dtype=tdtype)
        zeros = torch.zeros(channels, device=self.device, dtype=tdtype)
        image = as_image(x)
        fns: dict[str, Callable[[], Any]] = {
            "silu": lambda: functional.silu(x),
            "group_norm": lambda: functional.group_norm(x, groups, ones, zeros),
            "add": lambda: x + x,
            "upsample_bilinear": lambda: upsample_bilinear(image),
            "sum": lambda: x.sum(dim=-1),
        }
        if op not in fns:
            raise InputError("op", op, f"one of {sorted(fns)}")
        try:
            with torch.inference_mode():
                seconds = typical_time(fns[op], self._sync, min_time_s)
        except (RuntimeError, NotImplementedError) as exc:
            log.info("%s not supported on %s: %s", op, self.device, exc)
            return None
        return x.numel() / seconds

    def attention_seconds(
        self, dtype: str, shape: tuple[int, int, int], min_time_s: float
    ) -> float | None:
        if dtype not in ("fp32", "fp16", "bf16"):
            return None
        torch = self.torch
        heads, length, dim = shape
        tdtype = getattr(torch, _TORCH_DTYPES[dtype])
        q = torch.randn(1, heads, length, dim, device=self.device).to(tdtype)
        try:
            with torch.inference_mode():
                return typical_time(
                    lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q),
                    self._sync,
                    min_time_s,
                )
        except (RuntimeError, NotImplementedError) as exc:
            log.info("attention not supported on %s: %s", self.device, exc)
            return None

    def copy_bytes_per_s(self, nbytes: int, min_time_s: float) -> float:
        torch = self.torch
        src = torch.empty(nbytes // 4, dtype=torch.float32, device=self.device).fill_(1.0)
        dst = torch.empty_like(src)
        seconds = typical_time(lambda: dst.copy_(src), self._sync, min_time_s)
        return 2.0 * src.numel() * 4 / seconds  # read + write

    def page_fault_bytes_per_s(self, nbytes: int, min_time_s: float) -> float | None:
        if self.kind != "cpu":
            return None
        torch = self.torch
        touched = torch.empty(nbytes // 4, dtype=torch.float32).fill_(0.0)
        fresh_s = typical_time(lambda: _fill_fresh_mapping(torch, nbytes), self._sync,
                               min_time_s / 2)  # fmt: skip
        warm_s = typical_time(lambda: touched.fill_(1.0), self._sync, min_time_s / 2)
        return nbytes / (fresh_s - warm_s) if fresh_s > warm_s else None

    kernel_overhead_basis = BARE_KERNEL_BASIS

    def kernel_overhead_s(self, min_time_s: float) -> float:
        x = self.torch.ones(1, device=self.device)
        return typical_time(lambda: x.add_(1.0), self._sync, min_time_s)


class TorchCpuProbe(_TorchProbe):
    """The CPU, through PyTorch's CPU kernels with its default thread count."""

    kind = "cpu"

    def kernel_overhead_s(self, min_time_s: float) -> float:
        """Per kernel, as the pipeline's own model code issues it (on a CPU the Python runs
        in series with the kernels): see :mod:`~zoomwatt.hardware.model_code_overhead`."""
        from zoomwatt.hardware.model_code_overhead import model_code_overhead

        bare = super().kernel_overhead_s(min_time_s)
        measured = model_code_overhead(self._sync, min_time_s)
        self.kernel_overhead_basis = (
            f"the tiny SD 2 inpainting models' calls (the pipeline's transformers/diffusers "
            f"code at widths 16-64), time per counted kernel: {measured.describe()}; one bare "
            f"tiny add {1e6 * bare:.1f} us"
        )
        return measured.seconds_per_kernel

    def identity(self) -> dict[str, str]:
        return {
            "device": cpu_model(),
            "cpu_id": cpu_id(),
            "cores": str(os.cpu_count() or 0),
            "threads": str(self.torch.get_num_threads()),
            "machine": platform.machine(),
            "torch": self.torch.__version__,
        }

    def memory_bytes(self) -> int:
        try:
            return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError, AttributeError) as exc:
            raise NotMeasurableError(
                "cannot read the memory size (os.sysconf); write a profile for this machine "
                "and pass it with --hw path.yaml"
            ) from exc

    def cache_bytes(self) -> int | None:
        sizes = []
        for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
            text = path.read_text().strip()
            factor = {"K": 1024, "M": 1024**2}.get(text[-1:], 1)
            digits = text.rstrip("KM")
            if digits.isdigit():
                sizes.append(int(digits) * factor)
        return max(sizes) if sizes else None

    def clock_hz(self) -> float | None:
        path = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
        try:
            return int(path.read_text()) * 1e3  # kHz
        except (OSError, ValueError):
            pass
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("cpu MHz"):
                    return float(line.split(":", 1)[1]) * 1e6
        except (OSError, ValueError):
            pass
        return None

    def power_limit_w(self) -> tuple[float, str] | None:
        path = Path("/sys/class/powercap/intel-rapl:0/constraint_0_power_limit_uw")
        try:
            return int(path.read_text()) / 1e6, f"RAPL package power limit ({path})"
        except (OSError, ValueError):
            return None


class TorchCudaProbe(_TorchProbe):
    """CUDA device 0, through PyTorch's CUDA kernels."""

    kind = "cuda"

    def __init__(self) -> None:
        super().__init__()
        if not self.torch.cuda.is_available():
            raise NotMeasurableError(
                "no CUDA device is visible to PyTorch; calibrate the CPU instead "
                "(zoomwatt hardware calibrate --device cpu) or install a CUDA build of torch"
            )
        self.device = "cuda"
        self.props = self.torch.cuda.get_device_properties(0)

    def _sync(self) -> None:
        self.torch.cuda.synchronize()

    def identity(self) -> dict[str, str]:
        return {
            "device": self.props.name,
            "sms": str(self.props.multi_processor_count),
            "cuda": str(self.torch.version.cuda),
            "torch": self.torch.__version__,
        }

    def memory_bytes(self) -> int:
        return int(self.props.total_memory)

    def cache_bytes(self) -> int | None:
        size = getattr(self.props, "L2_cache_size", None)
        return int(size) if size else None

    def clock_hz(self) -> float | None:
        rate_khz = getattr(self.props, "clock_rate", None)
        return float(rate_khz) * 1e3 if rate_khz else None

    def power_limit_w(self) -> tuple[float, str] | None:
        exe = shutil.which("nvidia-smi")
        if exe is None:
            return None
        try:
            out = subprocess.run(
                [exe, "--query-gpu=power.limit", "--format=csv,noheader,nounits", "-i", "0"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            return float(out), "nvidia-smi --query-gpu=power.limit"
        except (OSError, subprocess.SubprocessError, ValueError):
            return None


def cpu_model() -> str:
    """The CPU's model name ('Intel(R) Xeon(R) ...'), or what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_id(cpuinfo: str | None = None) -> str:
    """The CPU's vendor, family, model and stepping from ``/proc/cpuinfo`` (or the text
    ``cpuinfo``), e.g. 'AuthenticAMD family 26 model 2 stepping 1': under a VM the model name
    can be as bare as 'AMD EPYC', the same for a Zen 4 (family 25) and a Zen 5 (family 26);
    '' where there is no such file or the fields are absent (not x86 Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor's block is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    if "cpu family" not in fields or "model" not in fields:
        return ""
    parts = [fields.get("vendor_id", ""), f"family {fields['cpu family']}",
             f"model {fields['model']}"]  # fmt: skip
    if "stepping" in fields:
        parts.append(f"stepping {fields['stepping']}")
    return " ".join(p for p in parts if p)


def cpu_description() -> str:
    """The CPU's model name with its :func:`cpu_id` where there is one: 'AMD EPYC
    (AuthenticAMD family 26 model 2 stepping 1)'."""
    ident = cpu_id()
    return f"{cpu_model()} ({ident})" if ident else cpu_model()


# CPU flags (/proc/cpuinfo) that mean a dtype's matmuls run natively, not converted to fp32.
NATIVE_FLAGS = {
    "bf16": ("avx512_bf16", "amx_bf16"),
    "fp16": ("avx512_fp16", "amx_fp16"),
}
#: The flags a host check records beside its figures.
RECORDED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
                  "amx_bf16", "amx_fp16", "amx_int8")  # fmt: skip


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str] | None:
    """The CPU's feature flags from ``/proc/cpuinfo`` (or the text ``cpuinfo``); None where
    there is no such file (not Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return None


def _torch_native_flags() -> set[str]:
    """Flags that PyTorch's own CPU check reports (where /proc/cpuinfo is missing)."""
    try:
        import torch.cpu as tcpu
    except ImportError:  # pragma: no cover - torch is a dependency
        return set()
    # AMX tiles came with AMX-BF16 on every CPU that has them (Sapphire Rapids and later)
    checks = {"avx512_bf16": "_is_avx512_bf16_supported", "amx_bf16": "_is_amx_tile_supported",
              "amx_fp16": "_is_amx_fp16_supported"}  # fmt: skip
    return {flag for flag, name in checks.items() if getattr(tcpu, name, lambda: False)()}


def native_cpu_dtype(dtype: str, flags: frozenset[str] | None = None) -> tuple[bool, str]:
    """(whether this CPU computes ``dtype`` natively, in words). fp32 always is; bf16 needs
    AVX512-BF16 or AMX-BF16, fp16 AVX512-FP16 or AMX-FP16 (otherwise PyTorch converts to
    fp32 and back, usually slower than fp32)."""
    if dtype == "fp32":
        return True, "fp32: native"
    wanted = NATIVE_FLAGS.get(dtype)
    if wanted is None:
        return False, f"{dtype}: no native CPU matmul known to zoomwatt"
    have = cpu_flags() if flags is None else flags
    have = set(have or ()) | (_torch_native_flags() if flags is None else set())
    found = [f for f in wanted if f in have]
    if found:
        return True, f"{dtype}: native on this CPU ({', '.join(found)})"
    return False, f"{dtype}: not native on this CPU (no {'/'.join(wanted)})"


@dataclass(frozen=True)
class MachineCounters:
    """The whole machine's CPU time from ``/proc/stat`` at one moment, in seconds."""

    busy_s: float  # all CPUs: user + nice + system + irq + softirq
    steal_s: float  # time the hypervisor ran something else on these virtual CPUs
    cpus: int


def machine_counters(stat: str | None = None) -> MachineCounters | None:
    """The ``cpu`` line of ``/proc/stat`` (or the text ``stat``); None where unreadable."""
    try:
        text = Path("/proc/stat").read_text() if stat is None else stat
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    except (OSError, ValueError):
        return None
    lines = text.splitlines()
    head = next((line.split() for line in lines if line.startswith("cpu ")), None)
    if head is None or len(head) < 9:
        return None
    try:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in head[1:9])
    except ValueError:
        return None
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    busy = user + nice + system + irq + softirq
    return MachineCounters(busy / tick, steal / tick, max(1, cpus))


def others_share(
    start: MachineCounters | None, end: MachineCounters | None, own_cpu_s: float, wall_s: float
) -> tuple[float | None, float | None]:
    """(share of all CPUs that other processes used, share stolen by the hypervisor) between
    two readings, ``own_cpu_s`` being this process's CPU time in between; Nones where the
    counters are missing. Clock ticks make both coarse (10 ms) over short windows."""
    if start is None or end is None or wall_s <= 0:
        return None, None
    capacity = wall_s * end.cpus
    others = max(0.0, (end.busy_s - start.busy_s) - own_cpu_s) / capacity
    return min(1.0, others), min(1.0, max(0.0, end.steal_s - start.steal_s) / capacity)


def make_probe(device: str = "auto") -> HostProbe:
    """The probe for ``device``: 'cpu', 'cuda', or 'auto' (CUDA when PyTorch sees one)."""
    if device not in PROBE_DEVICES:
        raise InputError("device", device, f"one of {PROBE_DEVICES}")
    if device == "cpu":
        return TorchCpuProbe()
    if device == "cuda":
        return TorchCudaProbe()
    torch = _torch()
    return TorchCudaProbe() if torch.cuda.is_available() else TorchCpuProbe()
