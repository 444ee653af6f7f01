"""Energy of a measurement window, behind one interface.

:class:`EnergyMeter` is what the rest of zoomwatt uses: ``begin(name)`` opens a window,
``end(name)`` closes it and returns an :class:`EnergyReading`. Two implementations:

- :class:`ZeusEnergyMeter`: Zeus's ``ZeusMonitor`` windows, which read NVIDIA GPUs' NVML energy
  counter and CPUs' RAPL counters (package and DRAM) where the machine exposes them;
- :class:`NullEnergyMeter`: the do-nothing stand-in, for a machine where nothing can be read (a
  virtual machine without RAPL, for example). Its readings say "not measured: <reason>".

:func:`make_energy_meter` picks one and never raises for a missing counter: it falls back to the
stand-in with the reason. Errors of Zeus and NVML are translated where they enter, into
:class:`~zoomwatt.errors.NotMeasurableError` with the fix in the message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from zoomwatt.errors import InputError, NotMeasurableError

log = logging.getLogger(__name__)

METER_DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class EnergyReading:
    """One window: its wall time and, where measured, the energy of each counter (J)."""

    name: str
    time_s: float
    energy_j: float | None  # sum of every counter read, None when not measured
    by_counter_j: dict[str, float] = field(default_factory=dict)  # "gpu0", "cpu0", "dram0"
    reason: str | None = None  # why energy_j is None

    @property
    def measured(self) -> bool:
        return self.energy_j is not None

    def describe(self) -> str:
        if self.energy_j is None:
            return f"not measured: {self.reason}"
        return f"{self.energy_j:.3g} J"


class EnergyMeter(Protocol):
    """What measurement needs from an energy counter."""

    name: str  # "zeus (NVML gpu0)", "none"
    available: bool  # False for the stand-in
    reason: str | None  # why nothing is measured (stand-in only)

    def begin(self, window: str) -> None: ...

    def end(self, window: str) -> EnergyReading: ...


class NullEnergyMeter:
    """The stand-in: times windows, measures no energy, says why."""

    available = False
    name = "none"

    def __init__(self, reason: str):
        self.reason = reason
        self._started: dict[str, float] = {}

    def begin(self, window: str) -> None:
        self._started[window] = time.perf_counter()

    def end(self, window: str) -> EnergyReading:
        started = self._started.pop(window, None)
        if started is None:
            raise InputError("window", window, "a window opened with begin()")
        return EnergyReading(window, time.perf_counter() - started, None, reason=self.reason)


def _zeus_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = []
    try:
        from zeus.exception import ZeusBaseError

        types.append(ZeusBaseError)
    except ImportError:
        pass
    try:
        from pynvml import NVMLError

        types.append(NVMLError)
    except ImportError:
        pass
    return tuple(types)


def _translate(exc: BaseException, what: str) -> NotMeasurableError:
    text = str(exc) or type(exc).__name__
    if "permission" in text.lower() or isinstance(exc, PermissionError):
        fix = (
            "RAPL counters are readable by root only on most kernels: run as root, or "
            "`sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj`"
        )
    elif "nvml" in text.lower() or "driver" in text.lower():
        fix = "install or update the NVIDIA driver (nvidia-smi must work), then try again"
    else:
        fix = "check that Zeus works here (`python -m zeus.show_env`), or pass --no-energy"
    return NotMeasurableError(f"{what} failed: {text}. Fix: {fix}")


class ZeusEnergyMeter:
    """Energy windows through Zeus (``ZeusMonitor``): NVML on NVIDIA GPUs, RAPL on CPUs."""

    available = True
    reason = None

    def __init__(self, monitor: Any, counters: str):
        self._monitor = monitor
        self.name = f"zeus ({counters})"

    def begin(self, window: str) -> None:
        try:
            self._monitor.begin_window(window)
        except _zeus_error_types() as exc:
            raise _translate(exc, f"opening energy window {window!r}") from exc

    def end(self, window: str) -> EnergyReading:
        try:
            m = self._monitor.end_window(window)
        except _zeus_error_types() as exc:
            raise _translate(exc, f"closing energy window {window!r}") from exc
        counters: dict[str, float] = {}
        for index, joules in (m.gpu_energy or {}).items():
            counters[f"gpu{index}"] = float(joules)
        for index, joules in (m.cpu_energy or {}).items():
            counters[f"cpu{index}"] = float(joules)
        for index, joules in (m.dram_energy or {}).items():
            counters[f"dram{index}"] = float(joules)
        if not counters:
            return EnergyReading(window, float(m.time), None, reason="Zeus read no counter")
        return EnergyReading(window, float(m.time), sum(counters.values()), counters)


def make_energy_meter(device: str = "auto", enabled: bool = True) -> EnergyMeter:
    """Zeus where it finds a counter for ``device`` (``cuda``: NVML; ``cpu``: RAPL; ``auto``:
    both), else the stand-in with the reason. Never raises for a missing counter."""
    # 1. inputs
    if device not in METER_DEVICES:
        raise InputError("device", device, f"one of {METER_DEVICES}")
    if not enabled:
        return NullEnergyMeter("energy measurement turned off (--no-energy)")

    # 2. Zeus installed, and which counters it finds (it logs at INFO/WARNING why one is
    # missing: an AMD library absent, no RAPL; the reason given here says it once)
    zeus_log = logging.getLogger("zeus")
    level = zeus_log.level
    zeus_log.setLevel(logging.ERROR)
    try:
        from zeus.monitor import ZeusMonitor
    except ImportError:
        zeus_log.setLevel(level)
        return NullEnergyMeter("Zeus is not installed (pip install zeus)")
    try:
        gpu_indices = None if device in ("auto", "cuda") else []
        cpu_indices = None if device in ("auto", "cpu") else []
        monitor = ZeusMonitor(gpu_indices=gpu_indices, cpu_indices=cpu_indices)
    except (*_zeus_error_types(), OSError, RuntimeError) as exc:
        reason = str(_translate(exc, "starting Zeus"))
        log.info("energy: %s", reason)
        return NullEnergyMeter(reason)
    finally:
        zeus_log.setLevel(level)
    gpus = list(getattr(monitor, "gpu_indices", []) or [])
    cpus = list(getattr(monitor, "cpu_indices", []) or [])
    if not gpus and not cpus:
        wanted = {
            "cuda": "no NVIDIA GPU readable through NVML",
            "cpu": "no RAPL counter on this CPU (common in virtual machines)",
            "auto": "no NVIDIA GPU (NVML) and no RAPL counter (common in virtual machines)",
        }[device]
        return NullEnergyMeter(f"{wanted}; Zeus found nothing to read")
    counters = ", ".join([*(f"NVML gpu{i}" for i in gpus), *(f"RAPL cpu{i}" for i in cpus)])
    return ZeusEnergyMeter(monitor, counters)
