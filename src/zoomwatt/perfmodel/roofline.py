"""Per-layer time and energy: roofline with a per-kernel overhead and a power cap, vectorized.

For each layer (one call):

    compute_time = ops / (peak[dtype] x efficiency[op class] x reuse_factor)
                   ops = max(flops, 2 MACs)
    reuse_factor = reuse / (reuse + reuse_half[op class])
                   reuse = MACs per weight element (rows sharing each weight); 1 without weights;
                           for a fused attention call (no weights) its MACs
                   a linear-class layer within the row counts a profile's few_rows measured:
                   weight bytes / few_rows[layout](reuse) instead (few_rows_s)
    dram_bytes   = weight bytes + spill x activation bytes
                   spill = max(0, 1 - on_chip_buffer / activation bytes)
    memory_time  = dram_bytes / bandwidth
    spill_time   = spill x activation bytes / spill_bandwidth      (0 where the profile has none)
                   + a conv's weight bytes / reorder_fault_bandwidth (the spill bandwidth
                     where the profile has none) where the stack reorders them into a fresh
                     buffer per call and they are at least the buffer (eager PyTorch on a CPU:
                     hardware/fresh_buffers.py), and so its input and output bytes where the
                     conv runs on plain (NCHW) tensors (workload/conv_layout.py)
    dynamic_j    = MACs x E_mac[dtype] x u + (ops - 2 MACs) x E_mac[dtype] / 2
                   + dram_bytes x E_dram + all bytes x E_on_chip
                   u = 1, or peak / throughput where the profile says ``engine_time_energy``
    capped_time  = dynamic_j / (power_cap - static_power)    (time needed to stay under the cap)
    busy_time    = max(compute_time, memory_time, capped_time) + spill_time
    time         = busy_time + kernel_overhead              (layers that do any work)
                   + host_wait / launched kernels           (launched kernels, see below)
    energy       = dynamic_j + static_power x time

Engine-time energy (opt-in per profile, ``power.engine_time_energy``): a layer's MACs cost
E_mac per MAC the engine could have done in its compute time, not per useful MAC: the tensor
engines and their operand delivery switch for the whole compute time, whether a cycle's MACs
are useful or lost to tile padding, wave tails and pipeline bubbles. A compute-bound layer then
draws static + peak MAC rate x E_mac whatever its efficiency. Off (u = 1) for other profiles.

Host issue (an eager stack: PyTorch issues every kernel from Python, ``host_issue`` s each):
the device runs the kernels of a stage call from a queue while the host issues them, so the
call takes max(sum of the device's layer times, launched kernels x host_issue) (the queue hides
the host while the device is slower, and the device waits for the host where the kernels are
shorter than it). The wait, host_wait = max(0, launched x host_issue - sum of layer times), is
spread evenly over the call's launched kernels (a kernel that does work and is not fused); its
bound is ``overhead`` where the share exceeds its busy time. Host issue 0 (every stack but a
fitted eager one) leaves the times as they are.

Fusion (what the software stack does, :func:`fused_layers`): a *fused* layer runs inside
another layer's kernel, so it pays no kernel overhead and its activations stay on chip
(spill = 0: its DRAM bytes are its weights alone, no spill time); its arithmetic and its
on-chip bytes are counted as before. Which layers are fused: elementwise, activation and norm
ops (*pointwise* ops) in a run of consecutive ones within a stage, either every op of a run
that directly follows a conv or linear op (``elementwise_fused``: the run is the conv's or
GEMM's epilogue; the producer writes the run's output instead of its own, the same size for
these shape-keeping ops), or every op of a run but its first (``pointwise_chains``: the run is
one kernel, reading the first op's input and writing the last op's output, which the first
op's activation bytes stand for). Both on: runs after a conv/linear go into it, the others are
one kernel each. A residual add's second input is a DRAM read that fusion does not remove; the
model leaves it on chip too.

The reuse factor is the small-batch penalty of a conv or GEMM: a kernel pays a cost per weight
(packing or reordering it into the kernel's layout, bringing it through the cache hierarchy)
that only the rows sharing that weight (batch x output pixels, or tokens) amortize. With
``time = ops / (peak x eff) + weights x c``, ``ops = 2 x reuse x weights`` gives exactly the
factor above with ``reuse_half = c x peak x eff / 2``. Host calibration measures it (a deep conv
at 4x4 runs at a fraction of a VAE conv's rate on a CPU); profiles without it get factor 1.
Fused attention has no weights; its reuse is the call's MACs, so that the same factor is a fixed
cost per call (``c``) that long sequences amortize: a text encoder's 77-token attention runs at
a third of the rate of a UNet's 1024-token one on a CPU. The two matmuls of an unfused attention
(``bmm`` records) keep factor 1: the calibration measured the fused call.

A few rows fall outside that fit: on a CPU, MKL's GEMM with one row is a matrix-vector product
that streams the weights at the memory's rate, and with 2 to 8 it reads them at a fraction of
it (a third in a native convolution's layout on the AMD EPYCs here, flat from 2 to 8 rows:
benchmarks/results/gemm_rows.md), neither of which the reuse fit, made at 77 and 512 rows
with other weights, extrapolates to (between two calibrations it put the same 4-row conv at
3.5 and 8.1 ms, measured 6.7). Where a host profile measured the weights' rate per row count
(``compute.few_rows``, eager PyTorch only), a linear-class layer within those row counts
takes its weight bytes at that rate, interpolated between them, instead of the fit's time
(:func:`few_rows_s`); a batch-1 UNet's deepest convolutions at 128 px, which PyTorch runs
natively at 4 and 16 rows, are the case.

The spill time is an extra cost, on top of the roofline, of activation bytes that do not fit on
chip, where a machine pays more for them than DRAM bandwidth alone: on a CPU, an activation too
large for the allocator to recycle is freshly mapped and its pages are touched (faulted in) for
the first time by the op that writes it. Host calibration measures it (a VAE-sized conv against
the same conv with activations that fit in the cache); shipped profiles have none. The same
mechanism costs eager PyTorch's convs on a CPU their weights: oneDNN reorders them into a
buffer allocated at every call, which the allocator maps afresh where it is at least the
buffer, so those convs add their weight bytes at the reorder fault bandwidth (where a profile
states one; the spill bandwidth otherwise: :func:`reorder_bandwidth`), and a plain-layout conv
its input and output bytes too, reordered through fresh blocked buffers (:func:`conv_fault_s`,
:func:`~zoomwatt.hardware.fresh_buffers.fresh_buffer_fault_s`; on hosts calibrated with the
faults apart, ``DeviceParams.fresh_conv_weights``).

Weights are read from DRAM once per call; activations stay on chip while the layer's input and
output fit in the buffer, and the part that does not fit goes to DRAM. Every byte passes
through the on-chip memory once. A capped layer runs slower at the same dynamic energy (the
clock drops; a conservative throttle model that ignores the V^2 saving of DVFS). The bound is
``power`` when the cap sets the time, ``overhead`` when the per-kernel overhead exceeds the busy
time, else ``compute`` or ``memory``, whichever is larger.

All device fields may carry leading batch axes; layer arrays are the last axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoomwatt.hardware.fresh_buffers import fresh_buffer_fault_s
from zoomwatt.perfmodel.device_params import SPARSE_CLASSES, DeviceParams, FewRows
from zoomwatt.perfmodel.layer_table import DTYPES, OP_CLASS_INDEX, LayerTable
from zoomwatt.workload.conv_layout import cpu_conv_channels_last
from zoomwatt.workload.records import OpClass

BOUNDS = ("compute", "memory", "power", "overhead")
COMPUTE, MEMORY, POWER, OVERHEAD = range(4)
# Op classes a stack can fuse (pointwise), and the ops whose epilogue they can become.
FUSABLE_CLASSES = (OpClass.ELEMENTWISE, OpClass.ACTIVATION, OpClass.NORM)
PRODUCER_CLASSES = (OpClass.CONV, OpClass.LINEAR)


@dataclass(frozen=True)
class LayerCosts:
    """Per-layer results for one call of each stage; arrays are (..., n_layers)."""

    compute_time_s: np.ndarray
    memory_time_s: np.ndarray
    capped_time_s: np.ndarray
    time_s: np.ndarray
    dram_bytes: np.ndarray
    on_chip_bytes: np.ndarray
    compute_energy_j: np.ndarray
    dram_energy_j: np.ndarray
    on_chip_energy_j: np.ndarray
    static_energy_j: np.ndarray
    energy_j: np.ndarray
    bound: np.ndarray  # int index into BOUNDS

    @property
    def dynamic_energy_j(self) -> np.ndarray:
        return self.compute_energy_j + self.dram_energy_j + self.on_chip_energy_j

    @property
    def power_w(self) -> np.ndarray:
        """Average power of each layer over its time (0 for layers that take no time)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.time_s > 0, self.energy_j / self.time_s, 0.0)


