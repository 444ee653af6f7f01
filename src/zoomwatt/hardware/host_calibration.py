"""Calibrate the ``host`` profile by short micro-benchmarks, and cache it.

Measured: matmul throughput per dtype (the dense peak); conv and linear layers at a large and a
small weight reuse (rows per weight), with cold weights as in a model, giving each class its
efficiency and the reuse at which it halves (``compute.reuse_half``, see
:mod:`zoomwatt.perfmodel.roofline`); SiLU, group norm, add, 2x bilinear upsampling, a sum and
fused attention (the activation, norm, elementwise, resample, other, attention and softmax
efficiencies); a conv with 56 MiB of weights, whose time beyond the conv fit is the page
faults of oneDNN's fresh reorder buffers (on a CPU; recorded, not used: :func:`conv_fault_fit`);
a GEMM's weight rate at a few rows (on a CPU, ``compute.few_rows``:
:mod:`~zoomwatt.hardware.few_rows`);
the SiLU sweep beyond the cache (``memory.on_chip_buffer``, ``memory.spill_bandwidth``); copy
bandwidth; the per-kernel overhead (on a CPU: the time per counted kernel
of the tiny SD 2 inpainting models' calls, :mod:`~zoomwatt.hardware.model_code_overhead`, so the
Python of the pipeline's own code is in it; on a GPU: one tiny add); memory size,
largest cache, and the power limit where the OS exposes one. The operations of each
micro-benchmark are counted by the workload's own formula table
(:func:`zoomwatt.workload.tracer.trace_call` on the ``meta`` device), so an efficiency means
exactly what the performance model assumes. So every figure a latency prediction uses comes
from this machine; the data-movement efficiency is unused (those ops count no operations) and
says so. Energies, static power and the power cap without a readable limit are estimates and
say so (they do not enter the time of a layer below the cap). A lower-precision dtype that runs
slower than a wider one (emulated, e.g. fp16 on most x86 CPUs) is left out, so the model
computes it in the wider type and keeps only its smaller bytes; ``reference_dtype`` measures
the op classes in a native lower precision instead (bf16 with AVX512-BF16 / AMX).

The process's share of its threads' CPU time during calibration is recorded: on a CPU that
another program holds, every rate is low, and the profile says so in its notes. The reference
kernels (:data:`REFERENCE_KERNEL`, a cache-resident matmul, and
:data:`STREAM_REFERENCE_KERNEL`, a linear layer streaming its weights from memory) run before
and after the benchmarks, for the host check (:mod:`zoomwatt.measurement.host_check`) to see
whether the machine still runs at that speed, in its caches and in its memory. The CPU is
calibrated in a fresh process (:mod:`~zoomwatt.hardware.fresh_process`), in the state of the
heap every new process starts in.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from zoomwatt.errors import InputError, NotMeasurableError
from zoomwatt.hardware.few_rows import ROWS as FEW_ROWS
from zoomwatt.hardware.few_rows import WEIGHTS as FEW_ROWS_WEIGHTS
from zoomwatt.hardware.few_rows import few_rows_section, measure_few_rows
from zoomwatt.hardware.fresh_buffers import WEIGHT_FAULTS_APART, fresh_buffer_fault_s
from zoomwatt.hardware.fresh_process import calibrate_in_fresh_process
from zoomwatt.hardware.host_cache import host_cache_path, read_host_cache, write_host_cache
from zoomwatt.hardware.host_probe import (
    BARE_KERNEL_BASIS,
    BUSY_CPU_SHARE,
    HostProbe,
    TorchCpuProbe,
    as_image,
    cold_copies,
    cpu_share,
    machine_counters,
    make_probe,
    others_share,
    upsample_bilinear,
)
from zoomwatt.hardware.openvino_probe import OVERHEAD_NODES, stack_version
from zoomwatt.hardware.schema import (
    CALIBRATED_STACKS,
    MAX_STACK_EFFICIENCY,
    HardwareProfile,
    parse_profile,
)
from zoomwatt.workload.records import DTYPE_BYTES

log = logging.getLogger(__name__)

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class CalibrationPlan:
    """Sizes of the micro-benchmarks; ``min_time_s`` is the time spent repeating each.

    Conv shapes are (channels in = out, side, batch), reuse = side^2 x batch; linear shapes
    are (rows, in, out), reuse = rows; attention is (batch x heads, length, head dim), at a
    UNet's level (``attention``) and a text encoder's 77 tokens (``attention_small``),
    reuse = the call's MACs (a per-call cost the arithmetic amortizes). The
    large-reuse conv keeps its activations in the cache (a UNet's middle levels); the
    small-reuse shapes are a UNet's deepest level and a text encoder's 77-token layers, with
    cold weights (:func:`cold_weight_bytes`); the small conv's width keeps its fp32 weights
    below the 32 MiB ceiling of glibc's (dynamic) mmap threshold (896 channels, 27.6 MiB), so
    oneDNN's reorder buffer is recycled and, where the measured buffer is that threshold, no
    faults are taken out of its rate (:func:`_weight_fault_s`): at 1024 channels its page
    faults made the call 7 to 66 ms (AMD EPYC, 2026-12-04) and the fit subtracted a fault term
    as large as the arithmetic. SiLU with a fresh output at doubling sizes from twice the
    in-cache size up to ``spill_numel`` (fp32 elements; as many bytes in a 16-bit dtype; at
    least four times the in-cache size), against SiLU on ``elementwise_numel``, gives the buffer
    activations fit in and ``memory.spill_bandwidth`` (:func:`_spill_fit`)."""

    name: str
    matmul_n: int
    conv_large: Shape
    conv_small: Shape
    spill_numel: int  # the largest SiLU of the spill sweep (fp32 elements), far beyond the cache
    linear_large: Shape
    linear_small: Shape
    elementwise_numel: int  # in a CPU's cache (quick and full: 4 Mi fp32, 32 MiB in + out)
    attention: Shape
    copy_bytes: int
    cold_bytes_max: int  # cold conv weights at most (see cold_weight_bytes)
    min_time_s: float
    warmup_s: float  # matmuls before measuring: a fresh process runs at half speed at first
    rounds: int  # interleaved rounds of the efficiency benchmarks; the median is kept
    attention_small: Shape = (16, 77, 64)  # SD 2's text encoder: 16 heads of 64, 77 tokens
    # a conv whose fp32 weights (56.25 MiB) are beyond glibc's 32 MiB mmap threshold, at the
    # small conv's reuse: its time beyond the conv fit is its fresh weight buffer's page
    # faults (:func:`conv_fault_fit`); a UNet's 1280-channel convs at 256 px with CFG
    conv_fault: Shape = (1280, 4, 2)
    # a GEMM at a few rows, in a native conv's layout and a linear layer's (hardware/few_rows.py)
    few_rows: tuple[int, ...] = FEW_ROWS
    few_rows_weights: tuple[int, int] = FEW_ROWS_WEIGHTS


PLANS = {
    # tests only: numbers are poor
    "tiny": CalibrationPlan(
        "tiny", 64, (16, 16, 1), (32, 2, 1), 1 << 16, (256, 64, 64), (8, 64, 256), 1 << 14,
        (2, 64, 16), 1 << 20, 1 << 20, 0.002, 0.0, 1, (2, 8, 16), (32, 2, 1),
        few_rows=(2, 4), few_rows_weights=(64, 32),
    ),
    "quick": CalibrationPlan(
        "quick", 512, (256, 64, 1), (896, 4, 2), 16 << 20, (512, 1024, 4096),
        (77, 1024, 1024),
        4 << 20, (10, 1024, 64), 64 << 20, 128 << 20, 0.1, 2.0, 5,
    ),
    "full": CalibrationPlan(
        "full", 2048, (256, 64, 1), (896, 4, 2), 32 << 20, (1024, 1280, 5120),
        (77, 1024, 1024),
        4 << 20, (10, 4096, 64), 512 << 20, 256 << 20, 0.3, 3.0, 5,
    ),
}  # fmt: skip

# Precision order: a dtype must be at least as fast as every wider one to be kept.
_WIDER = {"fp32": (), "bf16": ("fp32",), "fp16": ("fp32",), "int8": ("fp32", "fp16", "bf16")}

# Fallbacks only, used where a benchmark could not run on this machine (the probe returned
# None): typical shares of the GEMM rate on a CPU, written into the profile as estimates. A
# calibration that runs every benchmark holds none of them.
_FALLBACK_EFFICIENCY_ESTIMATES = {
    "attention": 0.8,
    "softmax": 0.05,
    "norm": 0.1,
    "activation": 0.1,
    "elementwise": 0.1,
    "resample": 0.05,
    "other": 0.05,
}
_MIN_EFFICIENCY = 1e-4
# Data-movement ops (copies, cat, gathers) count no operations in the formula table: their
# time is their bytes and the kernel overhead, so this efficiency multiplies zero.
_UNUSED_EFFICIENCY = {
    "data_movement": "not used by the model: data-movement ops count 0 operations (their time "
    "is their bytes and the kernel overhead)",
}

#: The reference kernel a host check runs before and after every measured stage, and
#: calibration before and after its benchmarks: its speed tells a machine that changed speed
#: (another tenant, a clock change) from a model that is wrong. (dtype, n, seconds repeated)
REFERENCE_KERNEL = ("fp32", 512, 0.1)
#: Its companion, read beside it: a text encoder's 77-row linear layer (1024 in, 4096 out)
#: cycling through weight copies that fill twice the largest cache (at least
#: :data:`STREAM_COLD_BYTES_MIN`, at most :data:`STREAM_COLD_BYTES_MAX`: 8 copies), so every
#: call streams its weights from memory on a CPU whose cache is under 64 MB.
#: The 512^3 matmul runs from the L2 cache and does not see the memory and L3 that a shared
#: machine's other tenants contend for: on the AMD EPYC VM here (2026-12-02) the text
#: encoder's call time followed this kernel (correlation 0.68 over 28 interleaved readings)
#: and not the matmul's (0.19). (dtype, (rows, in, out), seconds repeated)
STREAM_REFERENCE_KERNEL = ("fp32", (77, 1024, 4096), 0.2)
#: The third, on a CPU: a fresh 64 MiB buffer (mapped afresh from the OS at every call, as
#: glibc maps one beyond its 32 MiB mmap threshold where its heap has no free memory to serve
#: it from) filled, less the same fill of a buffer already touched: the rate its pages are
#: faulted in, the cost the model prices as ``memory.spill_bandwidth``. On the AMD EPYC
#: Zen 5 VM (2026-12-04) the lever check's fp32 baseline keyframe took 3.0-3.2 s in some runs
#: and 5.0-5.7 s in others (with and without the same other configurations in the process),
#: and 3.2 s where ``mallopt(M_MMAP_THRESHOLD, 1 GiB)`` recycled every buffer: the fast runs ran
#: as if their page faults were free; the matmul and the streaming kernel did not tell them
#: apart. (bytes, seconds repeated)
FAULT_REFERENCE_KERNEL = (64 * 1024**2, 0.2)
STREAM_COLD_BYTES_MIN = 64 * 1024**2
STREAM_COLD_BYTES_MAX = 128 * 1024**2


def _quantity(value: float, unit: str, text: str, measured: bool) -> dict[str, Any]:
    key = "source" if measured else "estimate"
    return {"value": float(f"{value:.4g}"), "unit": unit, key: text}


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def _identity(probe: HostProbe) -> dict[str, str]:
    """The probe's identity as plain strings (YAML-safe, comparable with the cache)."""
    return {str(k): str(v) for k, v in probe.identity().items()}


def _fingerprint(ident: dict[str, str], probe: HostProbe) -> dict[str, str]:
    """What a cached profile must match to be used: the machine (``ident``, the probe's kind)
    and :data:`CALIBRATION_REVISION`."""
    return dict(ident, kind=probe.kind, revision=str(CALIBRATION_REVISION))


def fit_reuse(
    large: float,
    reuse_large: float,
    small: float,
    reuse_small: float,
    ceiling: float | None = None,
) -> tuple[float, float]:
    """(rate at unlimited reuse R, reuse_half h) of ``rate = R x reuse / (reuse + h)`` through
    two measured points. From r_l (m_l + h) / m_l = r_s (m_s + h) / m_s:
    h = (r_s - r_l) / (r_l / m_l - r_s / m_s). A small-reuse point no slower per row than the
    large one means no penalty (h = 0, R = the faster rate). ``ceiling``: the most R can be (a
    layer at unlimited reuse is a GEMM: it runs no faster than the fastest GEMM measured, or
    its own large point); where the two points give more (their ratio near the reuses', as a
    disturbed large point makes it), R is the ceiling and h goes through the small point:
    h = m_s (R / r_s - 1)."""
    denominator = large / reuse_large - small / reuse_small
    half = (small - large) / denominator if denominator < 0 else 0.0
    if half <= 0:
        return max(large, small), 0.0
    top = large * (reuse_large + half) / reuse_large
    limit = None if ceiling is None else max(ceiling, large, small)
    if limit is not None and top > limit:
        return limit, max(0.0, reuse_small * (limit / small - 1.0))
    return top, half


#: What the calibration measures and how, in the cached profile's fingerprint: a profile cached
#: by an older revision is calibrated again (2: the measured activation buffer and the linear
#: layers' cold weights beyond the cache, 2026-12-03; 3: 16-bit convs timed channels-last,
#: the layout the pipeline now runs them in on a CPU, and the conv rates without the page
#: faults of their fresh weight buffers, which the roofline adds per conv; 4: linear layers
#: timed with a bias, as a model's are, the CPU calibrated in a fresh process, and a SiLU
#: sweep whose sizes disagree on a fresh page's cost measured again; 5: the small-reuse conv
#: at 896 channels, its fp32 weights (27.6 MiB) below glibc's 32 MiB mmap threshold, so its
#: reorder buffer is recycled and, where that threshold is the measured buffer, its rate holds
#: no page faults to take out; 6: the page-fault rate of a conv's fresh weight buffer measured
#: with a conv beyond the buffer (1280 channels, 56 MiB in fp32) instead of taken from SiLU's
#: fresh outputs: on the AMD EPYC Zen 5, 2026-12-04, those faults ran at 1.35-3.7 GB/s against
#: SiLU's 5.0, and the UNet's 1280-channel convs were predicted 30% fast; 7: that rate, now
#: ``memory.reorder_fault_bandwidth``, for a plain-layout conv's reordered input and output
#: too, the same oneDNN reorders into fresh buffers; 8: the fault conv's fastest round, reverted;
#: 9: no reorder fault rate where the fit's small conv faults too or the faults are under
#: MIN_FAULT_SHARE of the call, and the fault conv timed on a CPU only; 10: that rate recorded,
#: not written into the profile (_memory_section); 11: a GEMM's weight rate at 1-64 rows in a
#: native conv's layout and a linear layer's, ``compute.few_rows`` (hardware/few_rows.py);
#: 12: the fresh-page reference kernel's buffer mapped from the OS itself, not by the heap,
#: which served it from touched free memory in the lever check after a configuration kept its
#: freed memory, 2026-12-06; 13: that mapping private, as malloc's are, not shared memory)
CALIBRATION_REVISION = 13

#: A SiLU size whose elements/s fall below this share of the in-cache size's is past the knee
#: where fresh activations stop fitting: the buffer is the largest size before it
SPILL_SLOW_SHARE = 0.5
#: A SiLU sweep whose sizes beyond the buffer disagree more than this on a fresh page's cost
#: was disturbed (:func:`fault_rate_spread`), and is measured again, SPILL_SWEEPS times at most
FAULT_RATE_SPREAD = 1.5
SPILL_SWEEPS = 3
_SPILL_KEY = "silu_spill:"  # a round's SiLU sweep rates: silu_spill:SIZE


def ops_per_element(op: str, numel: int) -> float:
    """Operations the formula table counts per input element of the elementwise benchmark
    ``op`` on ``numel`` elements (the probes' shape: (1, 128, numel / 128))."""
    shape = (1, 128, max(1, numel // 128))
    return counted_ops(op, shape) / (shape[1] * shape[2])


def _spill_top(steps: CalibrationPlan, numel: int, ref: str) -> int:
    """The spill sweep's largest SiLU: the plan's ``spill_numel`` fp32 elements, as many bytes
    in ``ref``, at least four times the in-cache size ``numel``."""
    return int(max(steps.spill_numel * 4 // DTYPE_BYTES[ref], 4 * numel))


def spill_sizes(numel: int, spill_numel: int) -> tuple[int, ...]:
    """SiLU sizes between the in-cache size ``numel`` and ``spill_numel``: doubling from twice
    ``numel``, ``spill_numel`` last (4 Mi to 16 Mi elements: 8 Mi, 16 Mi)."""
    sizes, n = [], 2 * int(numel)
    while n < spill_numel:
        sizes.append(n)
        n *= 2
    return (*sizes, spill_numel) if spill_numel > numel else ()


def _spill_fit(
    rates: dict[int, float], silu_ops_per_s: float | None, numel: int, cache: int | None,
    ref: str,
) -> dict[str, Any] | None:  # fmt: skip
    """The buffer activations fit in and the spill term beyond it, from SiLU with a fresh
    output (as in a model) at the in-cache size ``numel`` and at each of ``rates``'s sizes
    (elements/s by size, ascending; the last one, the plan's ``spill_numel`` in fp32, as many
    bytes in a 16-bit dtype, far beyond it).

    The buffer: the input + output bytes of the largest size in a row from ``numel`` whose
    rate stays above SPILL_SLOW_SHARE of the in-cache one; the OS's largest cache where none
    slows. It is measured, not read, because what slows a fresh activation is not always
    the cache the OS reports: on a 2-core Xeon VM (2026-12-03) the OS reports a 480 MiB L3,
    and SiLU ran at 43 GB/s up to 32 MiB of input + output and at 7 GB/s from 64 MiB on
    (glibc maps allocations over 32 MiB afresh, and every page of a new output is faulted in
    when first written: 5 GB/s there; with a preallocated output 37 GB/s). The spill term:
    the largest size's time beyond what the in-cache rate gives it, per activation byte
    beyond the buffer (the roofline's spill: input + output bytes minus the buffer)."""
    if not rates or not silu_ops_per_s:
        return None
    in_cache = silu_ops_per_s / ops_per_element("silu", numel)  # elements/s
    itemsize = DTYPE_BYTES[ref]
    fast, slow = numel, None
    for size, per_s in sorted(rates.items()):
        if per_s < SPILL_SLOW_SHARE * in_cache:
            slow = size
            break
        fast = size
    slowed = slow is not None
    buffer = 2.0 * fast * itemsize if slowed else cache
    if not buffer:
        return None
    if cache and slowed:
        buffer = min(buffer, float(cache))
    size = max(rates)
    extra_s = size / rates[size] - size / in_cache
    spill_bytes = 2.0 * size * itemsize - buffer
    fit = {
        "numel": size,
        "elements_per_s": _round(rates[size]),
        "in_cache_elements_per_s": _round(in_cache),
        "elements_per_s_by_numel": {str(n): _round(r) for n, r in sorted(rates.items())},
        "buffer_bytes": _round(buffer),
        "buffer_measured": slowed,
        "slow_from_numel": slow,
        "extra_s": _round(extra_s),
        "spill_bytes": _round(spill_bytes),
    }
    if extra_s > 0 and spill_bytes > 0:
        fit["spill_bandwidth_bytes_per_s"] = _round(spill_bytes / extra_s)
    return fit


def fault_rate_spread(
    rates: dict[int, float], silu_ops_per_s: float | None, numel: int, ref: str
) -> float | None:
    """How far the SiLU sweep's sizes beyond the buffer disagree on the cost of a fresh page:
    the largest over the smallest of their output bytes per second of time beyond the in-cache
    rate (sizes of ``rates``, elements/s, whose rate fell below SPILL_SLOW_SHARE of the in-cache
    one: the sizes beyond the buffer). Faults cost the same per fresh byte at any size: on the
    2-core Xeon (2026-12-03) 64 and 128 MiB of fresh output gave 4.05 and 4.1 GB/s; a sweep
    whose 128 MiB SiLU ran at half its usual rate (one calibration in about five that day, in a
    fresh process too) gave 4.4 and 1.8. None with fewer than two such sizes."""
    if not silu_ops_per_s:
        return None
    in_cache = silu_ops_per_s / ops_per_element("silu", numel)
    per_byte = [
        size * DTYPE_BYTES[ref] / (size / rate - size / in_cache)
        for size, rate in rates.items()
        if 0 < rate < SPILL_SLOW_SHARE * in_cache
    ]
    return max(per_byte) / min(per_byte) if len(per_byte) >= 2 else None


def _steady_spill_fit(run: _Run, rates: dict[int, float], silu: float | None) -> None:
    """``run.spill`` from the sweep's rates, measured again (up to SPILL_SWEEPS in all) while
    its sizes beyond the buffer disagree by more than FAULT_RATE_SPREAD on a fresh page's cost
    (:func:`fault_rate_spread`); the most consistent sweep is kept (one that cannot be judged,
    with fewer than two sizes beyond the buffer, only where none can), and the fit records how
    many sweeps were run and the kept one's spread."""
    cache, ref, steps, numel = run.cache_bytes, run.ref, run.steps, run.numel
    sweeps = [(fault_rate_spread(rates, silu, numel, ref), rates)]
    while (sweeps[-1][0] or 1.0) > FAULT_RATE_SPREAD and len(sweeps) < SPILL_SWEEPS:
        log.info("SiLU sweep disagrees on a fresh page's cost (x%.2f): measured again",
                 sweeps[-1][0])  # fmt: skip
        again = _spill_rates(run.probe, ref, steps, numel)
        sweeps.append((fault_rate_spread(again, silu, numel, ref), again))
    judged = [sweep for sweep in sweeps if sweep[0] is not None] or sweeps
    spread, rates = min(judged, key=lambda sweep: sweep[0] or 1.0)
    run.spill = _spill_fit(rates, silu, numel, cache, ref)
    if run.spill is not None:
        run.spill |= {"fault_rate_spread": _round(spread), "sweeps": len(sweeps)}


def _spill_sweep(
    probe: HostProbe, ref: str, steps: CalibrationPlan, numel: int
) -> dict[str, float | None]:
    """One SiLU sweep: elements/s at each size beyond ``numel``, keyed ``silu_spill:SIZE``."""
    return {
        f"{_SPILL_KEY}{size}": probe.elementwise_elements_per_s("silu", ref, size, steps.min_time_s)
        for size in spill_sizes(numel, _spill_top(steps, numel, ref))
    }


def _pop_spill_rates(rates: dict[str, float]) -> dict[int, float]:
    """The sweep's rates by size, taken out of a round's ``rates``."""
    keys = [k for k in rates if k.startswith(_SPILL_KEY)]
    return {int(k.removeprefix(_SPILL_KEY)): rates.pop(k) for k in keys}


def _median_rounds(
    rounds: int, one_round: Callable[[], dict[str, float | None]]
) -> dict[str, float]:
    """Each key's median over ``rounds`` calls of ``one_round`` (None: not measured then)."""
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for key, value in one_round().items():
            if value is not None:
                samples.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in samples.items()}


def _spill_rates(
    probe: HostProbe, ref: str, steps: CalibrationPlan, numel: int
) -> dict[int, float]:
    """The SiLU sweep alone: elements/s per size, median over the plan's rounds."""
    return _pop_spill_rates(
        _median_rounds(steps.rounds, lambda: _spill_sweep(probe, ref, steps, numel))
    )


def _reuse(op_class: str, shape: Shape) -> int:
    """Rows sharing each weight: side^2 x batch for a conv, rows for a linear layer."""
    if op_class == "conv":
        _channels, side, batch = shape
        return side * side * batch
    return shape[0]


def _cpu_share(
    probe: HostProbe, ident: dict[str, str], cpu_s: float, wall_s: float
) -> float | None:
    """The process's share of its threads' CPU time (CPU probes), None elsewhere."""
    if probe.kind != "cpu" or wall_s <= 0:
        return None
    threads = int(ident.get("threads") or ident.get("cores") or os.cpu_count() or 1)
    return cpu_share(cpu_s, wall_s, max(1, threads))


def counted_ops(op: str, shape: tuple[int, ...]) -> float:
    """Operations the workload's formula table counts for one call of a micro-benchmark op
    ('silu', 'group_norm', 'add', 'upsample_bilinear', 'sum' on ``shape``; 'attention' on
    (1, heads, length, dim))."""
    return counted_work(op, shape)[0]


@functools.lru_cache(maxsize=64)
def counted_work(op: str, shape: tuple[int, ...]) -> tuple[float, float]:
    """(operations, MACs) the formula table counts for one call of :func:`counted_ops`'s
    ``op`` (traced once per op and shape: the rates and the attention fit both need it)."""
    import torch

    from zoomwatt.workload.tracer import trace_call

    class _Add(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + x

    class _Attention(torch.nn.Module):
        def forward(self, q: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.scaled_dot_product_attention(q, q, q)

    class _Upsample(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return upsample_bilinear(as_image(x))

    class _Sum(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum(dim=-1)

    builders = {
        "silu": torch.nn.SiLU,
        "group_norm": lambda: torch.nn.GroupNorm(32, shape[1]),
        "add": _Add,
        "attention": _Attention,
        "upsample_bilinear": _Upsample,
        "sum": _Sum,
    }
    if op not in builders:
        raise InputError("op", op, f"one of {sorted(builders)}")
    with torch.device("meta"):
        module = builders[op]()
        x = torch.empty(shape)
    trace = trace_call(module, module, x, dtype="fp32")
    ops = float(sum(max(r.flops, 2 * r.macs) for r in trace.records))
    return ops, float(sum(r.macs for r in trace.records))


def _rounds(
    probe: HostProbe,
    ref: str,
    steps: CalibrationPlan,
    cold: dict[str, int],
    numel: int,
    stack_probes: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Median over ``steps.rounds`` interleaved rounds of each benchmark's OP/s (operations as
    the formula table counts them): matmul, conv and linear at large and small reuse (the
    small ones with cold weights), SiLU, group norm, add (on ``numel`` elements) and fused
    attention; SiLU beyond the cache; and the conv and linear layers of each of
    ``stack_probes`` in the same rounds (``NAME:conv_large``, ...): a machine whose speed moves
    over seconds then moves both alike, and a stack's gain over eager is measured side by side."""
    per_element = {op: ops_per_element(op, numel) for op in _ELEMENTWISE}
    attention_ops = {
        key: counted_ops("attention", (1, *getattr(steps, key)))
        for key in ("attention", "attention_small")
    }
    t = steps.min_time_s

    def one_round() -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "matmul": probe.matmul_ops_per_s(ref, steps.matmul_n, t),
            **_layer_rates(probe, ref, steps, cold, "conv"),
            **_spill_sweep(probe, ref, steps, numel),
            **_layer_rates(probe, ref, steps, cold, "linear"),
        }
        if probe.kind == "cpu":  # a fresh reorder buffer per call: eager oneDNN on a CPU
            out["conv_fault"] = probe.conv_ops_per_s(ref, fault_conv(steps, ref), t, cold["conv"])
        for name, other in (stack_probes or {}).items():  # the same layers, run by the stack
            for op_class, _shapes in _layer_classes(steps):
                rates = _layer_rates(other, ref, steps, cold, op_class)
                out.update({f"{name}:{key}": value for key, value in rates.items()})
        for op in _ELEMENTWISE:
            per_s = probe.elementwise_elements_per_s(op, ref, numel, t)
            out[op] = None if per_s is None else per_s * per_element[op]
        for key, ops in attention_ops.items():
            seconds = probe.attention_seconds(ref, getattr(steps, key), t)
            out[key] = ops / seconds if seconds else None
        return out

    return _median_rounds(steps.rounds, one_round)


def _layer_classes(steps: CalibrationPlan) -> tuple[tuple[str, tuple[Shape, Shape]], ...]:
    """The classes fitted at two reuses, with the plan's (large, small) shapes of each."""
    return (
        ("conv", (steps.conv_large, steps.conv_small)),
        ("linear", (steps.linear_large, steps.linear_small)),
    )


def _layer_rates(
    probe: Any, ref: str, steps: CalibrationPlan, cold: dict[str, int], op_class: str
) -> dict[str, Any]:
    """OP/s of ``probe``'s ``op_class`` layer (conv or linear) at the plan's large reuse (warm
    weights) and small reuse (``cold[op_class]`` bytes of weights): ``{op_class}_large``,
    ``..._small``."""
    large, small = dict(_layer_classes(steps))[op_class]
    rate = probe.conv_ops_per_s if op_class == "conv" else probe.gemm_ops_per_s
    t = steps.min_time_s
    return {
        f"{op_class}_large": rate(ref, large, t, 0),
        f"{op_class}_small": rate(ref, small, t, cold[op_class]),
    }


_ELEMENTWISE = ("silu", "group_norm", "add", "upsample_bilinear", "sum")

# op class -> (benchmark in _rounds, what it is)
_OTHER_BENCHMARKS = {
    "activation": ("silu", "SiLU"),
    "norm": ("group_norm", "group norm, 32 groups"),
    "elementwise": ("add", "x + x"),
    "attention": ("attention", "fused scaled-dot-product attention"),
    "softmax": ("attention", "fused scaled-dot-product attention (the softmax runs inside it)"),
    "resample": ("upsample_bilinear", "2x bilinear upsampling"),
    "other": ("sum", "a sum over the last axis (reductions)"),
}


def _efficiencies(
    fits: dict[str, dict[str, Any]], other: dict[str, float], peak: float, ref: str, how: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Profile entries ``compute.efficiency`` and ``compute.reuse_half`` from the rates."""
    efficiency: dict[str, Any] = {}
    reuse_half: dict[str, Any] = {}
    for op_class in ("conv", "linear"):
        fit = fits.get(op_class)
        if fit is None:
            value = 0.7 if op_class == "conv" else 1.0
            efficiency[op_class] = _quantity(value, "1", "could not be timed; assumed", False)
            continue
        shapes = " and ".join(str(tuple(x)) for x in fit["shapes"])
        text = (
            f"{how}: {ref} {op_class} at {shapes} with cold weights"
            + (" and a bias" if op_class == "linear" else "")
            + ", fitted to "
            "rate = R x reuse / (reuse + reuse_half); R / peak"
        )
        if fit.get("weight_fault_s"):
            text += " (the rates less the page faults of a fresh weight buffer of at least "
            text += "the buffer, which the roofline adds per conv: hardware/fresh_buffers.py)"

        value = max(_MIN_EFFICIENCY, min(1.0, fit["rate_at_full_reuse"] / peak))
        efficiency[op_class] = _quantity(value, "1", text, True)
        reuse_half[op_class] = _quantity(fit["reuse_half"], "rows", text, True)
    attention = fits.get("attention")
    if attention is not None:
        shapes = " and ".join(str(tuple(x)) for x in attention["shapes"])
        text = (
            f"{how}: {ref} fused scaled-dot-product attention at {shapes} (heads, tokens, head "
            "dim), fitted to rate = R x macs / (macs + reuse_half), the call's MACs; R / peak"
        )
        value = max(_MIN_EFFICIENCY, min(1.0, attention["rate_at_full_reuse"] / peak))
        efficiency["attention"] = _quantity(value, "1", text, True)
        reuse_half["attention"] = _quantity(attention["reuse_half"], "MACs", text, True)
    for op_class, (bench, what) in _OTHER_BENCHMARKS.items():
        if op_class == "attention" and attention is not None:
            continue
        if other.get(bench):
            value = max(_MIN_EFFICIENCY, min(1.0, other[bench] / peak))
            text = f"{how}: {ref} {what}, operations as the formula table counts them / peak"
            efficiency[op_class] = _quantity(value, "1", text, True)
        else:
            text = (
                f"{what} could not run on this machine: a typical share of the GEMM rate "
                "(not measured)"
            )
            estimate = _FALLBACK_EFFICIENCY_ESTIMATES[op_class]
            efficiency[op_class] = _quantity(estimate, "1", text, False)
    for op_class, text in _UNUSED_EFFICIENCY.items():
        efficiency[op_class] = _quantity(1.0, "1", text, False)
    return efficiency, reuse_half


@dataclass
class _Run:
    """What one calibration run has learnt so far; each stage of :func:`calibrate_host` adds
    to it."""

    probe: HostProbe
    plan: str
    steps: CalibrationPlan
    ident: dict[str, str]
    when: str
    how: str  # the source text of every measured figure
    raw_matmul: dict[str, float | None] = field(default_factory=dict)
    measured: dict[str, float] = field(default_factory=dict)  # dtype -> OP/s, kept ones
    share: float | None = None  # of the process's threads' CPU time during the fp32 matmul
    ref: str = "fp32"  # the dtype the models run in here
    fits: dict[str, dict[str, Any]] = field(default_factory=dict)
    spill: dict[str, Any] | None = None
    other: dict[str, float | None] = field(default_factory=dict)
    numel: int = 0
    peak: float = 0.0
    cache_bytes: int = 0  # the largest cache level, 0 if unreadable
    copy_bytes_per_s: float = 0.0
    kernel_overhead_s: float = 0.0
    wanted_ref: str | None = None  # the dtype asked for as the reference (None: the default)
    reference: dict[str, Any] = field(default_factory=dict)  # the reference kernel around it
    matmul_rate: float = 0.0  # OP/s, the reference dtype's matmul in the op-class rounds
    stack_probes: dict[str, Any] = field(default_factory=dict)  # stack -> its probe
    stack_rates: dict[str, dict[str, float]] = field(default_factory=dict)  # stack -> OP/s
    stack_fits: dict[str, Any] = field(default_factory=dict)  # stack -> its raw measurements
    conv_fault: dict[str, Any] | None = None  # conv_fault_fit's answer
    few_rows: dict[str, Any] | None = None  # few_rows.measure_few_rows's answer


def cold_weight_bytes(op_class: str, cache: int | None, memory: int, most: int) -> int:
    """The weight copies a small-reuse benchmark of ``op_class`` cycles through, so that each
    call brings its weights from beyond the cache as a model's layers do. A linear layer's:
    twice the largest cache (``most`` where the OS does not say it), at most a sixteenth of
    the memory: on a 2-core Xeon VM whose OS reports a 480 MiB L3 (2026-12-03), 77-row layers
    cycling through 128 MiB ran at 239-259 GFLOP/s, through 1 GiB at 205-214, and the text
    encoder's linear layers at the second rate. A convolution's: twice the cache, at most
    ``most``: oneDNN reorders a conv's weights into a fresh buffer at every call, which is
    what its small-reuse time is made of (the page faults of that buffer apart:
    :func:`_weight_fault_s`); the deep 1024-channel conv cycling through 1 GiB
    ran at 36-48 GOP/s alone and at 10 in a process that held the SD 2 pipeline (its
    measured UNet was not slowed so), through 128 MiB at 45."""
    if op_class == "linear":
        return int(min(2 * cache, memory // 16)) if cache else most
    return min(most, 2 * cache) if cache else most


def _stream_cold_bytes(probe: HostProbe) -> int:
    """The streaming reference kernel's copies: twice the cache, between
    :data:`STREAM_COLD_BYTES_MIN` and :data:`STREAM_COLD_BYTES_MAX` (a drift detector read
    around every measured stage, not a rate the model uses: kept small)."""
    cache = probe.cache_bytes()
    cold = max(STREAM_COLD_BYTES_MIN, 2 * cache) if cache else STREAM_COLD_BYTES_MIN
    return min(cold, STREAM_COLD_BYTES_MAX)


def reference_speed(probe: HostProbe, stream: bool = True) -> dict[str, float | None]:
    """The reference kernels now: the matmul's OP/s (:data:`REFERENCE_KERNEL`, median call)
    and, with ``stream``, the streaming linear layer's (:data:`STREAM_REFERENCE_KERNEL`) and
    the rate a fresh buffer's pages fault in at (:data:`FAULT_REFERENCE_KERNEL`,
    ``fault_bytes_per_s``, on a CPU; else None), the process's share of its threads' CPU time
    while they ran (None off a CPU), and the shares of all CPUs that other processes and the
    hypervisor took meanwhile (None where unreadable)."""
    dtype, n, seconds = REFERENCE_KERNEL
    stream_dtype, stream_shape, stream_s = STREAM_REFERENCE_KERNEL
    counters = machine_counters()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    rate = probe.matmul_ops_per_s(dtype, n, seconds)
    stream_rate = (
        probe.gemm_ops_per_s(stream_dtype, stream_shape, stream_s, _stream_cold_bytes(probe))
        if stream
        else None
    )
    fault_bytes, fault_s = FAULT_REFERENCE_KERNEL
    fault_rate = probe.page_fault_bytes_per_s(fault_bytes, fault_s) if stream else None
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    share = _cpu_share(probe, _identity(probe), cpu_s, wall_s)
    others, steal = others_share(counters, machine_counters(), cpu_s, wall_s)
    return {
        "ops_per_s": _round(rate),
        "stream_ops_per_s": _round(stream_rate),
        "fault_bytes_per_s": _round(fault_rate),
        "cpu_share": _round(share),
        "others_cpu_share": _round(others),
        "steal_share": _round(steal),
    }


def calibrate_host(
    probe: HostProbe | None = None,
    plan: str = "quick",
    reference_dtype: str | None = None,
    stacks: tuple[str, ...] = (),
    stack_probes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the micro-benchmarks and return host profile data (not yet cached).
    ``reference_dtype``: the dtype the op classes are measured in (default: fp16 on a GPU,
    fp32 on a CPU); kept only where that dtype is not slower than a wider one. ``stacks``:
    software stacks besides eager PyTorch to calibrate too (``openvino``: its conv and GEMM
    rates and per-node overhead, see :mod:`~zoomwatt.hardware.openvino_probe`;
    ``openvino-int8``: the same layers with NNCF's INT8_ASYM weights);
    ``stack_probes``: their probes (default: made here; a stack whose probe cannot run here
    raises a :class:`NotMeasurableError` with the reason)."""
    # 1. inputs
    if plan not in PLANS:
        raise InputError("plan", plan, f"one of {sorted(PLANS)}")
    if reference_dtype not in (None, *_WIDER):
        raise InputError("reference_dtype", reference_dtype, f"None or one of {list(_WIDER)}")
    unknown = [s for s in stacks if s not in CALIBRATED_STACKS]
    if unknown:
        raise InputError("stacks", unknown, f"stacks among {', '.join(CALIBRATED_STACKS)}")
    probe = probe or make_probe("auto")
    if stacks and probe.kind != "cpu":
        raise InputError("stacks", list(stacks), "stacks calibrated on a CPU probe only")
    ident = _identity(probe)
    threads = int(ident.get("threads") or 1)
    stack_probes = _stack_probes(stacks, threads, stack_probes)
    started = time.perf_counter()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    how = f"measured by zoomwatt host calibration ({plan} plan, {when})"
    run = _Run(probe, plan, PLANS[plan], ident, when, how, wanted_ref=reference_dtype)
    run.stack_probes = stack_probes
    log.info("calibrating host %s with the %s plan", ident.get("device"), plan)
    # 2. throughput per dtype; 3. efficiency per op class; 4. memory and overhead; 5. power;
    # 6. the reference kernel after it all (before: after the warm-up, in step 2)
    _measure_matmuls(run)
    _measure_op_classes(run)
    compute = _compute_section(run)
    memory = _memory_section(run, compute)
    power, cap_w = _power_section(run)
    stack_section = {name: _calibrate_stack(run, name, p) for name, p in stack_probes.items()}
    after = reference_speed(probe)
    run.reference.update({f"after_{k}": v for k, v in after.items()})
    data = _profile_data(run, compute, memory, power, cap_w, time.perf_counter() - started)
    if stack_section:
        data["stacks"] = {"eager": {"notes": _EAGER_NOTE}, **stack_section}
        data["calibration"]["stacks"] = {n: p.version for n, p in sorted(stack_probes.items())}
    return data


_EAGER_NOTE = "PyTorch eager: the compute section's figures (this calibration's)"


def _stack_probes(stacks, threads: int, given: dict[str, Any] | None) -> dict[str, Any]:
    """The probe of every stack asked for, on ``threads`` threads: given, or made (a
    NotMeasurableError with the reason where the stack cannot run here)."""
    from zoomwatt.hardware.openvino_probe import make_stack_probe

    out = {}
    for name in stacks:
        if given and name in given:
            out[name] = given[name]
            continue
        made, reason = make_stack_probe(name, threads)
        if made is None:
            raise NotMeasurableError(f"cannot calibrate the {name} stack here: {reason}")
        out[name] = made
    return out


def _class_fit(
    op_class: str, shapes: tuple[Shape, Shape], rates: list[float], gemm_peak: float
) -> dict[str, Any]:
    """The conv or linear class's rates at a large and a small reuse, fitted (:func:`fit_reuse`,
    its rate at full reuse at most ``gemm_peak``, the matmul rate of the same rounds)."""
    reuses = [_reuse(op_class, shape) for shape in shapes]
    top, half = fit_reuse(rates[0], reuses[0], rates[1], reuses[1], gemm_peak)
    return {
        "shapes": [list(x) for x in shapes],
        "reuse": reuses,
        "ops_per_s": [_round(r) for r in rates],
        "rate_at_full_reuse": _round(top),
        "reuse_half": _round(half),
    }


def _attention_fit(
    steps: CalibrationPlan, large: float, small: float, peak: float
) -> dict[str, Any]:
    """Attention's rates at the plan's two shapes, fitted as a layer's (:func:`fit_reuse`)
    with the call's MACs for the reuse: ``rate = R x macs / (macs + reuse_half)``, a fixed cost
    per call that a long sequence amortizes (on the Xeon here SDPA at 77 tokens ran at a
    third of its rate at 1024); R at most ``peak`` (its efficiency is R / peak, at most 1),
    reuse_half then through the small point."""
    shapes = (steps.attention, steps.attention_small)
    macs = [counted_work("attention", (1, *shape))[1] for shape in shapes]
    top, half = fit_reuse(large, macs[0], small, macs[1], peak)
    return {
        "shapes": [list(x) for x in shapes],
        "reuse": macs,
        "ops_per_s": [_round(large), _round(small)],
        "rate_at_full_reuse": _round(top),
        "reuse_half": _round(half),
    }


_OPENVINO_FUSION = (
    "OpenVINO's CPU plugin fuses a convolution or MatMul with the bias, activation and "
    "elementwise ops after it, and chains of elementwise ops (OpenVINO docs, CPU device: "
    "'fusing' of the model's operations at compile time); not measured"
)


def _calibrate_stack(run: _Run, name: str, stack_probe: Any) -> dict[str, Any]:
    """``stacks.NAME`` of the host profile: conv and linear through the stack's runtime at the
    plan's two reuses (measured in eager's rounds, see :func:`_rounds`), fitted as eager's,
    against the same peak; its per-node overhead; the fusion its compiled graphs do. Op
    classes it does not measure keep eager's figures. ``name``: the stack, as the rounds keyed
    its rates. Its efficiency is R over eager's peak, above 1 (to MAX_STACK_EFFICIENCY) where
    its kernels beat eager's fastest: eager's figures, and every dtype's peak, stay eager's."""
    steps = run.steps
    weights = getattr(stack_probe, "weights", "fp32")
    wording = "fp32" if weights == "fp32" else f"fp32, NNCF-style {weights} weights"
    how = f"{run.how}, {name} {stack_probe.version} CPU plugin, {wording}"
    rates = run.stack_rates.get(name, {})
    efficiency, reuse_half, fits = {}, {}, {}
    for op_class, shapes in _layer_classes(steps):
        pair = [rates.get(f"{op_class}_large"), rates.get(f"{op_class}_small")]
        if None in pair:
            continue
        fits[op_class] = fit = _class_fit(op_class, shapes, pair, run.matmul_rate)
        text = (
            f"{how}: {op_class} at {tuple(shapes[0])} and {tuple(shapes[1])} (cold weights), "
            "weights constants of the compiled graph, fitted to rate = R x reuse / (reuse + "
            "reuse_half); R / the compute section's peak"
        )
        top = fit["rate_at_full_reuse"] / run.peak
        value = max(_MIN_EFFICIENCY, min(MAX_STACK_EFFICIENCY, top))
        efficiency[op_class] = _quantity(value, "1", text, True)
        reuse_half[op_class] = _quantity(fit["reuse_half"], "rows", text, True)
    overhead = stack_probe.kernel_overhead_s(steps.min_time_s)
    run.stack_fits[name] = {"version": stack_probe.version, "fits": fits,
                            "kernel_overhead_s": _round(overhead)}  # fmt: skip
    node = f"{how}: a chain of {OVERHEAD_NODES} tiny 1x1 convs, time per node"
    return {
        "notes": (
            f"OpenVINO {stack_probe.version}, CPU plugin, {wording}, static shapes: conv and "
            "linear rates and the per-node overhead measured here; the other op classes keep eager "
            "PyTorch's figures (not measured through OpenVINO)"
        ),
        "efficiency": efficiency,
        "reuse_half": reuse_half,
        "kernel_overhead": _quantity(overhead * 1e6, "us", node, True),
        "fusion": {
            key: {"value": True, "estimate": _OPENVINO_FUSION}
            for key in ("elementwise_fused", "pointwise_chains")
        },
    }


def _measure_matmuls(run: _Run) -> None:
    """Matmul throughput per dtype, kept only if not slower than a wider dtype, after a
    warm-up (on a 2-core VM the first second of matmuls in a fresh process runs at half
    speed)."""
    probe, steps = run.probe, run.steps
    n = steps.matmul_n
    if steps.warmup_s > 0:
        probe.matmul_ops_per_s("fp32", n, steps.warmup_s)
    dtype, size, seconds = REFERENCE_KERNEL
    before = reference_speed(probe)
    run.reference["kernel"] = f"{dtype} {size}x{size}x{size} matmul, median call over {seconds:g} s"
    s_dtype, (rows, k, n_out), s_seconds = STREAM_REFERENCE_KERNEL
    weight = k * n_out * 4  # fp32
    streamed = cold_copies(_stream_cold_bytes(probe), weight) * weight
    run.reference["stream_kernel"] = (
        f"{s_dtype} linear {rows}x{k}->{n_out}, weights cycled through "
        f"{streamed / 1024**2:.0f} MB of copies, median call over {s_seconds:g} s"
    )
    if before.get("fault_bytes_per_s") is not None:
        f_bytes, f_seconds = FAULT_REFERENCE_KERNEL
        run.reference["fault_kernel"] = (
            f"a fresh {f_bytes / 1024**2:.0f} MiB fp32 buffer filled, less the fill of a touched "
            f"one, median calls over {f_seconds:g} s"
        )
    run.reference.update({f"before_{k}": v for k, v in before.items()})
    for dtype in ("fp32", "bf16", "fp16", "int8"):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        rate = probe.matmul_ops_per_s(dtype, n, steps.min_time_s)
        if dtype == "fp32":  # multi-threaded everywhere (emulated dtypes may not be)
            cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
            run.share = _cpu_share(probe, run.ident, cpu_s, wall_s)
        run.raw_matmul[dtype] = rate
        if rate is None:
            continue
        wider = [run.measured[w] for w in _WIDER[dtype] if w in run.measured]
        if wider and rate < max(wider):
            log.info("dropping %s: %.3g OP/s is slower than a wider dtype", dtype, rate)
            continue
        run.measured[dtype] = rate
    if "fp32" not in run.measured:
        raise NotMeasurableError(
            f"fp32 matmul could not run on the host ({probe.kind}); check the PyTorch install "
            "or use a shipped profile (zoomwatt hardware list)"
        )


def _measure_op_classes(run: _Run) -> None:
    """Efficiency per op class, in the dtype models run in here (fp16 on a GPU, fp32 on a
    CPU): conv and linear at two weight reuses, fitted; the others from one op each. Every
    benchmark runs in interleaved rounds and the median round is kept: a shared machine's
    speed drifts over seconds, and a prediction is compared with a median."""
    probe, steps, measured = run.probe, run.steps, run.measured
    default = "fp16" if probe.kind == "cuda" and "fp16" in measured else "fp32"
    run.ref = ref = run.wanted_ref if run.wanted_ref in measured else default
    if run.wanted_ref not in (None, ref):
        log.info("%s is slower than a wider dtype here: op classes measured in %s",
                 run.wanted_ref, ref)  # fmt: skip
    run.cache_bytes = cache = probe.cache_bytes()
    memory = probe.memory_bytes()
    cold = {
        c: cold_weight_bytes(c, cache, memory, steps.cold_bytes_max) for c in ("conv", "linear")
    }
    # in-cache elementwise size: input + output (fp32) at most the cache
    numel = min(steps.elementwise_numel, cache // 8) if cache else steps.elementwise_numel
    run.numel = max(1024, numel)
    rounds = _rounds(probe, ref, steps, cold, run.numel, run.stack_probes)
    for name in run.stack_probes:
        keys = [k for k in rounds if k.startswith(f"{name}:")]
        run.stack_rates[name] = {k.partition(":")[2]: rounds.pop(k) for k in keys}
    measured[ref] = run.matmul_rate = rounds.pop("matmul", measured[ref])
    _steady_spill_fit(run, _pop_spill_rates(rounds), rounds.get("silu"))
    for op_class, shapes in _layer_classes(steps):
        rates = [rounds.pop(f"{op_class}_large", None), rounds.pop(f"{op_class}_small", None)]
        if None in rates:
            continue
        raw, faults_s = rates, [0.0, 0.0]
        if op_class == "conv" and weight_faults_apart(run):
            faults_s = [_weight_fault_s(shape, ref, run) for shape in shapes]
            rates = [
                _without(r, f, shape) for r, f, shape in zip(raw, faults_s, shapes, strict=True)
            ]
        run.fits[op_class] = _class_fit(op_class, shapes, rates, measured[ref])
        if any(faults_s):  # what was measured, and the faults taken out of it
            run.fits[op_class] |= {"measured_ops_per_s": [_round(r) for r in raw],
                                   "weight_fault_s": [_round(f) for f in faults_s]}  # fmt: skip
    run.conv_fault = conv_fault_fit(run, rounds.pop("conv_fault", None))
    run.peak = max([measured[ref]] + [f["rate_at_full_reuse"] for f in run.fits.values()])
    measured[ref] = run.peak
    small = rounds.pop("attention_small", None)
    if rounds.get("attention") and small:
        run.fits["attention"] = _attention_fit(steps, rounds["attention"], small, run.peak)
    run.other = rounds
    run.few_rows = measure_few_rows(
        probe, ref, cold["linear"], steps.min_time_s, steps.few_rows, steps.few_rows_weights
    )


def _buffer_bytes(run: _Run) -> float:
    """The profile's ``memory.on_chip_buffer`` in bytes (:func:`_on_chip_buffer`)."""
    return _on_chip_buffer(run)["value"] * 2**20


def weight_faults_apart(run: _Run) -> bool:
    """Whether this calibration prices fresh weight buffers apart: eager PyTorch on a CPU, where
    a SiLU with a fresh output slowed at a measured size (the buffer) and gave a spill rate."""
    spill = run.spill or {}
    return (
        run.probe.kind == "cpu"
        and bool(spill.get("buffer_measured"))
        and bool(spill.get("spill_bandwidth_bytes_per_s"))
    )


def _conv_weights(shape: Shape) -> int:
    """Weights of the conv benchmark of ``shape``: channels in x out x 3 x 3."""
    return shape[0] * shape[0] * 9


def _weight_fault_s(shape: Shape, ref: str, run: _Run) -> float:
    """The page faults of a conv benchmark's fresh buffer of reordered weights
    (:func:`~zoomwatt.hardware.fresh_buffers.fresh_buffer_fault_s`, with this calibration's buffer
    and spill bandwidth): none for the plans' convs where the measured buffer is glibc's 32 MiB
    (896 channels: 27.6 MiB in fp32), the whole weights where a smaller buffer was measured."""
    nbytes = _conv_weights(shape) * DTYPE_BYTES[ref]
    spill_bw = run.spill["spill_bandwidth_bytes_per_s"]
    return float(fresh_buffer_fault_s(nbytes, _buffer_bytes(run), spill_bw))


def fault_conv(steps: CalibrationPlan, ref: str) -> Shape:
    """The plan's ``conv_fault`` in ``ref``: its channels scaled so that the weights have as
    many bytes as in fp32 (bf16: 1280 -> 1808 channels, 56.2 MiB), the size that faults."""
    channels, side, batch = steps.conv_fault
    scaled = channels * math.sqrt(DTYPE_BYTES["fp32"] / DTYPE_BYTES[ref])
    return (round(scaled / 16) * 16, side, batch)


#: The least share of the fault conv's call its faults must take to be measured: below it the
#: excess over the fit is within the rounds' spread and the figure is left to the spill rate
#: (a detection threshold, not a property of a CPU: the faults took 75-80% of that call on the
#: Zen 5 of 2026-12-04)
MIN_FAULT_SHARE = 0.1


def conv_fault_fit(run: _Run, rate: float | None) -> dict[str, Any] | None:
    """The page-fault rate of an eager conv's fresh reorder buffers, measured: the fault conv's
    call (:func:`fault_conv`, OP/s ``rate``) less the conv fit's time for its operations at its
    reuse, per weight byte; recorded in ``calibration.measured``, not written as the profile's
    rate (:func:`_memory_section` says why). None where the calibration does not price the
    faults apart, the conv could not run or was not fitted, its weights are below the measured
    buffer (nothing to fault), the fit's own small-reuse conv faults too (its faults were taken
    out at the spill rate, so the excess would give that rate back whatever the true one), or
    the excess is under :data:`MIN_FAULT_SHARE` of the call."""
    fit = run.fits.get("conv")
    if rate is None or fit is None or not weight_faults_apart(run):
        return None
    shape = fault_conv(run.steps, run.ref)
    weight_bytes = _conv_weights(shape) * DTYPE_BYTES[run.ref]
    reuse = _reuse("conv", shape)
    ops = 2.0 * _conv_weights(shape) * reuse
    fit_rate = fit["rate_at_full_reuse"] * reuse / (reuse + fit["reuse_half"])
    measured_s, fit_s = ops / rate, ops / fit_rate
    buffer = _buffer_bytes(run)
    small_faults = _conv_weights(run.steps.conv_small) * DTYPE_BYTES[run.ref] >= buffer
    if weight_bytes < buffer or small_faults or measured_s - fit_s < MIN_FAULT_SHARE * measured_s:
        log.info("conv %s: %.3g s against %.3g s fitted, %.1f MiB of weights against a %.1f MiB "
                 "buffer: no fault rate measured", shape, measured_s, fit_s,
                 weight_bytes / 2**20, buffer / 2**20)  # fmt: skip
        return None
    return {
        "shape": list(shape),
        "weight_bytes": weight_bytes,
        "measured_s": _round(measured_s),
        "fitted_s": _round(fit_s),
        "fault_bytes_per_s": _round(weight_bytes / (measured_s - fit_s)),
    }


def _without(rate: float, fault_s: float, shape: Shape) -> float:
    """A conv benchmark's OP/s with ``fault_s`` taken out of its call: the class's rates are
    then the arithmetic's alone, and the roofline adds each conv's own faults back."""
    ops = 2.0 * _conv_weights(shape) * _reuse("conv", shape)
    pure_s = ops / rate - fault_s if rate > 0 else 0.0
    if pure_s <= 0:
        log.warning("conv %s: its page faults (%.3g s) exceed its call; rate kept", shape, fault_s)
        return rate
    return ops / pure_s


def _compute_section(run: _Run) -> dict[str, Any]:
    n, how, ref = run.steps.matmul_n, run.how, run.ref
    dense = {
        d: _quantity(
            r / 1e9,
            "GOP/s" if d.startswith("int") else "GFLOP/s",
            f"{how}: {n}x{n}x{n} {d} matmul, median call"
            + (", or the fitted conv/linear rate at full reuse where higher" if d == ref else ""),
            True,
        )
        for d, r in run.measured.items()
    }
    efficiency, reuse_half = _efficiencies(run.fits, run.other, run.peak, ref, how)
    section = {"dense": dense, "efficiency": efficiency, "reuse_half": reuse_half}
    few_rows = few_rows_section(run.few_rows, how)
    return section | ({"few_rows": few_rows} if few_rows else {})


def _memory_section(run: _Run, compute: dict[str, Any]) -> dict[str, Any]:
    """DRAM bandwidth, the on-chip buffer and the spill term; the kernel overhead is measured
    here too (after the copy, as always) and added to ``compute``."""
    probe, steps, how = run.probe, run.steps, run.how
    run.copy_bytes_per_s = bandwidth = probe.copy_bytes_per_s(steps.copy_bytes, steps.min_time_s)
    run.kernel_overhead_s = overhead = probe.kernel_overhead_s(steps.min_time_s)
    basis = getattr(probe, "kernel_overhead_basis", BARE_KERNEL_BASIS)  # after the call
    compute["kernel_overhead"] = _quantity(overhead * 1e6, "us", f"{how}: {basis}", True)
    on_chip = _on_chip_buffer(run)
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
    # The fault conv's rate (conv_fault_fit) is recorded in calibration.measured, not written as
    # memory.reorder_fault_bandwidth, so the roofline prices reorder faults at the spill rate: on
    # the AMD EPYC Zen 5 VM of 2026-12-04 it read 0.85 to 38 GB/s from one calibration to the
    # next (revisions 6-9) and moved the fp32 UNet's prediction from 3.1 to 7.6 s against
    # 4.0-4.6 s measured, where SiLU's spill rate held 5.0-5.8 GB/s and the UNet -6..-16%. Kept
    # for the next look at why a process's fresh pages fault at such different rates there.
    if run.spill and "spill_bandwidth_bytes_per_s" in run.spill:
        memory["spill_bandwidth"] = _quantity(
            run.spill["spill_bandwidth_bytes_per_s"] / 1e9,
            "GB/s",
            f"{how}: {run.ref} SiLU on {run.spill['numel']} elements (beyond the buffer), its "
            f"time beyond the in-cache SiLU rate per spilled activation byte",
            True,
        )
    return memory


def _on_chip_buffer(run: _Run) -> dict[str, Any]:
    """The buffer activations fit in: measured where a SiLU size slowed (:func:`_spill_fit`),
    else the OS's largest cache."""
    cache, spill, how = run.cache_bytes, run.spill or {}, run.how
    os_text = f"the OS reports {cache / 2**20:.0f} MiB of cache" if cache else "no cache size"
    if spill.get("buffer_measured"):
        slow = spill["slow_from_numel"]
        text = (
            f"{how}: {run.ref} SiLU with a fresh output ran at "
            f"{spill['in_cache_elements_per_s'] / 1e9:.3g} G elements/s in the cache and at "
            f"{spill['elements_per_s_by_numel'][str(slow)] / 1e9:.3g} G/s on {slow} elements; "
            f"the buffer: input + output of the largest size before that, at most the cache "
            f"({os_text})"
        )
        return _quantity(spill["buffer_bytes"] / 2**20, "MiB", text, True)
    if cache:
        return _quantity(cache / 2**20, "MiB", "largest cache level reported by the OS", True)
    return _quantity(8, "MiB", "cache size not readable; assumed", False)


def _power_section(run: _Run) -> tuple[dict[str, Any], float]:
    """The power cap (estimates unless the OS exposes a limit) and the operating point."""
    probe = run.probe
    limit = probe.power_limit_w()
    if limit is not None:
        cap = _quantity(limit[0], "W", limit[1], True)
        cap_w = limit[0]
    else:
        cap_w = 300.0 if probe.kind == "cuda" else 15.0 * max(1, int(run.ident.get("cores", "1")))
        text = "no power limit readable; 300 W for a GPU, 15 W per CPU core"
        cap = _quantity(cap_w, "W", text, False)
    clock = probe.clock_hz()
    frequency = (
        _quantity(clock / 1e6, "MHz", "reported by the OS/driver", True)
        if clock
        else _quantity(2000, "MHz", "clock not readable; assumed", False)
    )
    power = {
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
    }
    return power, cap_w


def _profile_data(run, compute, memory, power, cap_w, seconds) -> dict[str, Any]:
    """The host profile, in the schema of the shipped profiles, with the raw measurements."""
    probe, ident, share = run.probe, run.ident, run.share
    overhead_factor = 10 if probe.kind == "cpu" else 3
    busy = share is not None and share < BUSY_CPU_SHARE
    return {
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
        "compute": compute,
        "memory": memory,
        "energy": {
            "dram": _quantity(
                15 if probe.kind == "cpu" else 7,
                "pJ/bit",
                "DDR4/DDR5 DIMM ~15 pJ/bit incl. I/O; GPU DRAM ~7 pJ/bit (secondary sources)",
                False,
            ),
        },
        "power": power,
        "notes": [f"calibrated on {ident.get('device')} ({probe.kind}) in {run.plan} mode"]
        + (
            [
                f"{run.wanted_ref} was asked for as the reference dtype but runs slower than a "
                f"wider dtype here (not native): op classes measured in {run.ref}"
            ]
            if run.wanted_ref not in (None, run.ref)
            else []
        )
        + (
            [
                f"calibrated while other programs held the CPU (this process got {share:.0%} "
                "of its threads' time): every rate is too low; recalibrate on a quiet machine "
                "(zoomwatt hardware calibrate)"
            ]
            if busy
            else []
        ),
        "calibration": {
            "fingerprint": _fingerprint(ident, probe),
            "plan": run.plan,
            "date": run.when,
            "seconds": round(seconds, 2),
            "cpu_share": None if share is None else round(share, 3),
            "reference_dtype": run.ref,
            **({"conv_weight_faults": WEIGHT_FAULTS_APART} if weight_faults_apart(run) else {}),
            "reference_kernel": dict(run.reference),
            "measured": {
                "matmul_ops_per_s": {d: _round(r) for d, r in run.raw_matmul.items()},
                "reuse_fits": run.fits,
                "spill_fit": run.spill,
                "conv_fault_fit": run.conv_fault,
                "few_rows": run.few_rows,
                "elementwise_numel": run.numel,
                "ops_per_s": {k: _round(v) for k, v in run.other.items()},
                "copy_bytes_per_s": _round(run.copy_bytes_per_s),
                "kernel_overhead_s": _round(run.kernel_overhead_s),
                **({"stacks": run.stack_fits} if run.stack_fits else {}),
            },
        },
    }


def _calibrate(
    probe: HostProbe, plan: str, reference_dtype: str | None, stacks: tuple[str, ...]
) -> dict[str, Any]:
    """:func:`calibrate_host` of ``probe``; of this CPU (the plain :class:`TorchCpuProbe`)
    in a fresh process, whose heap the caller's earlier allocations cannot have left with
    touched free memory (:mod:`~zoomwatt.hardware.fresh_process`)."""
    if type(probe) is TorchCpuProbe:
        threads = int(_identity(probe).get("threads") or 1)
        return calibrate_in_fresh_process(plan, reference_dtype, stacks, threads)
    return calibrate_host(probe, plan, reference_dtype, stacks)


def load_host_profile(
    *,
    recalibrate: bool = False,
    probe: HostProbe | None = None,
    plan: str = "quick",
    device: str = "auto",
    reference_dtype: str | None = None,
    stacks: tuple[str, ...] = (),
) -> HardwareProfile:
    """The host profile: from the cache when it matches this machine (and holds ``stacks``),
    else calibrated now, with ``stacks`` and those the cached one had. With ``reference_dtype``
    (op classes measured in that dtype, e.g. bf16 for a bf16 check) it is always calibrated
    now and never cached: the cached profile is the one in the dtype models run in here,
    which ``predict --hw host`` uses."""
    # 1. inputs and the probe
    if plan not in PLANS:
        raise InputError("plan", plan, f"one of {sorted(PLANS)}")
    probe = probe or make_probe(device)
    if reference_dtype is not None:
        data = _calibrate(probe, plan, reference_dtype, stacks)
        return parse_profile(data, "calibrated now")
    fingerprint = _fingerprint(_identity(probe), probe)
    origin = str(host_cache_path())

    # 2. cache hit? (its stacks count where their runtime's version is still the installed one)
    cached = read_host_cache()
    record = (cached or {}).get("calibration") or {}
    same_machine = record.get("fingerprint") == fingerprint
    had = _cached_stacks(record) if same_machine else {}
    installed = {name: stack_version(name) for name in had}
    current = {name for name, version in had.items() if installed[name] == version}
    if cached is not None and same_machine and not recalibrate and set(stacks) <= current:
        return parse_profile(cached, origin)
    if cached is not None and not same_machine:
        log.info("host cache is for another machine or library version; recalibrating")

    # 3. calibrate and cache, with the stacks the cached profile had where they still run here
    kept = {name for name, version in installed.items() if version is not None}
    for name in set(had) - kept - set(stacks):
        log.info("the cached host profile's %s stack no longer runs here: left out", name)
    data = _calibrate(probe, plan, None, tuple(sorted(set(stacks) | kept)))
    profile = parse_profile(data, origin)
    write_host_cache(data)
    return profile


def _cached_stacks(record: dict[str, Any]) -> dict[str, str | None]:
    """Stack name -> runtime version of a cached calibration record (older caches: a list)."""
    stacks = record.get("stacks") or {}
    if isinstance(stacks, list):
        return {str(name): None for name in stacks}
    return {str(k): str(v) for k, v in stacks.items()} if isinstance(stacks, dict) else {}


def cached_host_profile() -> HardwareProfile | None:
    """The cached host profile without probing the machine, None if not calibrated yet."""
    data = read_host_cache()
    return None if data is None else parse_profile(data, str(host_cache_path()))
