"""Access to the machine zoomwatt runs on: the one place that times kernels and reads limits.

:class:`HostProbe` is the interface host calibration uses; :class:`TorchCpuProbe` and
:class:`TorchCudaProbe` implement it with PyTorch (CPU threads, or one CUDA device). Anything
that cannot be measured raises :class:`~zoomwatt.errors.NotMeasurableError` with the fix in the
message; a dtype the device cannot run returns ``None``.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from zoomwatt.errors import InputError, NotMeasurableError

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

    def conv_ops_per_s(self, dtype: str, hw: int, min_time_s: float) -> float | None:
        """Best OP/s of a 3x3 convolution, 64 -> 64 channels, hw x hw, batch 1."""
        ...

    def copy_bytes_per_s(self, nbytes: int, min_time_s: float) -> float:
        """Best (read + write) bytes/s of copying an ``nbytes`` buffer."""
        ...

    def kernel_overhead_s(self, min_time_s: float) -> float:
        """Time of one tiny kernel (dispatch overhead)."""
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


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise NotMeasurableError(
            "host calibration needs PyTorch; install it (pip install torch) or use a shipped "
            "profile (zoomwatt hardware list)"
        ) from exc
    return torch


def _best_time(fn: Callable[[], Any], sync: Callable[[], None], min_time_s: float) -> float:
    """Best time of one call of ``fn``, after a warm-up, repeating for about ``min_time_s``."""
    fn()
    sync()
    best = float("inf")
    start = time.perf_counter()
    reps = 0
    while reps < 3 or time.perf_counter() - start < min_time_s:
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
        reps += 1
        if reps >= 1000:
            break
    return best


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
            seconds = _best_time(fn, self._sync, min_time_s)
        except (RuntimeError, NotImplementedError) as exc:
            log.info("matmul %s not supported on %s: %s", dtype, self.device, exc)
            return None
        return 2.0 * n**3 / seconds

    def conv_ops_per_s(self, dtype: str, hw: int, min_time_s: float) -> float | None:
        if dtype not in ("fp32", "fp16", "bf16"):
            return None
        torch = self.torch
        tdtype = getattr(torch, _TORCH_DTYPES[dtype])
        channels = 64
        try:
            x = torch.randn(1, channels, hw, hw, device=self.device).to(tdtype)
            w = torch.randn(channels, channels, 3, 3, device=self.device).to(tdtype)
            seconds = _best_time(
                lambda: torch.nn.functional.conv2d(x, w, padding=1), self._sync, min_time_s
            )
        except (RuntimeError, NotImplementedError) as exc:
            log.info("conv %s not supported on %s: %s", dtype, self.device, exc)
            return None
        macs = channels * channels * 9 * hw * hw  # out channels x in channels x 3x3 x pixels
        return 2.0 * macs / seconds

    def copy_bytes_per_s(self, nbytes: int, min_time_s: float) -> float:
        torch = self.torch
        src = torch.empty(nbytes // 4, dtype=torch.float32, device=self.device).fill_(1.0)
        dst = torch.empty_like(src)
        seconds = _best_time(lambda: dst.copy_(src), self._sync, min_time_s)
        return 2.0 * src.numel() * 4 / seconds  # read + write

    def kernel_overhead_s(self, min_time_s: float) -> float:
        x = self.torch.ones(1, device=self.device)
        return _best_time(lambda: x.add_(1.0), self._sync, min_time_s)


class TorchCpuProbe(_TorchProbe):
    """The CPU, through PyTorch's CPU kernels with its default thread count."""

    kind = "cpu"

    def identity(self) -> dict[str, str]:
        return {
            "device": _cpu_model(),
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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


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
