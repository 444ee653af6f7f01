"""Result objects of measurement and validation; field names carry their units.

A :class:`StageMeasurement` is one stage of a keyframe (or of its in-between frames) measured
on this machine, with the prediction beside it where the model makes one. A
:class:`MeasureResult` is one run: the device, the date, the settings, the stages, the whole
keyframe, and how energy was (or was not) measured. ``to_dict`` gives the JSON kept in the
results folder that ``zoomwatt report`` reads back with :func:`load_result`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoomwatt.atomic_write import write_atomic
from zoomwatt.errors import InputError
from zoomwatt.measurement.timing import Timing

if TYPE_CHECKING:
    from zoomwatt.measurement.host_check import HostCheck

SCHEMA = 1
LATEST = "latest.json"


def error_pct(predicted: float | None, measured: float | None) -> float | None:
    """(predicted - measured) / measured in percent; None when either is missing or measured
    is 0. Positive: the model predicts slower (more energy) than measured."""
    if predicted is None or measured is None or measured <= 0 or not math.isfinite(predicted):
        return None
    return 100.0 * (predicted - measured) / measured


@dataclass(frozen=True)
class StageMeasurement:
    """One stage, per keyframe (all its calls), median over the measured keyframes."""

    name: str  # text_encoder, vae_encoder, unet, vae_decoder, frame_ops, video_write, ...
    calls_per_keyframe: float
    measured_latency_s: float | None  # per keyframe
    predicted_latency_s: float | None  # per keyframe; None where the model predicts nothing
    measured_energy_j: float | None = None  # per keyframe, None where not measured
    predicted_energy_j: float | None = None
    per_call: Timing | None = None  # every call's time (UNet: each call), warm-up excluded
    in_target: bool = True  # counts for the accuracy target (a model stage)
    note: str = ""
    not_compared: str = ""  # why a predicted model stage shows no prediction: busy, drifting

    @property
    def error_pct(self) -> float | None:
        return error_pct(self.predicted_latency_s, self.measured_latency_s)

    @property
    def energy_error_pct(self) -> float | None:
        return error_pct(self.predicted_energy_j, self.measured_energy_j)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "calls_per_keyframe": self.calls_per_keyframe,
            "predicted_latency_s": self.predicted_latency_s,
            "measured_latency_s": self.measured_latency_s,
            "error_pct": self.error_pct,
            "in_target": self.in_target,
            "note": self.note,
        }
        if self.predicted_energy_j is not None:
            data["predicted_energy_j"] = self.predicted_energy_j
        if self.measured_energy_j is not None:
            data["measured_energy_j"] = self.measured_energy_j
            data["energy_error_pct"] = self.energy_error_pct
        if self.per_call is not None:
            data["per_call"] = self.per_call.to_dict()
        if self.not_compared:
            data["not_compared"] = self.not_compared
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> StageMeasurement:
        per_call = data.get("per_call")
        timing = None
        if per_call:
            timing = Timing(
                median_s=per_call["median_s"],
                min_s=per_call["min_s"],
                max_s=per_call["max_s"],
                samples_s=tuple(per_call["samples_s"]),
                warmup_s=tuple(per_call.get("warmup_s", ())),
                disturbed_s=tuple(per_call.get("disturbed_s", ())),
            )
        return StageMeasurement(
            name=data["name"],
            calls_per_keyframe=data.get("calls_per_keyframe", 1.0),
            measured_latency_s=data.get("measured_latency_s"),
            predicted_latency_s=data.get("predicted_latency_s"),
            measured_energy_j=data.get("measured_energy_j"),
            predicted_energy_j=data.get("predicted_energy_j"),
            per_call=timing,
            in_target=data.get("in_target", True),
            note=data.get("note", ""),
            not_compared=data.get("not_compared", ""),
        )


@dataclass(frozen=True)
class LayerComparison:
    """One leaf module: predicted (roofline, summed over its ops) against measured (hooks)."""

    model: str  # stage name, e.g. unet
    module: str
    op_class: str  # the op class with most of its predicted time
    predicted_latency_s: float
    measured_latency_s: float

    @property
    def error_pct(self) -> float | None:
        return error_pct(self.predicted_latency_s, self.measured_latency_s)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"error_pct": self.error_pct}


@dataclass(frozen=True)
class MeasureResult:
    """One measured zoom run, with the prediction beside it (``validate``) or without."""

    kind: str  # "validate" or "zoom"
    device: str  # what ran it, in words: "AMD EPYC (cpu, 2 threads)"
    date: str  # UTC, ISO 8601
    settings: dict[str, Any]
    stages: tuple[StageMeasurement, ...]
    keyframe: StageMeasurement  # the whole keyframe (model stages and the pipeline around them)
    energy_meter: str  # "zeus (RAPL cpu0)" or "none"
    energy_note: str | None  # "not measured: <reason>" where nothing was measured
    wall_s: float  # of the whole command
    target_error_pct: float | None = None  # per-stage latency target of ``validate``
    layers: tuple[LayerComparison, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    host_check: HostCheck | None = None  # validate: per model stage ok / busy / ..., verdict

    @property
    def worst_error_pct(self) -> float | None:
        errors = [abs(e) for s in self.stages if s.in_target and (e := s.error_pct) is not None]
        return max(errors) if errors else None

    @property
    def within_target(self) -> bool | None:
        worst = self.worst_error_pct
        if worst is None or self.target_error_pct is None:
            return None
        return worst <= self.target_error_pct

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "device": self.device,
            "date": self.date,
            "settings": self.settings,
            "stages": [s.to_dict() for s in self.stages],
            "keyframe": self.keyframe.to_dict(),
            "energy_meter": self.energy_meter,
            "energy_note": self.energy_note,
            "wall_s": self.wall_s,
            "target_error_pct": self.target_error_pct,
            "worst_error_pct": self.worst_error_pct,
            "within_target": self.within_target,
            "layers": [layer.to_dict() for layer in self.layers],
            "notes": list(self.notes),
            "host_check": None if self.host_check is None else self.host_check.to_dict(),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> MeasureResult:
        from zoomwatt.measurement.host_check import HostCheck  # it imports this module

        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise InputError("measurement file", str(data)[:60], f"a schema {SCHEMA} record")
        return MeasureResult(
            kind=data["kind"],
            device=data["device"],
            date=data["date"],
            settings=dict(data.get("settings", {})),
            stages=tuple(StageMeasurement.from_dict(s) for s in data["stages"]),
            keyframe=StageMeasurement.from_dict(data["keyframe"]),
            energy_meter=data.get("energy_meter", "none"),
            energy_note=data.get("energy_note"),
            wall_s=float(data.get("wall_s", 0.0)),
            target_error_pct=data.get("target_error_pct"),
            layers=tuple(
                LayerComparison(
                    model=x["model"],
                    module=x["module"],
                    op_class=x["op_class"],
                    predicted_latency_s=x["predicted_latency_s"],
                    measured_latency_s=x["measured_latency_s"],
                )
                for x in data.get("layers", [])
            ),
            notes=tuple(data.get("notes", ())),
            host_check=HostCheck.from_dict(data["host_check"]) if data.get("host_check") else None,
        )


def save_result(result: MeasureResult, folder: str | Path) -> Path:
    """Write ``result`` as ``KIND-DATE.json`` in ``folder`` and as ``latest.json`` (what the
    report reads); returns the dated file."""
    text = json.dumps(result.to_dict(), indent=2) + "\n"
    return write_dated_json(folder, result.kind, result.date, text, LATEST)


def write_dated_json(folder: str | Path, prefix: str, date: str, text: str, latest: str) -> Path:
    """Write ``text`` as ``PREFIX-DATE.json`` and as ``latest`` in ``folder`` (made if absent),
    each through a temporary file of its own moved into place; returns the dated file.
    ``date``: UTC in ISO 8601 (``2026-12-01T12:00:00+0000`` gives ``20261201T120000Z``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = date.replace(":", "").replace("-", "").replace("+0000", "Z")
    path = folder / f"{prefix}-{stamp}.json"
    for target in (path, folder / latest):
        write_atomic(target, text)
    return path


def read_saved_json(
    path: str | Path,
    latest: str,
    *,
    argument: str,
    what: str,
    hint: str,
    unreadable: str = "a readable JSON file",
) -> tuple[Any, Path]:
    """(data, file) of what :func:`write_dated_json` wrote: ``path`` a file, or a folder (its
    ``latest``). A missing file is one InputError naming ``argument``, ``what`` was expected
    and ``hint`` (how to make one); an unreadable one says ``unreadable`` was expected."""
    path = Path(path)
    if path.is_dir():
        path = path / latest
    if not path.is_file():
        raise InputError(argument, str(path), what, hint)
    try:
        return json.loads(path.read_text(encoding="utf-8")), path
    except (OSError, ValueError) as exc:
        raise InputError(argument, str(path), unreadable, str(exc)) from exc


def load_result(path: str | Path) -> MeasureResult:
    """A result written by :func:`save_result`: a file, or a folder (its ``latest.json``)."""
    data, _ = read_saved_json(
        path,
        LATEST,
        argument="measurements",
        what="a measurement file",
        hint="Run `zoomwatt measure --validate` to make one.",
    )
    return MeasureResult.from_dict(data)
