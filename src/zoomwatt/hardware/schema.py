"""The hardware profile: its fields, types and units, and the check that builds it from YAML data.

A profile file is a YAML mapping (see ``profiles/h100-sxm.yaml`` for a complete example). Every
number is a :class:`~zoomwatt.hardware.quantity.Quantity` with a unit and a source or an
estimate. :func:`parse_profile` rejects unknown keys, wrong units, missing provenance and
impossible values with an :class:`~zoomwatt.errors.InputError` that names the file, the field
and the value. Energies per MAC (per dtype) and per on-chip byte may be left out: they are then
derived from the Horowitz 45 nm table scaled by the profile's ``node_scale`` and
``overhead_factor`` (see :mod:`zoomwatt.hardware.horowitz`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.hardware.horowitz import (
    MAC_45NM_PJ,
    derived_mac_energy,
    derived_on_chip_energy,
)
from zoomwatt.hardware.quantity import (
    PROVENANCE_KEYS,
    Quantity,
    parse_provenance,
    parse_quantity,
    provenance_text,
)
from zoomwatt.hardware.yaml_io import file_label
from zoomwatt.workload.records import DTYPE_BYTES, OpClass

SCHEMA_VERSION = 1
DEVICE_CLASSES = ("datacenter", "desktop", "laptop", "embedded", "phone")
# Blocks of the feature that are not the AI model; perfmodel.non_ai_budget has the defaults.
NON_AI_BLOCKS = ("camera_isp", "video_encode", "display", "dram_refresh")
OP_CLASSES = tuple(c.value for c in OpClass)
DTYPES = tuple(DTYPE_BYTES)

#: The software stacks a profile can describe: the one list of their names.
STACKS = (
    "eager",  # PyTorch eager
    "compile",  # PyTorch torch.compile (Inductor, CUDA graphs)
    "tensorrt",  # NVIDIA TensorRT engines
    "coreml",  # Apple Core ML
    "qnn",  # Qualcomm QNN context binaries (AI Hub)
    "qnn-onnx",  # a QNN model on ONNX Runtime's QNN execution provider
    "openvino",  # Intel OpenVINO
    "openvino-int8",  # OpenVINO with NNCF's int8 weights (data-free, INT8_ASYM)
    "onnxruntime",  # ONNX Runtime with its default execution providers
)
#: The stack of a profile that names none.
DEFAULT_STACK = "eager"
#: What a stack's ``fusion`` may switch on (each applied in perfmodel.roofline.layer_costs):
#: ``elementwise_fused``: elementwise, activation and norm ops that follow a conv or linear op
#: (directly or through other such ops) run inside it: no kernel of their own, and their
#: activations stay on chip; ``pointwise_chains``: a run of consecutive elementwise, activation
#: and norm ops is one kernel: the run pays one kernel overhead and the DRAM traffic of its first
#: op, its other ops none.
FUSION_KEYS = ("elementwise_fused", "pointwise_chains")
#: The most a stack's efficiency may be: its rate over the compute section's peak (the default
#: stack's fastest), which another stack's kernels can beat (OpenVINO's chained layers ran at
#: 136-137 GOP/s where eager's fastest fit gave 127, AMD EPYC, 2026-12-02); the default
#: stack's own efficiencies are at most 1.
MAX_STACK_EFFICIENCY = 2.0
#: Stacks the host calibration measures besides eager PyTorch (hardware calibrate --stack).
CALIBRATED_STACKS = ("openvino", "openvino-int8")
#: A stack that runs int8 weights only in some op classes: the others' weights are read in
#: their own dtype. OpenVINO's CPU plugin keeps NNCF's int8 weights compressed in its linear
#: kernels and decompresses convolution weights when it compiles the model (the compiled
#: UNet's profile lists fp32 convolution kernels only, 2026-12-02). Elsewhere int8 weights are
#: int8 in every conv and linear layer.
INT8_WEIGHT_CLASSES = {"openvino-int8": (OpClass.LINEAR,)}
#: A stack's figures: ``host_issue`` is the host (CPU) time to issue one kernel (PyTorch
#: eager's Python and dispatch work per op): a stage call takes at least its kernels x that
#: (perfmodel.roofline.layer_costs); absent: 0, the host keeps ahead of the device.
#: ``reuse_half``: per op class, the weight reuse at half efficiency under this stack (a runtime
#: that packs the weights once, when the model is compiled, pays less per weight per call).
_STACK_FIGURES = ("efficiency", "reuse_half", "kernel_overhead", "host_issue", "fusion")
FITTED_SCHEMA_VERSION = 1

_TOP_KEYS = {
    "schema",
    "name",
    "description",
    "device_class",
    "process",
    "compute",
    "memory",
    "energy",
    "power",
    "battery",
    "non_ai",
    "notes",
    "calibration",
    "default_stack",
    "stacks",
}


@dataclass(frozen=True)
class StackSetting:
    """A yes/no property of a software stack (a kind of fusion), with its provenance."""

    value: bool
    source: str | None = None
    estimate: str | None = None
    fitted: str | None = None

    @property
    def provenance(self) -> str:
        return provenance_text(self.source, self.estimate, self.fitted)


@dataclass(frozen=True)
class SoftwareStack:
    """What one software stack changes in a profile's figures; what it leaves out stays the
    ``compute`` section's (the default stack's)."""

    name: str  # one of STACKS
    efficiency: dict[str, Quantity] = field(default_factory=dict)  # op class -> ratio it changes
    kernel_overhead: Quantity | None = None  # s per kernel, None: the profile's
    fusion: dict[str, StackSetting] = field(default_factory=dict)  # a key of FUSION_KEYS -> on
    notes: str = ""
    host_issue: Quantity | None = None  # s of host time per kernel issued; None: 0
    reuse_half: dict[str, Quantity] = field(default_factory=dict)  # op class -> rows; over
    # the compute section's

    @property
    def elementwise_fused(self) -> bool:
        setting = self.fusion.get("elementwise_fused")
        return setting is not None and setting.value

    @property
    def pointwise_chains(self) -> bool:
        setting = self.fusion.get("pointwise_chains")
        return setting is not None and setting.value

    def quantities(self) -> Iterator[tuple[str, Quantity]]:
        """The numbers the stack gives, with their paths under ``stacks.NAME``."""
        for op_class, q in self.efficiency.items():
            yield f"efficiency.{op_class}", q
        for op_class, q in self.reuse_half.items():
            yield f"reuse_half.{op_class}", q
        if self.kernel_overhead is not None:
            yield "kernel_overhead", self.kernel_overhead
        if self.host_issue is not None:
            yield "host_issue", self.host_issue

    def merged(self, over: SoftwareStack) -> SoftwareStack:
        """This stack with the figures ``over`` gives laid over its own (fitted over priors)."""
        return SoftwareStack(
            name=self.name,
            efficiency=self.efficiency | over.efficiency,
            kernel_overhead=(
                self.kernel_overhead if over.kernel_overhead is None else over.kernel_overhead
            ),
            fusion=self.fusion | over.fusion,
            notes="; ".join(n for n in (self.notes, over.notes) if n),
            host_issue=self.host_issue if over.host_issue is None else over.host_issue,
            reuse_half=self.reuse_half | over.reuse_half,
        )


@dataclass(frozen=True)
class OperatingPoint:
    """One frequency/voltage point of the compute engine the profile models."""

    name: str
    frequency: Quantity  # Hz
    voltage: Quantity  # V
    nominal: bool  # the point the peak throughputs are quoted at


#: The GEMM layouts a profile's ``compute.few_rows`` may give rates for: a native convolution's
#: (the weights times the im2col columns) and a linear layer's (the input times the weights')
FEW_ROWS_LAYOUTS = ("conv", "linear")


@dataclass(frozen=True)
class FewRowsGemm:
    """``compute.few_rows``: the rate a GEMM reads its weights at when a few rows share them,
    per layout (:data:`FEW_ROWS_LAYOUTS`) and row count, with cold weights, in ``dtype`` (the
    only dtype it prices). Host calibration measures it on a CPU, where MKL's kernel for a few
    columns reads the weights at a fraction of the memory bandwidth
    (benchmarks/results/gemm_rows.md); the roofline prices a layer within those row counts at
    that rate instead of the reuse fit (perfmodel/roofline.py, few_rows_s)."""

    dtype: str
    rates: dict[str, dict[int, Quantity]]  # layout -> rows -> B/s of weights

    def quantities(self) -> Iterator[tuple[str, Quantity]]:
        for layout, by_rows in self.rates.items():
            for rows, q in by_rows.items():
                yield f"compute.few_rows.{layout}.{rows}", q


@dataclass(frozen=True)
class HardwareProfile:
    """A device's figures in SI units (``.si``), each with its provenance."""

    name: str
    description: str
    device_class: str
    origin: str  # file path, or "<host cache: PATH>"
    process_node: str
    node_scale: Quantity  # 45 nm / 0.9 V logic energy -> this process
    overhead_factor: Quantity  # energy per MAC incl. operand delivery / bare arithmetic
    peak_dense: dict[str, Quantity]  # dtype -> OP/s (1 MAC = 2 OP)
    peak_sparse: dict[str, Quantity]  # dtype -> OP/s with 2:4 structured sparsity
    efficiency: dict[str, Quantity]  # op class -> achievable fraction of the dtype peak
    reuse_half: dict[str, Quantity]  # op class -> weight reuse (rows) at half the efficiency
    kernel_overhead: Quantity  # s per layer (launch/dispatch)
    memory_type: str
    memory_capacity: Quantity  # B
    memory_usable_fraction: Quantity  # share of capacity the feature may use
    memory_bandwidth: Quantity  # B/s
    on_chip_buffer: Quantity  # B
    mac_energy: dict[str, Quantity]  # dtype -> J per MAC (derived where the file has none)
    dram_energy: Quantity  # J/B
    on_chip_energy: Quantity  # J/B
    static_power: Quantity  # W while the engine is busy, beyond per-op energies
    idle_power: Quantity  # W while the engine waits (between keyframes)
    power_cap: Quantity  # W (TDP or configured power mode)
    operating_points: tuple[OperatingPoint, ...]
    battery: Quantity | None  # Wh of the default battery, None where there is none
    non_ai: dict[str, Quantity] = field(default_factory=dict)  # block -> W overrides
    notes: tuple[str, ...] = ()
    calibration: dict[str, Any] | None = None  # host profiles: fingerprint and date
    # B/s of the extra cost of activation bytes beyond the on-chip buffer, paid on top of the
    # roofline (a CPU's first touch of freshly allocated pages); None: no extra cost
    spill_bandwidth: Quantity | None = None
    # B/s at which an eager CPU conv's fresh reorder buffers (its weights; a plain-layout conv's
    # input and output) are faulted in, where a profile states it (the host calibration records
    # its measurement but does not write it: host_calibration._memory_section); None: at the
    # spill bandwidth
    reorder_fault_bandwidth: Quantity | None = None
    # the stack the compute section's figures are for, used when a prediction names none
    default_stack: str = DEFAULT_STACK
    # stack name -> what it changes; parse_profile always lists the default stack
    stacks: dict[str, SoftwareStack] = field(default_factory=dict)
    # FLOP/s of fp32 math on the tensor cores (TF32 inputs, fp32 accumulate), dense; None where
    # the device has no such engine (which fp32 ops use it: perfmodel.device_params)
    peak_tf32: Quantity | None = None
    # power.engine_time_energy: a MAC costs its energy per engine cycle, useful or not (the
    # tensor engines switch for the whole compute time; perfmodel.roofline); None: off
    engine_time_energy: StackSetting | None = None
    # compute.few_rows: a GEMM's weight rate at a few rows (FewRowsGemm); None: the reuse fit
    few_rows: FewRowsGemm | None = None

    @property
    def stack_names(self) -> tuple[str, ...]:
        """The stacks this profile can be predicted with, in :data:`STACKS` order."""
        return tuple(s for s in STACKS if s in self.stacks or s == self.default_stack)

    def stack(self, name: str | None = None) -> SoftwareStack:
        """The stack ``name`` (None: the default stack); an :class:`InputError` naming the
        stacks the profile has for any other name."""
        name = self.default_stack if name is None else name
        if name not in self.stack_names:
            has = ", ".join(self.stack_names)
            hint = (
                f"calibrate it here first: zoomwatt hardware calibrate --stack {name}"
                if self.name == "host" and name in CALIBRATED_STACKS
                else None
            )
            raise InputError("stack", name, f"a stack {self.name} has: {has}", hint)
        return self.stacks.get(name) or SoftwareStack(name)

    def stack_quantities(self) -> Iterator[tuple[str, Quantity]]:
        """Every number of every stack with its path (``stacks.compile.kernel_overhead``)."""
        for name in self.stack_names:
            for path, q in self.stack(name).quantities():
                yield f"stacks.{name}.{path}", q

    def with_fitted(self, fitted: dict[str, SoftwareStack], where: str) -> HardwareProfile:
        """This profile with ``fitted`` (stack name -> fitted figures, from
        :func:`parse_fitted_stacks`) laid over its stacks; ``where`` names the fitted entry in
        messages. A fitted stack must be one the profile lists (its default stack included:
        fitted figures there stand in for the compute section's)."""
        stacks = dict(self.stacks)
        for name, extra in fitted.items():
            if name not in self.stack_names:
                expected = f"a stack {self.name} lists: {list(self.stack_names)}"
                raise InputError(f"{where}.{name}", name, expected)
            stacks[name] = self.stack(name).merged(extra)
        return dataclasses.replace(self, stacks=stacks)

    @property
    def supported_dtypes(self) -> tuple[str, ...]:
        return tuple(d for d in DTYPES if d in self.peak_dense)

    def quantities(self) -> Iterator[tuple[str, Quantity]]:
        """Every figure with its field path, in file order (for ``hardware show``)."""
        yield "process.node_scale", self.node_scale
        yield "process.overhead_factor", self.overhead_factor
        for dtype, q in self.peak_dense.items():
            yield f"compute.dense.{dtype}", q
        for dtype, q in self.peak_sparse.items():
            yield f"compute.sparse.{dtype}", q
        if self.peak_tf32 is not None:
            yield "compute.tf32", self.peak_tf32
        for op_class, q in self.efficiency.items():
            yield f"compute.efficiency.{op_class}", q
        for op_class, q in self.reuse_half.items():
            yield f"compute.reuse_half.{op_class}", q
        if self.few_rows is not None:
            yield from self.few_rows.quantities()
        yield "compute.kernel_overhead", self.kernel_overhead
        yield "memory.capacity", self.memory_capacity
        yield "memory.usable_fraction", self.memory_usable_fraction
        yield "memory.bandwidth", self.memory_bandwidth
        yield "memory.on_chip_buffer", self.on_chip_buffer
        if self.spill_bandwidth is not None:
            yield "memory.spill_bandwidth", self.spill_bandwidth
        if self.reorder_fault_bandwidth is not None:
            yield "memory.reorder_fault_bandwidth", self.reorder_fault_bandwidth
        for dtype, q in self.mac_energy.items():
            yield f"energy.mac.{dtype}", q
        yield "energy.dram", self.dram_energy
        yield "energy.on_chip", self.on_chip_energy
        yield "power.static", self.static_power
        yield "power.idle", self.idle_power
        yield "power.cap", self.power_cap
        for point in self.operating_points:
            yield f"power.operating_points.{point.name}.frequency", point.frequency
            yield f"power.operating_points.{point.name}.voltage", point.voltage
        if self.battery is not None:
            yield "battery", self.battery
        for block, q in self.non_ai.items():
            yield f"non_ai.{block}", q


