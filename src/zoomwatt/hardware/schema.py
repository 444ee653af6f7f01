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

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.hardware.horowitz import (
    MAC_45NM_PJ,
    derived_mac_energy,
    derived_on_chip_energy,
)
from zoomwatt.hardware.quantity import Quantity, parse_quantity
from zoomwatt.hardware.yaml_io import file_label
from zoomwatt.workload.records import DTYPE_BYTES, OpClass

SCHEMA_VERSION = 1
DEVICE_CLASSES = ("datacenter", "desktop", "laptop", "embedded", "phone")
# Blocks of the feature that are not the AI model; perfmodel.non_ai_budget has the defaults.
NON_AI_BLOCKS = ("camera_isp", "video_encode", "display", "dram_refresh")
OP_CLASSES = tuple(c.value for c in OpClass)
DTYPES = tuple(DTYPE_BYTES)

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
}


@dataclass(frozen=True)
class OperatingPoint:
    """One frequency/voltage point of the compute engine the profile models."""

    name: str
    frequency: Quantity  # Hz
    voltage: Quantity  # V
    nominal: bool  # the point the peak throughputs are quoted at


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
        for op_class, q in self.efficiency.items():
            yield f"compute.efficiency.{op_class}", q
        for op_class, q in self.reuse_half.items():
            yield f"compute.reuse_half.{op_class}", q
        yield "compute.kernel_overhead", self.kernel_overhead
        yield "memory.capacity", self.memory_capacity
        yield "memory.usable_fraction", self.memory_usable_fraction
        yield "memory.bandwidth", self.memory_bandwidth
        yield "memory.on_chip_buffer", self.on_chip_buffer
        if self.spill_bandwidth is not None:
            yield "memory.spill_bandwidth", self.spill_bandwidth
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


def _reuse_half(raw: Any, where: str) -> dict[str, Quantity]:
    """Optional: per op class, the weight reuse (MACs per weight, i.e. rows sharing each
    weight) at which a layer reaches half its efficiency; absent classes have no penalty."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(where, raw, "a mapping from op class to {value, unit: rows, ...}")
    unknown = set(raw) - set(OP_CLASSES)
    if unknown:
        raise InputError(where, _sorted(unknown), f"op classes among {', '.join(OP_CLASSES)}")
    return {
        key: parse_quantity(value, where=f"{where}.{key}", dimension="count", allow_zero=True)
        for key, value in raw.items()
    }


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
    # 1. top level; 2. process and compute; 3. memory; 4. energy; 5. power; 6. the rest
    top, fields_ = _top_fields(data, label)
    fields_ |= _process_fields(top["process"], f"{label}: process")
    fields_ |= _compute_fields(top["compute"], f"{label}: compute")
    fields_ |= _memory_fields(top["memory"], f"{label}: memory")
    fields_ |= _energy_fields(top["energy"], f"{label}: energy", fields_)
    fields_ |= _power_fields(top["power"], f"{label}: power")
    fields_ |= _extra_fields(top, label)
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
        {"dense", "sparse", "efficiency", "reuse_half", "kernel_overhead"},
        {"dense", "efficiency", "kernel_overhead"},
    )
    peak_dense = _per_dtype(compute["dense"], f"{where}.dense", "throughput", required=True)
    peak_sparse = _per_dtype(compute.get("sparse"), f"{where}.sparse", "throughput", False)
    for dtype in peak_sparse:
        if dtype not in peak_dense:
            raise InputError(f"{where}.sparse.{dtype}", dtype, "a dtype that also has a dense peak")
    return {
        "peak_dense": peak_dense,
        "peak_sparse": peak_sparse,
        "efficiency": _efficiency(compute["efficiency"], f"{where}.efficiency"),
        "reuse_half": _reuse_half(compute.get("reuse_half"), f"{where}.reuse_half"),
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
        {"type", "capacity", "usable_fraction", "bandwidth", "on_chip_buffer", "spill_bandwidth"},
        {"type", "capacity", "usable_fraction", "bandwidth", "on_chip_buffer"},
    )
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
    return {
        "memory_type": _text(memory["type"], f"{where}.type"),
        "memory_capacity": capacity,
        "memory_usable_fraction": usable,
        "memory_bandwidth": bandwidth,
        "on_chip_buffer": on_chip,
        "spill_bandwidth": spill_bandwidth,
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
    power = _mapping(raw, where, keys, keys)
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