def _col(value: float | np.ndarray) -> np.ndarray:
    """A device scalar, as an array that broadcasts against (..., n_layers)."""
    return np.asarray(value, dtype=float)


def fused_layers(
    table: LayerTable, *, elementwise_fused: bool, pointwise_chains: bool
) -> np.ndarray:
    """Which layers run inside another layer's kernel (bool, one per layer); see the module
    text. Runs are consecutive pointwise layers that do work, within one stage."""
    pointwise = np.isin(table.op_class, [OP_CLASS_INDEX[c] for c in FUSABLE_CLASSES])
    pointwise &= table.is_kernel
    if not (elementwise_fused or pointwise_chains) or not pointwise.any():
        return np.zeros(table.n_layers, dtype=bool)
    same_stage = np.zeros(table.n_layers, dtype=bool)
    same_stage[1:] = table.stage_index[1:] == table.stage_index[:-1]
    after = np.zeros(table.n_layers, dtype=bool)  # the layer before is in the same run
    after[1:] = pointwise[:-1]
    starts = pointwise & ~(same_stage & after)
    fused = np.zeros(table.n_layers, dtype=bool)
    if pointwise_chains:
        fused |= pointwise & ~starts
    if elementwise_fused:
        producer = np.isin(table.op_class, [OP_CLASS_INDEX[c] for c in PRODUCER_CLASSES])
        led = np.zeros(table.n_layers, dtype=bool)  # a run start right after a conv/linear
        led[1:] = starts[1:] & same_stage[1:] & producer[:-1]
        run = np.cumsum(starts) - 1  # run number of each pointwise layer
        led_runs = np.zeros(int(starts.sum()), dtype=bool)
        led_runs[run[led]] = True
        fused |= pointwise & led_runs[np.maximum(run, 0)]
    return fused