def _sorted(keys: Any) -> list[Any]:
    """Keys sorted as text: a mapping built in code may mix key types (``1`` and ``"fp16"``),
    which ``sorted`` cannot compare."""
    return sorted(keys, key=str)


def _listed(keys: Any) -> str:
    """Allowed or missing keys as the message lists them: ``a, b, c``."""
    return ", ".join(sorted(keys))


def _mapping(raw: Any, where: str, keys: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(where, raw, f"a mapping with keys {_listed(required)}")
    unknown = set(raw) - keys
    if unknown:
        raise InputError(where, _sorted(unknown), f"only the keys {_listed(keys)}")
    missing = required - set(raw)
    if missing:
        raise InputError(where, _sorted(raw), f"also the keys {_listed(missing)}")
    return raw


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(where, raw, "a non-empty text")
    return raw


def _per_dtype(raw: Any, where: str, dimension: str, required: bool) -> dict[str, Quantity]:
    if raw is None and not required:
        return {}
    if not isinstance(raw, dict) or (required and not raw):
        raise InputError(where, raw, f"a mapping from dtype ({', '.join(DTYPES)}) to a figure")
    out = {}
    for dtype in DTYPES:  # keep a fixed order
        if dtype in raw:
            out[dtype] = parse_quantity(raw[dtype], where=f"{where}.{dtype}", dimension=dimension)
    unknown = set(raw) - set(DTYPES)
    if unknown:
        raise InputError(where, _sorted(unknown), f"dtypes among {', '.join(DTYPES)}")
    return out


def _efficiency(raw: Any, where: str) -> dict[str, Quantity]:
    if not isinstance(raw, dict):
        raise InputError(where, raw, "a mapping from op class (or 'default') to a ratio")
    unknown = set(raw) - set(OP_CLASSES) - {"default"}
    if unknown:
        raise InputError(
            where, _sorted(unknown), f"op classes among {', '.join(OP_CLASSES)}, default"
        )
    parsed = {
        key: parse_quantity(value, where=f"{where}.{key}", dimension="ratio", maximum=1.0)
        for key, value in raw.items()
    }
    missing = [c for c in OP_CLASSES if c not in parsed]
    if missing and "default" not in parsed:
        raise InputError(where, _sorted(raw), f"every op class or a 'default'; missing {missing}")
    return {c: parsed.get(c, parsed.get("default")) for c in OP_CLASSES}


def _reuse_half(
    raw: Any, where: str, provenance: tuple[str, ...] = PROVENANCE_KEYS
) -> dict[str, Quantity]:
    """Optional: per op class, the weight reuse (MACs per weight, i.e. rows sharing each
    weight) at which a layer reaches half its efficiency; absent classes have no penalty.
    ``provenance``: the kinds its figures may carry (a stack's: those of the stack's entry)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(where, raw, "a mapping from op class to {value, unit: rows or MACs, ...}")
    unknown = set(raw) - set(OP_CLASSES)
    if unknown:
        raise InputError(where, _sorted(unknown), f"op classes among {', '.join(OP_CLASSES)}")
    return {
        key: parse_quantity(
            value, where=f"{where}.{key}", dimension="count", allow_zero=True, provenance=provenance
        )
        for key, value in raw.items()
    }


def _few_rows(raw: Any, where: str) -> FewRowsGemm | None:
    """Optional ``compute.few_rows``: ``dtype``, and per layout (:data:`FEW_ROWS_LAYOUTS`) a
    mapping from a row count (a whole number from 1) to the weights' bandwidth."""
    if raw is None:
        return None
    layouts = _mapping(raw, where, {"dtype", *FEW_ROWS_LAYOUTS}, {"dtype"})
    dtype = layouts["dtype"]
    if dtype not in DTYPES:
        raise InputError(f"{where}.dtype", dtype, f"one of {', '.join(DTYPES)}")
    rates: dict[str, dict[int, Quantity]] = {}
    for layout in FEW_ROWS_LAYOUTS:
        by_rows = layouts.get(layout)
        if by_rows is None:
            continue
        if not isinstance(by_rows, dict) or not by_rows:
            raise InputError(f"{where}.{layout}", by_rows, "a mapping from rows to a bandwidth")
        parsed = {}
        for key, value in by_rows.items():
            text = str(key)
            rows = int(text) if text.isascii() and text.isdecimal() else 0
            if rows < 1:
                raise InputError(f"{where}.{layout}", key, "row counts: whole numbers from 1")
            here = f"{where}.{layout}.{key}"
            parsed[rows] = parse_quantity(value, where=here, dimension="bandwidth")
        rates[layout] = dict(sorted(parsed.items()))
    return FewRowsGemm(dtype, rates)


def _operating_points(raw: Any, where: str) -> tuple[OperatingPoint, ...]:
    if not isinstance(raw, list) or not raw:
        raise InputError(where, raw, "a non-empty list of {name, frequency, voltage, nominal}")
    points = []
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        item = _mapping(
            item,
            here,
            {"name", "frequency", "voltage", "nominal"},
            {"name", "frequency", "voltage"},
        )
        nominal = item.get("nominal", False)
        if not isinstance(nominal, bool):
            raise InputError(f"{here}.nominal", nominal, "true or false")
        points.append(
            OperatingPoint(
                name=_text(item["name"], f"{here}.name"),
                frequency=parse_quantity(
                    item["frequency"], where=f"{here}.frequency", dimension="frequency"
                ),
                voltage=parse_quantity(
                    item["voltage"], where=f"{here}.voltage", dimension="voltage", maximum=2.0
                ),
                nominal=nominal,
            )
        )
    if sum(p.nominal for p in points) != 1:
        raise InputError(where, [p.name for p in points], "exactly one point with nominal: true")
    return tuple(points)


def parse_profile(data: Any, origin: str) -> HardwareProfile:
    """Check profile data loaded from ``origin`` and build the profile.

    Raises :class:`InputError` naming ``origin``, the field and the value on the first problem;
    the sections are checked in file order, each by its own function.
    """
    label = file_label(origin)  # the file as named in messages: one line, bounded
    # 1. top level; 2. process and compute; 3. memory; 4. energy; 5. power; 6. the rest;
    # 7. software stacks
    top, fields_ = _top_fields(data, label)
    fields_ |= _process_fields(top["process"], f"{label}: process")
    fields_ |= _compute_fields(top["compute"], f"{label}: compute")
    fields_ |= _memory_fields(top["memory"], f"{label}: memory")
    fields_ |= _energy_fields(top["energy"], f"{label}: energy", fields_)
    fields_ |= _power_fields(top["power"], f"{label}: power")
    fields_ |= _extra_fields(top, label)
    fields_ |= _stack_fields(top, label)
    return HardwareProfile(origin=origin, **fields_)


def _top_fields(data: Any, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    top = _mapping(
        data,
        label,
        _TOP_KEYS,
        {"schema", "name", "description", "device_class", "process", "compute", "memory"}
        | {"energy", "power"},
    )
    if top["schema"] != SCHEMA_VERSION:
        raise InputError(f"{label}: schema", top["schema"], f"{SCHEMA_VERSION}")
    name = _text(top["name"], f"{label}: name")
    if not all(ch.isalnum() or ch in "-_." for ch in name):
        raise InputError(f"{label}: name", name, "letters, digits, '-', '_' or '.'")
    device_class = top["device_class"]
    if device_class not in DEVICE_CLASSES:
        raise InputError(f"{label}: device_class", device_class, f"one of {DEVICE_CLASSES}")
    description = _text(top["description"], f"{label}: description")
    return top, {"name": name, "description": description, "device_class": device_class}


def _process_fields(raw: Any, where: str) -> dict[str, Any]:
    process = _mapping(
        raw, where, {"node", "node_scale", "overhead_factor"}, {"node", "node_scale"}
    )
    node_scale = parse_quantity(
        process["node_scale"], where=f"{where}.node_scale", dimension="ratio", maximum=2.0
    )
    overhead_raw = process.get(
        "overhead_factor", {"value": 1, "unit": "1", "estimate": "no operand overhead given"}
    )
    overhead = parse_quantity(
        overhead_raw,
        where=f"{where}.overhead_factor",
        dimension="ratio",
        minimum=1.0,
        allow_zero=True,
    )
    return {
        "process_node": _text(process["node"], f"{where}.node"),
        "node_scale": node_scale,
        "overhead_factor": overhead,
    }


def _compute_fields(raw: Any, where: str) -> dict[str, Any]:
    compute = _mapping(
        raw,
        where,
        {"dense", "sparse", "tf32", "efficiency", "reuse_half", "kernel_overhead", "few_rows"},
        {"dense", "efficiency", "kernel_overhead"},
    )
    tf32 = compute.get("tf32")
    if tf32 is not None:
        if "fp32" not in compute["dense"]:
            raise InputError(f"{where}.tf32", tf32, "a tf32 peak only beside a dense fp32 peak")
        tf32 = parse_quantity(tf32, where=f"{where}.tf32", dimension="throughput")
    peak_dense = _per_dtype(compute["dense"], f"{where}.dense", "throughput", required=True)
    peak_sparse = _per_dtype(compute.get("sparse"), f"{where}.sparse", "throughput", False)
    for dtype in peak_sparse:
        if dtype not in peak_dense:
            raise InputError(f"{where}.sparse.{dtype}", dtype, "a dtype that also has a dense peak")
    return {
        "peak_dense": peak_dense,
        "peak_sparse": peak_sparse,
        "peak_tf32": tf32,
        "efficiency": _efficiency(compute["efficiency"], f"{where}.efficiency"),
        "reuse_half": _reuse_half(compute.get("reuse_half"), f"{where}.reuse_half"),
        "few_rows": _few_rows(compute.get("few_rows"), f"{where}.few_rows"),
        "kernel_overhead": parse_quantity(
            compute["kernel_overhead"],
            where=f"{where}.kernel_overhead",
            dimension="time",
            allow_zero=True,
        ),
    }


def _memory_fields(raw: Any, where: str) -> dict[str, Any]:
    memory = _mapping(
        raw,
        where,
        {"type", "capacity", "usable_fraction", "bandwidth", "on_chip_buffer", "spill_bandwidth",
         "reorder_fault_bandwidth"},
        {"type", "capacity", "usable_fraction", "bandwidth", "on_chip_buffer"},
    )  # fmt: skip
    capacity = parse_quantity(memory["capacity"], where=f"{where}.capacity", dimension="bytes")
    usable = parse_quantity(
        memory["usable_fraction"], where=f"{where}.usable_fraction", dimension="ratio", maximum=1.0
    )
    bandwidth = parse_quantity(
        memory["bandwidth"], where=f"{where}.bandwidth", dimension="bandwidth"
    )
    on_chip = parse_quantity(
        memory["on_chip_buffer"],
        where=f"{where}.on_chip_buffer",
        dimension="bytes",
        allow_zero=True,
    )
    spill = memory.get("spill_bandwidth")
    spill_bandwidth = (
        None
        if spill is None
        else parse_quantity(spill, where=f"{where}.spill_bandwidth", dimension="bandwidth")
    )
    faults = memory.get("reorder_fault_bandwidth")
    if faults is not None:
        faults = parse_quantity(
            faults, where=f"{where}.reorder_fault_bandwidth", dimension="bandwidth"
        )
    return {
        "memory_type": _text(memory["type"], f"{where}.type"),
        "memory_capacity": capacity,
        "memory_usable_fraction": usable,
        "memory_bandwidth": bandwidth,
        "on_chip_buffer": on_chip,
        "spill_bandwidth": spill_bandwidth,
        "reorder_fault_bandwidth": faults,
    }


def _energy_fields(raw: Any, where: str, known: dict[str, Any]) -> dict[str, Any]:
    """Energies per MAC, DRAM and on-chip byte; what is left out is derived from the 45 nm
    table with the process fields already in ``known``."""
    peak_dense, node_scale = known["peak_dense"], known["node_scale"]
    energy = _mapping(raw, where, {"mac", "dram", "on_chip"}, {"dram"})
    mac_given = _per_dtype(energy.get("mac"), f"{where}.mac", "energy", required=False)
    for dtype in peak_dense:
        if dtype not in mac_given and dtype not in MAC_45NM_PJ:
            raise InputError(
                f"{where}.mac.{dtype}", None, "a figure (no 45 nm reference to derive)"
            )
    mac_energy = {
        dtype: mac_given.get(dtype)
        or derived_mac_energy(dtype, node_scale, known["overhead_factor"])
        for dtype in peak_dense
    }
    for dtype in mac_given:
        if dtype not in peak_dense:
            raise InputError(f"{where}.mac.{dtype}", dtype, "a dtype that also has a dense peak")
    dram = parse_quantity(energy["dram"], where=f"{where}.dram", dimension="energy_per_byte")
    if "on_chip" in energy:
        on_chip_energy = parse_quantity(
            energy["on_chip"], where=f"{where}.on_chip", dimension="energy_per_byte"
        )
    else:
        on_chip_energy = derived_on_chip_energy(node_scale)
    return {"mac_energy": mac_energy, "dram_energy": dram, "on_chip_energy": on_chip_energy}


def _power_fields(raw: Any, where: str) -> dict[str, Any]:
    keys = {"static", "idle", "cap", "operating_points"}
    power = _mapping(raw, where, keys | {"engine_time_energy"}, keys)
    static = parse_quantity(
        power["static"], where=f"{where}.static", dimension="power", allow_zero=True
    )
    idle = parse_quantity(power["idle"], where=f"{where}.idle", dimension="power", allow_zero=True)
    cap = parse_quantity(power["cap"], where=f"{where}.cap", dimension="power")
    if cap.si <= static.si:
        raise InputError(f"{where}.cap", cap.value, f"more than power.static ({static.as_text()})")
    return {
        "static_power": static,
        "idle_power": idle,
        "power_cap": cap,
        "operating_points": _operating_points(
            power["operating_points"], f"{where}.operating_points"
        ),
        "engine_time_energy": (
            None
            if power.get("engine_time_energy") is None
            else _setting(
                power["engine_time_energy"], f"{where}.engine_time_energy", PROVENANCE_KEYS
            )
        ),
    }


def _extra_fields(top: dict[str, Any], label: str) -> dict[str, Any]:
    """Battery, non-AI overrides, notes and the calibration record."""
    battery_raw = top.get("battery")
    battery = (
        None
        if battery_raw is None
        else parse_quantity(battery_raw, where=f"{label}: battery", dimension="battery")
    )
    non_ai_raw = top.get("non_ai") or {}
    if not isinstance(non_ai_raw, dict) or set(non_ai_raw) - set(NON_AI_BLOCKS):
        raise InputError(
            f"{label}: non_ai", non_ai_raw, f"a mapping with keys among {NON_AI_BLOCKS}"
        )
    non_ai = {
        block: parse_quantity(
            non_ai_raw[block],
            where=f"{label}: non_ai.{block}",
            dimension="power",
            allow_zero=True,
        )
        for block in NON_AI_BLOCKS
        if block in non_ai_raw
    }
    notes_raw = top.get("notes") or []
    if not isinstance(notes_raw, list) or not all(isinstance(n, str) for n in notes_raw):
        raise InputError(f"{label}: notes", notes_raw, "a list of texts")
    calibration = top.get("calibration")
    if calibration is not None and not isinstance(calibration, dict):
        raise InputError(f"{label}: calibration", calibration, "a mapping")
    return {
        "battery": battery,
        "non_ai": non_ai,
        "notes": tuple(notes_raw),
        "calibration": calibration,
    }


def _keyed(raw: Any, where: str, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    """An optional mapping whose keys are among ``allowed`` (``{}`` when absent)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(where, raw, f"a mapping from {what} ({', '.join(allowed)})")
    unknown = set(raw) - set(allowed)
    if unknown:
        raise InputError(where, _sorted(unknown), f"{what}s among {', '.join(allowed)}")
    return raw


def _stack_entry(
    raw: Any, where: str, name: str, provenance: tuple[str, ...], keys: set[str]
) -> tuple[SoftwareStack, bool]:
    """One ``stacks.NAME`` mapping (``keys`` allowed) as a stack and its ``default`` flag;
    every figure's provenance is one of ``provenance``."""
    entry = _mapping({} if raw is None else raw, where, keys, set())
    eff_raw = _keyed(entry.get("efficiency"), f"{where}.efficiency", OP_CLASSES, "op class")
    efficiency = {
        c: parse_quantity(
            eff_raw[c],
            where=f"{where}.efficiency.{c}",
            dimension="ratio",
            maximum=MAX_STACK_EFFICIENCY,
            provenance=provenance,
        )
        for c in OP_CLASSES
        if c in eff_raw
    }
    reuse_half = _reuse_half(entry.get("reuse_half"), f"{where}.reuse_half", provenance)
    overhead = _time_figure(entry, "kernel_overhead", where, provenance)
    host_issue = _time_figure(entry, "host_issue", where, provenance)
    fusion_raw = _keyed(entry.get("fusion"), f"{where}.fusion", FUSION_KEYS, "kind of fusion")
    fusion = {
        key: _setting(fusion_raw[key], f"{where}.fusion.{key}", provenance)
        for key in FUSION_KEYS
        if key in fusion_raw
    }
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise InputError(f"{where}.default", default, "true or false")
    notes = entry.get("notes")
    notes = "" if notes is None else _text(notes, f"{where}.notes")
    stack = SoftwareStack(name, efficiency, overhead, fusion, notes, host_issue, reuse_half)
    return stack, default


def _time_figure(
    entry: dict[str, Any], key: str, where: str, provenance: tuple[str, ...]
) -> Quantity | None:
    """The optional time figure ``key`` of a stack entry (0 allowed), None when absent."""
    raw = entry.get(key)
    if raw is None:
        return None
    return parse_quantity(
        raw, where=f"{where}.{key}", dimension="time", allow_zero=True, provenance=provenance
    )


def _setting(raw: Any, where: str, provenance: tuple[str, ...]) -> StackSetting:
    expected = "a mapping {value: true or false, source, estimate or fitted: TEXT}"
    if not isinstance(raw, dict) or set(raw) - {"value", "source", "estimate", "fitted"}:
        raise InputError(where, raw, expected)
    if not isinstance(raw.get("value"), bool):
        raise InputError(f"{where}.value", raw.get("value"), "true or false")
    return StackSetting(raw["value"], **parse_provenance(raw, where, provenance))


def _stack_name(raw: Any, where: str) -> str:
    if raw not in STACKS:
        raise InputError(where, raw, f"a stack among {', '.join(STACKS)}")
    return raw


def _stack_fields(top: dict[str, Any], label: str) -> dict[str, Any]:
    """The default stack and the ``stacks`` section: each stack's figures checked, at most one
    ``default: true`` (agreeing with ``default_stack``), and the default stack changing no
    figure; the default stack is always listed."""
    raw = {} if top.get("stacks") is None else top["stacks"]
    if not isinstance(raw, dict):
        raise InputError(f"{label}: stacks", raw, "a mapping from stack name to its figures")
    keys = {*_STACK_FIGURES, "default", "notes"}
    stacks, flagged = {}, []
    for name in raw:
        where = f"{label}: stacks.{_stack_name(name, f'{label}: stacks')}"
        stacks[name], is_default = _stack_entry(raw[name], where, name, PROVENANCE_KEYS, keys)
        if is_default:
            flagged.append(name)
    named = top.get("default_stack")
    if named is not None:
        _stack_name(named, f"{label}: default_stack")
    if len(flagged) > 1 or (flagged and named is not None and flagged[0] != named):
        expected = (
            "one default stack: default: true on one stack at most, the default_stack if given"
        )
        raise InputError(f"{label}: stacks", flagged, expected)
    default = flagged[0] if flagged else named or DEFAULT_STACK
    changed = [k for k in _STACK_FIGURES if raw.get(default) and raw[default].get(k)]
    if changed:
        expected = f"no {', '.join(changed)}: the default stack's figures are the compute section's"
        raise InputError(f"{label}: stacks.{default}", changed, expected)
    stacks.setdefault(default, SoftwareStack(default))
    return {"default_stack": default, "stacks": {s: stacks[s] for s in STACKS if s in stacks}}


def parse_fitted_stacks(data: Any, origin: str) -> dict[str, dict[str, SoftwareStack]]:
    """Check a fitted-stacks file: ``{schema: 1, profiles: {PROFILE: {STACK: {efficiency,
    kernel_overhead, host_issue, notes}}}}``, every number with ``fitted:`` provenance;
    returns profile name -> stack name -> the fitted figures (see
    :meth:`HardwareProfile.with_fitted`)."""
    label = file_label(origin)
    top = _mapping(data, label, {"schema", "profiles", "notes"}, {"schema", "profiles"})
    if top["schema"] != FITTED_SCHEMA_VERSION:
        raise InputError(f"{label}: schema", top["schema"], f"{FITTED_SCHEMA_VERSION}")
    profiles = top["profiles"] or {}
    if not isinstance(profiles, dict):
        raise InputError(f"{label}: profiles", profiles, "a mapping from profile name to stacks")
    out: dict[str, dict[str, SoftwareStack]] = {}
    for profile, stacks in profiles.items():
        where = f"{label}: profiles.{profile}"
        if not isinstance(stacks, dict):
            raise InputError(where, stacks, "a mapping from stack name to fitted figures")
        out[profile] = {}
        for name, raw in stacks.items():
            here = f"{where}.{_stack_name(name, where)}"
            keys = {"efficiency", "kernel_overhead", "host_issue", "notes"}
            out[profile][name] = _stack_entry(raw, here, name, ("fitted",), keys)[0]
    return out
