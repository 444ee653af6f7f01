"""Calibrate the ``host`` profile by short micro-benchmarks, and cache it.

Measured: matmul throughput per dtype (the dense peak), convolution throughput (the conv
efficiency relative to matmul), copy bandwidth, the time of a tiny kernel (per-layer overhead),
memory size, largest cache, and the power limit where the OS exposes one. Everything else
(energies, static power) is an estimate and says so. A lower-precision dtype that runs slower
than a wider one (emulated, e.g. fp16 on most x86 CPUs) is left out, so the model computes it in
the wider type and keeps only its smaller bytes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from zoomwatt.errors import InputError, NotMeasurableError
from zoomwatt.hardware.host_cache import host_cache_path, read_host_cache, write_host_cache
from zoomwatt.hardware.host_probe import HostProbe, make_probe
from zoomwatt.hardware.schema import HardwareProfile, parse_profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationPlan:
    """Sizes of the micro-benchmarks; ``min_time_s`` is the time spent repeating each."""

    name: str
    matmul_n: int
    conv_hw: int
    copy_bytes: int
    min_time_s: float


PLANS = {
    "tiny": CalibrationPlan("tiny", 64, 8, 1 << 20, 0.002),  # tests only: numbers are poor
    "quick": CalibrationPlan("quick", 512, 32, 64 << 20, 0.05),
    "full": CalibrationPlan("full", 2048, 64, 512 << 20, 0.3),
}

# Precision order: a dtype must be at least as fast as every wider one to be kept.
_WIDER = {"fp32": (), "bf16": ("fp32",), "fp16": ("fp32",), "int8": ("fp32", "fp16", "bf16")}

_CPU_EFFICIENCY_ESTIMATES = {
    "attention": 0.8,
    "softmax": 0.05,
    "norm": 0.1,
    "activation": 0.1,
    "elementwise": 0.1,
    "resample": 0.05,
    "data_movement": 0.05,
    "other": 0.05,
}


def _quantity(value: float, unit: str, text: str, measured: bool) -> dict[str, Any]:
    key = "source" if measured else "estimate"
    return {"value": float(f"{value:.4g}"), "unit": unit, key: text}


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def _identity(probe: HostProbe) -> dict[str, str]:
    """The probe's identity as plain strings (YAML-safe, comparable with the cache)."""
    return {str(k): str(v) for k, v in probe.identity().items()}