def host_wait_per_kernel(
    table: LayerTable, launched: np.ndarray, device_time: np.ndarray, params: DeviceParams
) -> np.ndarray | float:
    """Each launched kernel's share of its stage call's wait for the host (module text): 0
    where the host issues faster than the device runs; arrays (..., n_layers)."""
    host_issue = _col(params.host_issue_s)
    if not np.any(host_issue > 0) or not launched.any():
        return 0.0
    one_hot = (table.stage_index[:, None] == np.arange(table.n_stages)).astype(float)
    kernels = launched.astype(float) @ one_hot  # (n_stages,)
    stage_device_s = device_time @ one_hot  # (..., n_stages)
    wait = np.maximum(0.0, host_issue * kernels - stage_device_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(kernels > 0, wait / kernels, 0.0)
    return np.where(launched, share[..., table.stage_index], 0.0)


def reorder_bandwidth(params: DeviceParams) -> np.ndarray:
    """The rate an eager CPU conv's fresh reorder buffers are faulted in at: the profile's
    reorder fault bandwidth where it states one, else its spill bandwidth."""
    rate = params.reorder_fault_bandwidth_bytes_per_s
    return _col(params.spill_bandwidth_bytes_per_s if rate is None else rate)


def conv_fault_s(table: LayerTable, buffer: np.ndarray, reorder_bw: np.ndarray) -> np.ndarray:
    """The page faults of an eager CPU conv's fresh reorder buffers (hardware/fresh_buffers.py),
    at ``reorder_bw``: its reordered weights, and for a plain-layout conv
    (workload/conv_layout.py) its reordered input and output too; 0 for the other layers."""
    conv = table.op_class == OP_CLASS_INDEX[OpClass.CONV]
    plain_by_stage = np.array(
        [[not cpu_conv_channels_last(stage.name, d) for d in DTYPES] for stage in table.stages],
        dtype=bool,
    ).reshape(table.n_stages, len(DTYPES))
    plain = plain_by_stage[table.stage_index, table.dtype]
    faults = fresh_buffer_fault_s(table.weight_bytes, buffer, reorder_bw)
    for nbytes in (table.input_bytes, table.output_bytes):
        faults = faults + np.where(plain, fresh_buffer_fault_s(nbytes, buffer, reorder_bw), 0.0)
    return np.where(conv, faults, 0.0)


def few_rows_s(table: LayerTable, few: FewRows) -> np.ndarray:
    """Per layer, the time a linear-class layer of ``few``'s dtype takes to read its weights at
    the rate a GEMM reaches at its row count (its reuse), within the measured row counts: the
    rates are interpolated on seconds per byte, linearly in log2 rows, in the layer's layout (a
    native convolution's GEMM, ``table.conv_gemm``, or a linear layer's); NaN outside them and
    for other layers (the reuse fit prices those), and for layers whose weights are stored in
    another dtype than they compute in (int8 weights with fp32 activations: their bytes are not
    the bytes the rate was measured on)."""
    out = np.full(table.n_layers, np.nan)
    stored = table.dtype if table.weight_dtype is None else table.weight_dtype
    is_gemm = (
        (table.op_class == OP_CLASS_INDEX[OpClass.LINEAR])
        & (table.dtype == few.dtype_index)
        & (stored == few.dtype_index)
        & (table.weight_bytes > 0)
    )
    conv_gemm = table.conv_gemm if table.conv_gemm is not None else np.zeros(table.n_layers, bool)
    for layout, layers in (("conv", is_gemm & conv_gemm), ("linear", is_gemm & ~conv_gemm)):
        rows = few.rows.get(layout)
        if rows is None or not rows.size:
            continue
        inside = layers & (table.reuse >= rows[0]) & (table.reuse <= rows[-1])
        reuse = np.where(inside, table.reuse, rows[0])
        per_byte = np.interp(np.log2(reuse), np.log2(rows), few.s_per_byte[layout])
        out = np.where(inside, table.weight_bytes * per_byte, out)
    return out


def layer_costs(table: LayerTable, params: DeviceParams) -> LayerCosts:
    """Time, energy and bound of every layer of ``table`` on ``params``."""
    fused = fused_layers(
        table,
        elementwise_fused=params.elementwise_fused,
        pointwise_chains=params.pointwise_chains,
    )
    # 1. throughput per layer (dtype peak, sparse for conv/linear if asked, x op-class efficiency)
    peak = np.asarray(params.peak_ops_per_s)[..., table.dtype]
    if params.use_sparse:
        sparse_peak = np.asarray(params.sparse_peak_ops_per_s)[..., table.dtype]
        sparse_layer = np.isin(table.op_class, [OP_CLASS_INDEX[c] for c in SPARSE_CLASSES])
        peak = np.where(sparse_layer, sparse_peak, peak)
    if params.tf32_op_classes:  # fp32 layers of these classes on the tensor cores (TF32)
        tf32_layer = (table.dtype == DTYPES.index("fp32")) & np.isin(
            table.op_class, params.tf32_op_classes
        )
        peak = np.where(tf32_layer, params.tf32_peak_ops_per_s, peak)
    throughput = peak * np.asarray(params.efficiency)[..., table.op_class]
    if params.reuse_half is not None:
        half = np.asarray(params.reuse_half)[..., table.op_class]
        reuse = table.reuse
        with np.errstate(invalid="ignore"):
            factor = np.where(np.isfinite(reuse), reuse / (reuse + half), 1.0)
        throughput = throughput * factor
    compute_time = np.where(table.ops > 0, table.ops / throughput, 0.0)
    if params.few_rows is not None:  # MKL's GEMM at a few rows, as measured on the host
        measured = few_rows_s(table, params.few_rows)
        compute_time = np.where(np.isnan(measured), compute_time, measured)

    # 2. DRAM traffic and memory time
    act = table.activation_bytes
    buffer = _col(params.on_chip_buffer_bytes)
    with np.errstate(divide="ignore", invalid="ignore"):
        spill = np.where(act > 0, np.clip(1.0 - buffer / act, 0.0, 1.0), 0.0)
    spill = np.where(fused, 0.0, spill)  # a fused layer's activations stay on chip
    dram_bytes = table.weight_bytes + spill * act
    memory_time = dram_bytes / _col(params.bandwidth_bytes_per_s)
    spill_time = spill * act / _col(params.spill_bandwidth_bytes_per_s)
    if params.fresh_conv_weights:  # eager oneDNN: each call reorders into fresh buffers
        spill_time = spill_time + conv_fault_s(table, buffer, reorder_bandwidth(params))

    # 3. dynamic energy: arithmetic + DRAM + on-chip bytes
    e_mac = np.asarray(params.mac_energy_j)[..., table.dtype]
    mac_energy = table.macs * e_mac
    if params.engine_time_energy:  # per engine cycle: / the share of peak the layer reaches
        mac_energy = np.where(table.macs > 0, mac_energy * peak / throughput, mac_energy)
    compute_energy = mac_energy + table.extra_ops * e_mac / 2.0
    dram_energy = dram_bytes * _col(params.dram_j_per_byte)
    on_chip_bytes = np.broadcast_to(table.total_bytes, dram_bytes.shape)
    on_chip_energy = on_chip_bytes * _col(params.on_chip_j_per_byte)
    dynamic = compute_energy + dram_energy + on_chip_energy

    # 4. power cap, overhead, static energy
    static = _col(params.static_power_w)
    capped_time = dynamic / (_col(params.power_cap_w) - static)
    roof = np.maximum(compute_time, memory_time)
    busy = np.maximum(roof, capped_time) + spill_time
    launched = table.is_kernel & ~fused
    overhead = np.where(launched, _col(params.kernel_overhead_s), 0.0)
    overhead = overhead + host_wait_per_kernel(table, launched, busy + overhead, params)
    time = busy + overhead
    static_energy = static * time
    energy = dynamic + static_energy

    # 5. which bound applies
    bound = np.where(compute_time >= memory_time, COMPUTE, MEMORY)
    bound = np.where(capped_time > roof, POWER, bound)
    bound = np.where(spill_time > np.maximum(roof, capped_time), MEMORY, bound)
    bound = np.where(overhead > busy, OVERHEAD, bound)
    return LayerCosts(
        compute_time_s=np.broadcast_to(compute_time, time.shape),
        memory_time_s=np.broadcast_to(memory_time, time.shape),
        capped_time_s=capped_time,
        time_s=time,
        dram_bytes=np.broadcast_to(dram_bytes, time.shape),
        on_chip_bytes=np.broadcast_to(on_chip_bytes, time.shape),
        compute_energy_j=np.broadcast_to(compute_energy, time.shape),
        dram_energy_j=np.broadcast_to(dram_energy, time.shape),
        on_chip_energy_j=np.broadcast_to(on_chip_energy, time.shape),
        static_energy_j=static_energy,
        energy_j=energy,
        bound=np.broadcast_to(bound, time.shape).astype(np.int8),
    )
