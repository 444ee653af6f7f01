"""A hardware profile as the numeric arrays the roofline uses, with dtype fallback resolved.

A dtype the device has no engine for is computed by the next wider dtype it has (int4 -> int8
-> fp16 -> bf16 -> fp32; fp8 -> fp16 -> bf16 -> fp32; bf16 <-> fp16 -> fp32; uint8 image
bytes -> int8 -> ...; see ``FALLBACK``): the layer keeps
its smaller bytes but gets the wider dtype's throughput and energy per MAC. Where no engine
fits, the dtype is unsupported (NaN peak).

Every field may carry leading batch axes (e.g. shape ``(K, n_dtypes)`` for the per-dtype arrays
and ``(K, 1)`` for scalars) so an optimizer can evaluate K variants of a device in one call;
:meth:`DeviceParams.with_efficiency` is the hook calibration uses to adjust the per-op-class
efficiency factors.

The software stack (:mod:`zoomwatt.hardware.stacks`) is resolved here, once: its efficiencies
and kernel overhead replace the profile's where it gives them, and its fusion switches
(``elementwise_fused``, ``pointwise_chains``) and host issue time are what
:func:`~zoomwatt.perfmodel.roofline.layer_costs` applies.

TF32 (:data:`TF32_STACKS`): on a device whose profile gives a ``compute.tf32`` peak (Ampere and
later tensor cores), PyTorch runs fp32 convolutions through cuDNN with TF32 inputs by default
(``torch.backends.cudnn.allow_tf32`` defaults to True) and fp32 matmuls in full fp32 on the
CUDA cores (``torch.backends.cuda.matmul.allow_tf32`` defaults to False since PyTorch 1.12; a
script that calls ``torch.set_float32_matmul_precision("high")`` turns it on: ``tf32_matmul``);
see the PyTorch docs, CUDA semantics, "TensorFloat-32 (TF32) on Ampere (and later) devices".
Those layers get the TF32 peak in place of the fp32 one; their energy per MAC stays the fp32
engine's (no TF32 figure is published).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from zoomwatt.errors import InputError
from zoomwatt.hardware.fresh_buffers import WEIGHT_FAULTS_APART
from zoomwatt.hardware.schema import DEFAULT_STACK, HardwareProfile
from zoomwatt.hardware.stacks import resolve_stack
from zoomwatt.perfmodel.layer_table import DTYPES, OP_CLASSES
from zoomwatt.workload.records import DTYPE_BYTES, OpClass

FALLBACK: dict[str, tuple[str, ...]] = {
    "fp32": ("fp32",),
    "fp16": ("fp16", "bf16", "fp32"),
    "bf16": ("bf16", "fp16", "fp32"),
    "fp8": ("fp8", "fp16", "bf16", "fp32"),
    "int8": ("int8", "fp16", "bf16", "fp32"),
    "int4": ("int4", "int8", "fp16", "bf16", "fp32"),
    "uint8": ("uint8", "int8", "fp16", "bf16", "fp32"),  # image bytes in the frame stages
}


def fallback_chain(dtype: str) -> tuple[str, ...]:
    """The dtypes whose engines can compute ``dtype``, preferred first."""
    if dtype in FALLBACK:
        return FALLBACK[dtype]
    if dtype not in DTYPE_BYTES:
        raise InputError("dtype", dtype, f"one of {list(DTYPE_BYTES)}")
    return (dtype, "fp32") if DTYPE_BYTES[dtype] > 2 else (dtype, "fp16", "bf16", "fp32")


# Op classes whose weights can be 2:4 sparse and run at the sparse peak.
SPARSE_CLASSES = (OpClass.CONV, OpClass.LINEAR)
#: Stacks that run fp32 convolutions at the TF32 peak where the profile has one (PyTorch's
#: cudnn.allow_tf32 default), and the op classes a TF32 matmul setting adds.
TF32_STACKS = ("eager", "compile")
TF32_CONV_CLASSES = (OpClass.CONV,)
TF32_MATMUL_CLASSES = (OpClass.LINEAR, OpClass.ATTENTION)


@dataclass(frozen=True)
class FewRows:
    """A profile's ``compute.few_rows`` as arrays: the seconds per weight byte of a GEMM at each
    measured row count, per layout (``conv``: a native convolution's GEMM; ``linear``), for the
    layers computed in dtype ``dtype_index`` (into DTYPES); see roofline.few_rows_s."""

    dtype_index: int
    rows: dict[str, np.ndarray]  # layout -> row counts, ascending
    s_per_byte: dict[str, np.ndarray]  # layout -> seconds per weight byte at those rows


@dataclass(frozen=True)
class DeviceParams:
    """Numbers of one device (or a batch of variants) in SI units."""

    name: str
    peak_ops_per_s: np.ndarray  # (..., n_dtypes), NaN where unsupported
    sparse_peak_ops_per_s: np.ndarray  # (..., n_dtypes), = dense where no sparse support
    use_sparse: bool  # conv/linear run at the sparse peak
    efficiency: np.ndarray  # (..., n_op_classes), achievable fraction of peak
    mac_energy_j: np.ndarray  # (..., n_dtypes), J per MAC
    dram_j_per_byte: float | np.ndarray
    on_chip_j_per_byte: float | np.ndarray
    bandwidth_bytes_per_s: float | np.ndarray
    on_chip_buffer_bytes: float | np.ndarray
    static_power_w: float | np.ndarray
    idle_power_w: float | np.ndarray
    power_cap_w: float | np.ndarray
    kernel_overhead_s: float | np.ndarray
    compute_dtype: dict[str, str | None]  # storage dtype -> dtype of the engine that runs it
    # (..., n_op_classes): weight reuse (rows per weight) at which a conv/linear layer reaches
    # half its op-class efficiency; 0 where the profile gives none (no small-batch penalty)
    reuse_half: np.ndarray | None = None
    # B/s: extra time for activation bytes that spill beyond the on-chip buffer, added to the
    # roofline time; inf where the profile gives none
    spill_bandwidth_bytes_per_s: float | np.ndarray = float("inf")
    # the stack reorders each conv's weights into a fresh buffer per call, which costs page
    # faults where it is at least the buffer (roofline.layer_costs; hardware/fresh_buffers.py)
    fresh_conv_weights: bool = False
    # B/s at which those reorder buffers (and a plain-layout conv's input and output ones) are
    # faulted in; None: at the spill bandwidth
    reorder_fault_bandwidth_bytes_per_s: float | np.ndarray | None = None
    # the software stack these numbers stand for, and its fusion (see roofline.fused_layers)
    stack: str = ""
    elementwise_fused: bool = False
    pointwise_chains: bool = False
    # s of host (CPU) time to issue one kernel; a stage call takes at least its kernels x this
    # (see roofline.layer_costs); 0: the host keeps ahead of the device
    host_issue_s: float | np.ndarray = 0.0
    # OP/s of fp32 math on tensor cores (TF32) and the op classes (indices into OP_CLASSES)
    # whose fp32 layers run at it (module text); 0 and () where none
    tf32_peak_ops_per_s: float = 0.0
    tf32_op_classes: tuple[int, ...] = ()
    # MAC energy per engine cycle, useful or not (roofline.layer_costs); False: per useful MAC
    engine_time_energy: bool = False
    # a GEMM's weight rate at a few rows, eager PyTorch on a host that measured it (FewRows)
    few_rows: FewRows | None = None

    def replace(self, **changes: object) -> DeviceParams:
        """A copy with some fields changed (e.g. ``bandwidth_bytes_per_s=2e12``)."""
        return dataclasses.replace(self, **changes)

    def with_efficiency(self, efficiency: Mapping[str | OpClass, float]) -> DeviceParams:
        """A copy with the efficiency of some op classes replaced (values in (0, 1])."""
        eff = np.array(self.efficiency, dtype=float, copy=True)
        for key, value in _check_efficiency(efficiency).items():
            eff[..., OP_CLASSES.index(key)] = value
        return self.replace(efficiency=eff)

    def supports(self, dtype: str) -> bool:
        return self.compute_dtype.get(dtype) is not None


def compute_dtype_for(profile: HardwareProfile, dtype: str) -> str | None:
    """The dtype whose engine computes ``dtype`` on ``profile``, None if none can."""
    return next((d for d in fallback_chain(dtype) if d in profile.peak_dense), None)


def _check_efficiency(efficiency: Mapping[str | OpClass, float]) -> dict[OpClass, float]:
    out = {}
    for key, value in efficiency.items():
        try:
            op_class = OpClass(key)
        except ValueError:
            expected = f"an op class among {[c.value for c in OpClass]}"
            raise InputError("efficiency", key, expected) from None
        ok = isinstance(value, int | float) and math.isfinite(value) and 0 < value <= 1
        if not ok:
            raise InputError(f"efficiency[{op_class.value}]", value, "a number in (0, 1]")
        out[op_class] = float(value)
    return out


def device_params(
    profile: HardwareProfile,
    *,
    sparse: bool = False,
    efficiency: Mapping[str | OpClass, float] | None = None,
    stack: str | None = None,
    fitted: bool = True,
    tf32_matmul: bool = False,
    retained_memory: bool = False,
) -> DeviceParams:
    """The arrays for ``profile`` as software stack ``stack`` runs it (None: the profile's
    default stack; with its fitted figures when ``fitted``); ``sparse`` runs conv/linear at the
    2:4 sparse peak where the device has one; ``efficiency`` overrides the factors per op class
    (after the stack's); ``tf32_matmul``: fp32 matmuls at TF32 too (module text);
    ``retained_memory``: the allocator keeps freed memory (the ``retain-memory`` lever:
    pipeline/allocator.py), so no fresh buffer is faulted in: neither the spill's first-touch
    time nor an eager conv's reorder faults are paid (a single buffer beyond the 2 GiB that
    glibc's threshold can keep would still be mapped afresh: none of the SD 2 stages' is at the
    sizes checked here, 512 px and below). A stack the profile does not list is an
    InputError."""
    software = resolve_stack(profile, stack, fitted=fitted)
    # 1. dtype fallback
    compute = {d: compute_dtype_for(profile, d) for d in DTYPES}
    peak = np.full(len(DTYPES), np.nan)
    sparse_peak = np.full(len(DTYPES), np.nan)
    mac_energy = np.full(len(DTYPES), np.nan)
    for i, dtype in enumerate(DTYPES):
        engine = compute[dtype]
        if engine is None:
            continue
        peak[i] = profile.peak_dense[engine].si
        sparse_q = profile.peak_sparse.get(engine)
        sparse_peak[i] = sparse_q.si if sparse_q is not None else peak[i]
        mac_energy[i] = profile.mac_energy[engine].si

    # 2. efficiency per op class (profile, then the stack's, then overrides)
    per_class = profile.efficiency | software.efficiency
    eff = np.array([per_class[c.value].si for c in OP_CLASSES], dtype=float)
    overhead = software.kernel_overhead
    if overhead is None:
        overhead = profile.kernel_overhead
    per_class_half = profile.reuse_half | software.reuse_half
    half = np.array(
        [per_class_half[c.value].si if c.value in per_class_half else 0.0 for c in OP_CLASSES],
        dtype=float,
    )
    params = DeviceParams(
        name=profile.name,
        peak_ops_per_s=peak,
        sparse_peak_ops_per_s=sparse_peak,
        use_sparse=bool(sparse),
        efficiency=eff,
        mac_energy_j=mac_energy,
        dram_j_per_byte=profile.dram_energy.si,
        on_chip_j_per_byte=profile.on_chip_energy.si,
        bandwidth_bytes_per_s=profile.memory_bandwidth.si,
        on_chip_buffer_bytes=profile.on_chip_buffer.si,
        static_power_w=profile.static_power.si,
        idle_power_w=profile.idle_power.si,
        power_cap_w=profile.power_cap.si,
        kernel_overhead_s=overhead.si,
        compute_dtype=compute,
        reuse_half=half,
        spill_bandwidth_bytes_per_s=(
            profile.spill_bandwidth.si
            if profile.spill_bandwidth is not None and not retained_memory
            else float("inf")
        ),
        fresh_conv_weights=_fresh_conv_weights(profile, software.name) and not retained_memory,
        reorder_fault_bandwidth_bytes_per_s=(
            profile.reorder_fault_bandwidth.si
            if profile.reorder_fault_bandwidth is not None
            else None
        ),
        stack=software.name,
        elementwise_fused=software.elementwise_fused,
        pointwise_chains=software.pointwise_chains,
        host_issue_s=software.host_issue.si if software.host_issue is not None else 0.0,
        engine_time_energy=bool(profile.engine_time_energy and profile.engine_time_energy.value),
        few_rows=_few_rows(profile, software.name),
        **_tf32_fields(profile, software.name, tf32_matmul),
    )
    return params.with_efficiency(efficiency) if efficiency else params


def _fresh_conv_weights(profile: HardwareProfile, stack: str) -> bool:
    """Eager PyTorch on a host calibrated to price fresh weight buffers apart
    (``calibration.conv_weight_faults``, hardware/host_calibration.py): oneDNN reorders a
    conv's weights into a fresh buffer at every call, and the profile's conv class leaves those
    faults out. OpenVINO's weights are graph constants, reordered once; GPU libraries read the
    weights as they are (Inductor on a CPU without freezing may reorder per call too: not
    calibrated on the host, so not modelled); a profile without the marker (an older
    calibration, a hand-written CPU profile) has them in its conv class already, if anywhere."""
    marker = (profile.calibration or {}).get("conv_weight_faults")
    rates = (profile.reorder_fault_bandwidth, profile.spill_bandwidth)  # either prices them
    has_rate = any(rate is not None for rate in rates)
    return stack == DEFAULT_STACK and marker == WEIGHT_FAULTS_APART and has_rate


def _few_rows(profile: HardwareProfile, stack: str) -> FewRows | None:
    """The profile's few-rows GEMM rates as arrays, for its default stack only: they are the
    rates of the kernels eager PyTorch calls (MKL's GEMM), which another stack replaces."""
    few = profile.few_rows
    if few is None or stack != DEFAULT_STACK or not few.rates:
        return None
    rows = {layout: np.array(list(r), dtype=float) for layout, r in few.rates.items()}
    per_byte = {
        layout: np.array([1.0 / q.si for q in r.values()]) for layout, r in few.rates.items()
    }
    return FewRows(DTYPES.index(few.dtype), rows, per_byte)


def _tf32_fields(profile: HardwareProfile, stack: str, tf32_matmul: bool) -> dict[str, object]:
    """The TF32 peak and the op classes that use it for ``stack`` on ``profile`` (module
    text); nothing where the profile has no TF32 peak or the stack is not PyTorch's."""
    if profile.peak_tf32 is None or stack not in TF32_STACKS:
        return {}
    classes = TF32_CONV_CLASSES + (TF32_MATMUL_CLASSES if tf32_matmul else ())
    return {
        "tf32_peak_ops_per_s": profile.peak_tf32.si,
        "tf32_op_classes": tuple(OP_CLASSES.index(c) for c in classes),
    }