def calibrate_host(probe: HostProbe | None = None, plan: str = "quick") -> dict[str, Any]:
    """Run the micro-benchmarks and return host profile data (not yet cached)."""
    # 1. inputs
    if plan not in PLANS:
        raise InputError("plan", plan, f"one of {sorted(PLANS)}")
    steps = PLANS[plan]
    probe = probe or make_probe("auto")
    started = time.perf_counter()
    ident = _identity(probe)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    how = f"measured by zoomwatt host calibration ({plan} plan, {when})"
    log.info("calibrating host %s with the %s plan", ident.get("device"), plan)

    # 2. throughput per dtype, kept only if not slower than a wider dtype
    n = steps.matmul_n
    raw_matmul: dict[str, float | None] = {}
    measured: dict[str, float] = {}
    for dtype in ("fp32", "bf16", "fp16", "int8"):
        rate = probe.matmul_ops_per_s(dtype, n, steps.min_time_s)
        raw_matmul[dtype] = rate
        if rate is None:
            continue
        wider = [measured[w] for w in _WIDER[dtype] if w in measured]
        if wider and rate < max(wider):
            log.info("dropping %s: %.3g OP/s is slower than a wider dtype", dtype, rate)
            continue
        measured[dtype] = rate
    if "fp32" not in measured:
        raise NotMeasurableError(
            f"fp32 matmul could not run on the host ({probe.kind}); check the PyTorch install "
            "or use a shipped profile (zoomwatt hardware list)"
        )
    dense = {
        d: _quantity(
            r / 1e9,
            "GOP/s" if d.startswith("int") else "GFLOP/s",
            f"{how}: {n}x{n}x{n} {d} matmul, best run",
            True,
        )
        for d, r in measured.items()
    }

    # 3. efficiency: conv relative to matmul measured (fp32), the rest estimated
    raw_conv = {
        d: probe.conv_ops_per_s(d, steps.conv_hw, steps.min_time_s)
        for d in ("fp32", "bf16", "fp16")
        if d in measured
    }
    conv = raw_conv.get("fp32")
    efficiency: dict[str, Any] = {
        "linear": _quantity(1.0, "1", "the dense peak is the measured matmul rate", False),
    }
    if conv is not None:
        ratio = min(1.0, conv / measured["fp32"])
        text = f"{how}: 3x3 conv 64->64 ch at {steps.conv_hw}x{steps.conv_hw} / fp32 matmul"
        efficiency["conv"] = _quantity(ratio, "1", text, True)
    else:
        efficiency["conv"] = _quantity(0.7, "1", "conv could not be timed; assumed", False)
    for op_class, value in _CPU_EFFICIENCY_ESTIMATES.items():
        efficiency[op_class] = _quantity(
            value, "1", "typical share of the GEMM rate for this op class (not measured)", False
        )

    # 4. memory and overhead
    bandwidth = probe.copy_bytes_per_s(steps.copy_bytes, steps.min_time_s)
    overhead = probe.kernel_overhead_s(steps.min_time_s)
    cache = probe.cache_bytes()
    on_chip = (
        _quantity(cache / 2**20, "MiB", "largest cache level reported by the OS", True)
        if cache
        else _quantity(8, "MiB", "cache size not readable; assumed", False)
    )
    mib = steps.copy_bytes >> 20
    memory = {
        "type": "host DRAM" if probe.kind == "cpu" else "GPU DRAM",
        "capacity": _quantity(
            probe.memory_bytes() / 2**30, "GiB", "reported by the OS/driver", True
        ),
        "usable_fraction": _quantity(0.7, "1", "leave 30% to the OS and other programs", False),
        "bandwidth": _quantity(bandwidth / 1e9, "GB/s", f"{how}: {mib} MiB copy, read+write", True),
        "on_chip_buffer": on_chip,
    }

    # 5. power (estimates unless the OS exposes a limit)
    limit = probe.power_limit_w()
    if limit is not None:
        cap = _quantity(limit[0], "W", limit[1], True)
        cap_w = limit[0]
    else:
        cap_w = 300.0 if probe.kind == "cuda" else 15.0 * max(1, int(ident.get("cores", "1")))
        text = "no power limit readable; 300 W for a GPU, 15 W per CPU core"
        cap = _quantity(cap_w, "W", text, False)
    clock = probe.clock_hz()
    frequency = (
        _quantity(clock / 1e6, "MHz", "reported by the OS/driver", True)
        if clock
        else _quantity(2000, "MHz", "clock not readable; assumed", False)
    )
    overhead_factor = 10 if probe.kind == "cpu" else 3
    data = {
        "schema": 1,
        "name": "host",
        "description": f"this machine: {ident.get('device')} ({probe.kind}), calibrated",
        "device_class": "desktop",
        "process": {
            "node": "unknown",
            "node_scale": _quantity(0.3, "1", "process unknown; a 7 nm-class node assumed", False),
            "overhead_factor": _quantity(
                overhead_factor,
                "1",
                "CPU: instruction fetch/decode/issue per SIMD op (10x); GPU: register file (3x)",
                False,
            ),
        },
        "compute": {
            "dense": dense,
            "efficiency": efficiency,
            "kernel_overhead": _quantity(overhead * 1e6, "us", f"{how}: one tiny add", True),
        },
        "memory": memory,
        "energy": {
            "dram": _quantity(
                15 if probe.kind == "cpu" else 7,
                "pJ/bit",
                "DDR4/DDR5 DIMM ~15 pJ/bit incl. I/O; GPU DRAM ~7 pJ/bit (secondary sources)",
                False,
            ),
        },
        "power": {
            "static": _quantity(0.3 * cap_w, "W", "30% of the power cap", False),
            "idle": _quantity(0.15 * cap_w, "W", "15% of the power cap", False),
            "cap": cap,
            "operating_points": [
                {
                    "name": "current",
                    "frequency": frequency,
                    "voltage": _quantity(1.0, "V", "not readable; typical core voltage", False),
                    "nominal": True,
                }
            ],
        },
        "notes": [f"calibrated on {ident.get('device')} ({probe.kind}) in {plan} mode"],
        "calibration": {
            "fingerprint": dict(ident, kind=probe.kind),
            "plan": plan,
            "date": when,
            "seconds": round(time.perf_counter() - started, 2),
            "measured": {
                "matmul_ops_per_s": {d: _round(r) for d, r in raw_matmul.items()},
                "conv_ops_per_s": {d: _round(r) for d, r in raw_conv.items()},
                "copy_bytes_per_s": _round(bandwidth),
                "kernel_overhead_s": _round(overhead),
            },
        },
    }
    return data


def load_host_profile(
    *,
    recalibrate: bool = False,
    probe: HostProbe | None = None,
    plan: str = "quick",
    device: str = "auto",
) -> HardwareProfile:
    """The host profile: from the cache when it matches this machine, else calibrated now."""
    # 1. inputs and the probe
    if plan not in PLANS:
        raise InputError("plan", plan, f"one of {sorted(PLANS)}")
    probe = probe or make_probe(device)
    fingerprint = dict(_identity(probe), kind=probe.kind)
    origin = str(host_cache_path())

    # 2. cache hit?
    cached = None if recalibrate else read_host_cache()
    if cached is not None:
        cached_fp = (cached.get("calibration") or {}).get("fingerprint")
        if cached_fp == fingerprint:
            return parse_profile(cached, origin)
        log.info("host cache is for another machine or library version; recalibrating")

    # 3. calibrate and cache
    data = calibrate_host(probe, plan)
    profile = parse_profile(data, origin)
    write_host_cache(data)
    return profile


def cached_host_profile() -> HardwareProfile | None:
    """The cached host profile without probing the machine, None if not calibrated yet."""
    data = read_host_cache()
    return None if data is None else parse_profile(data, str(host_cache_path()))
