"""A number with a unit and its provenance, as written in a hardware profile.

Every figure in a profile is written ``{value: 3.35, unit: TB/s, source: "..."}``, or with
``estimate: "why"`` or ``fitted: "to what"`` instead of ``source``: ``source`` names where the
figure was published, ``estimate`` says how it was reasoned out, ``fitted`` says which published
figures it was fitted to and how (see ``zoomwatt validate``). :func:`parse_quantity` checks the
unit against the field's dimension, converts the value to SI base units (ops/s, B, B/s, J, J/B,
W, s, Hz, V, Wh) and keeps the original value, unit and provenance for display;
:func:`parse_provenance` checks the provenance alone (for settings that are not numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from zoomwatt.errors import InputError

# unit -> (dimension, factor to the SI base unit of that dimension)
UNITS: dict[str, tuple[str, float]] = {
    "1": ("ratio", 1.0),
    "rows": ("count", 1.0),
    "MACs": ("count", 1.0),  # attention's reuse: the MACs of one call
    "nm": ("length", 1e-9),
    "OP/s": ("throughput", 1.0),
    "GOP/s": ("throughput", 1e9),
    "TOP/s": ("throughput", 1e12),
    "FLOP/s": ("throughput", 1.0),
    "GFLOP/s": ("throughput", 1e9),
    "TFLOP/s": ("throughput", 1e12),
    "B": ("bytes", 1.0),
    "kB": ("bytes", 1e3),
    "MB": ("bytes", 1e6),
    "GB": ("bytes", 1e9),
    "KiB": ("bytes", 1024.0),
    "MiB": ("bytes", 1024.0**2),
    "GiB": ("bytes", 1024.0**3),
    "B/s": ("bandwidth", 1.0),
    "MB/s": ("bandwidth", 1e6),
    "GB/s": ("bandwidth", 1e9),
    "TB/s": ("bandwidth", 1e12),
    "pJ": ("energy", 1e-12),
    "nJ": ("energy", 1e-9),
    "J": ("energy", 1.0),
    "pJ/B": ("energy_per_byte", 1e-12),
    "pJ/bit": ("energy_per_byte", 8e-12),
    "nJ/B": ("energy_per_byte", 1e-9),
    "mW": ("power", 1e-3),
    "W": ("power", 1.0),
    "ns": ("time", 1e-9),
    "us": ("time", 1e-6),
    "ms": ("time", 1e-3),
    "s": ("time", 1.0),
    "MHz": ("frequency", 1e6),
    "GHz": ("frequency", 1e9),
    "mV": ("voltage", 1e-3),
    "V": ("voltage", 1.0),
    "Wh": ("battery", 1.0),
    "mWh": ("battery", 1e-3),
}

SI_UNIT = {
    "ratio": "1",
    "count": "rows",
    "length": "m",
    "throughput": "OP/s",
    "bytes": "B",
    "bandwidth": "B/s",
    "energy": "J",
    "energy_per_byte": "J/B",
    "power": "W",
    "time": "s",
    "frequency": "Hz",
    "voltage": "V",
    "battery": "Wh",
}

#: The kinds of provenance a figure may carry; exactly one of them.
PROVENANCE_KEYS = ("source", "estimate", "fitted")
_KEYS = {"value", "unit", *PROVENANCE_KEYS}

#: Smallest and largest size of a non-zero figure in SI units. Real devices sit well inside
#: (J per MAC ~1e-12, OP/s ~1e16); within it, the model's products and quotients of a few
#: figures and layer counts stay finite, so a prediction is never inf or NaN.
SI_MAGNITUDE = (1e-30, 1e30)


@dataclass(frozen=True)
class Quantity:
    """One profile figure: ``si`` is the value in the SI base unit of its dimension."""

    si: float
    value: float  # as written in the file
    unit: str  # as written in the file
    dimension: str
    source: str | None = None
    estimate: str | None = None
    fitted: str | None = None  # fitted to published figures: which, and how

    @property
    def is_estimate(self) -> bool:
        return self.estimate is not None

    @property
    def is_fitted(self) -> bool:
        return self.fitted is not None

    @property
    def provenance(self) -> str:
        """``source: ...``, ``estimate: ...`` or ``fitted: ...``."""
        return provenance_text(self.source, self.estimate, self.fitted)

    def as_text(self) -> str:
        """The value with the unit it was written in, e.g. ``3.35 TB/s``."""
        return f"{self.value:g}" if self.unit == "1" else f"{self.value:g} {self.unit}"

    def to_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "unit": self.unit}
        if self.source is not None:
            out["source"] = self.source
        elif self.fitted is not None:
            out["fitted"] = self.fitted
        else:
            out["estimate"] = self.estimate
        return out


def provenance_text(source: str | None, estimate: str | None, fitted: str | None = None) -> str:
    """``source: ...``, ``fitted: ...`` or ``estimate: ...``, whichever is given."""
    if source is not None:
        return f"source: {source}"
    if fitted is not None:
        return f"fitted: {fitted}"
    return f"estimate: {estimate}"


def make_quantity(
    value: float,
    unit: str,
    *,
    source: str | None = None,
    estimate: str | None = None,
    fitted: str | None = None,
) -> Quantity:
    """Build a Quantity in code (host calibration, derived figures, fits)."""
    dimension, factor = UNITS[unit]
    return Quantity(
        si=float(value) * factor,
        value=float(value),
        unit=unit,
        dimension=dimension,
        source=source,
        estimate=estimate,
        fitted=fitted,
    )


def parse_provenance(
    raw: dict[str, Any], where: str, kinds: tuple[str, ...] = PROVENANCE_KEYS
) -> dict[str, str | None]:
    """The provenance of one figure: exactly one of the ``kinds`` (source, estimate, fitted),
    a non-empty text; returned as ``{"source": ..., "estimate": ..., "fitted": ...}`` with
    None for the two that are not given."""
    given = [k for k in PROVENANCE_KEYS if raw.get(k) is not None]
    if len(given) != 1 or given[0] not in kinds:
        if len(kinds) == 1:
            raise InputError(where, raw, f"{kinds[0]}: TEXT and no other provenance")
        choices = ", ".join(f"{k}: TEXT" for k in kinds[:-1]) + f" or {kinds[-1]}: TEXT"
        raise InputError(where, raw, f"exactly one of {choices}")
    text = raw[given[0]]
    if not isinstance(text, str) or not text.strip():
        raise InputError(where, raw, f"a non-empty {given[0]} text")
    return {k: (text if k == given[0] else None) for k in PROVENANCE_KEYS}


def parse_quantity(
    raw: Any,
    *,
    where: str,
    dimension: str,
    minimum: float = 0.0,
    allow_zero: bool = False,
    maximum: float | None = None,
    provenance: tuple[str, ...] = PROVENANCE_KEYS,
) -> Quantity:
    """Check one ``{value, unit, source|estimate|fitted}`` mapping; ``where`` is ``file:
    field``; ``provenance`` narrows the kinds of provenance the figure may carry.

    The value must be finite and > ``minimum`` (>= when ``allow_zero``), and <= ``maximum`` in
    SI units when given; unless it is 0, its size in SI units must lie in ``SI_MAGNITUDE``
    (``1e308 TB/s`` overflows to infinity, ``5e-324 B/s`` makes the model's times infinite).
    """
    units_ok = sorted(u for u, (d, _) in UNITS.items() if d == dimension)
    expected_form = "a mapping {value: NUMBER, unit: UNIT, source, estimate or fitted: TEXT}"
    if not isinstance(raw, dict):
        raise InputError(where, raw, expected_form)
    unknown = set(raw) - _KEYS
    if unknown:
        raise InputError(
            where, sorted(unknown, key=str), "only the keys value, unit, source, estimate, fitted"
        )
    value = raw.get("value")
    number = _finite_number(value)
    if number is None:
        raise InputError(f"{where}.value", value, "a finite number")
    unit = raw.get("unit")
    if not isinstance(unit, str) or unit not in UNITS or UNITS[unit][0] != dimension:
        raise InputError(f"{where}.unit", unit, f"a {dimension} unit, one of {', '.join(units_ok)}")
    origin = parse_provenance(raw, where, provenance)
    factor = UNITS[unit][1]
    si = number * factor
    if si != 0 and not SI_MAGNITUDE[0] <= abs(si) <= SI_MAGNITUDE[1]:
        low, high = (bound / factor for bound in SI_MAGNITUDE)
        expected = f"a size from {low:.3g} to {high:.3g}" + ("" if unit == "1" else f" {unit}")
        if factor != 1.0:
            expected += f" ({SI_MAGNITUDE[0]:g} to {SI_MAGNITUDE[1]:g} {SI_UNIT[dimension]})"
        raise InputError(f"{where}.value", value, expected)
    too_small = si < minimum if allow_zero else si <= minimum
    if too_small:
        relation = ">=" if allow_zero else ">"
        raise InputError(
            f"{where}.value", value, f"a number {relation} {minimum:g} {SI_UNIT[dimension]}"
        )
    if maximum is not None and si > maximum:
        raise InputError(f"{where}.value", value, f"a number <= {maximum:g} {SI_UNIT[dimension]}")
    return Quantity(
        si=si,
        value=number,
        unit=unit,
        dimension=dimension,
        **origin,
    )


def _finite_number(value: Any) -> float | None:
    """``value`` as a finite float, None if it is not a number (bools are not) or not finite
    (NaN, inf, an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
