"""A plan: the point ``zoomwatt optimize`` chose, as a file that ``zoom --plan`` and ``measure
--plan`` apply.

A plan names its levers (:mod:`zoomwatt.pipeline.backends.levers`, names and values), the device
and software stack it was made for, the workload its baseline is (pipeline, resolution, steps,
CFG, VAE, 1-in-N, target fps), and the figures the performance model predicted for it and for
the baseline. JSON, with a schema name and version; :func:`read_plan` is strict: an unknown or
missing field, or a value of the wrong type, is one :class:`~zoomwatt.errors.InputError` naming
the field.

The optimizer's knobs map to levers (:func:`levers_of`): lower resolution, no CFG, TAESD, fewer
steps, rarer keyframes, int8 (``w8a8``: dynamic int8; ``w8a16``: weight-only int8), int4, 2:4,
pruning, sharing, a stack (:data:`STACK_LEVERS`; a stack with a quantization one lever applies:
:data:`STACK_QUANT_LEVERS`), operating point and layer-wise frequency. The
baseline's fp16 is the run's default precision (fp16 on CUDA, fp32 on a CPU), not a lever.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoomwatt.errors import InputError, WriteError, shorten
from zoomwatt.optimizer.results import Candidate, ExploreResult
from zoomwatt.pipeline.backends.levers import LEVERS, STACK_LEVERS, STACK_OF_LEVER, Lever

SCHEMA = "zoomwatt-plan"
SCHEMA_VERSION = 1
PICKS = ("best", "least-change", "fastest")
QUANT_LEVERS = {
    "w8a8": "int8-dynamic",
    "w8a16": "int8-weight",
    "w4a16": "int4-weight",
    "w4a8": "w4a8",
}
#: A stack and a quantization that one lever applies together: OpenVINO's weight-only int8 is
#: NNCF's (``nncf-int8``), not torch's quantized modules (which the openvino lever excludes).
STACK_QUANT_LEVERS = {("openvino", "w8a16"): "nncf-int8"}
#: The stacks that price such a point (``openvino-int8``: OpenVINO's layers measured with int8
#: weights, on a host calibrated with it) and are no stack of their own in the search.
PRICING_STACKS = {pair: STACK_OF_LEVER[lever] for pair, lever in STACK_QUANT_LEVERS.items()}
MAX_PLAN_BYTES = 1 << 20
PREDICTED_FIELDS = (
    "output_fps",
    "keyframe_latency_s",
    "avg_power_w",
    "ai_power_w",
    "energy_per_frame_j",
    "fps_per_watt",
    "weight_bytes",
)
WORKLOAD_FIELDS = {
    "pipeline": str,
    "resolution_px": int,
    "steps": int,
    "cfg": bool,
    "vae": str,
    "every": int,
    "baseline_quant": str,
    "target_fps": float,
}


@dataclass(frozen=True)
class Plan:
    """The chosen point of an optimizer run, as levers on the baseline workload."""

    label: str
    pick: str
    hardware: str
    description: str
    stack: str
    workload: dict[str, Any]  # WORKLOAD_FIELDS: the baseline the levers change
    levers: tuple[Lever, ...]
    predicted: dict[str, float]  # PREDICTED_FIELDS of the chosen point
    baseline_predicted: dict[str, float]  # the same of the baseline
    error_db: float | None  # predicted noise-to-signal of the lossy levers; None: lossless
    meets_targets: bool
    made_by: str
    date: str

    def lever_text(self) -> str:
        """The levers as ``--levers`` writes them ('' for none)."""
        return ",".join(lv.text() for lv in self.levers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "label": self.label,
            "pick": self.pick,
            "device": {"hardware": self.hardware, "description": self.description},
            "stack": self.stack,
            "workload": dict(self.workload),
            "levers": [{"name": lv.name, "value": lv.value} for lv in self.levers],
            "predicted": dict(self.predicted),
            "baseline_predicted": dict(self.baseline_predicted),
            "error_db": self.error_db,
            "meets_targets": self.meets_targets,
            "made_by": self.made_by,
            "date": self.date,
        }


def levers_of(knobs: dict[str, Any], base: dict[str, Any]) -> tuple[Lever, ...]:
    """The levers that turn the baseline's knobs into ``knobs``."""
    out = []
    if knobs["resolution_px"] != base["resolution_px"]:
        out.append(Lever("resolution", int(knobs["resolution_px"])))
    if base["cfg"] and not knobs["cfg"]:
        out.append(Lever("no-cfg", True))
    if knobs["vae"] == "taesd" and base["vae"] != "taesd":
        out.append(Lever("taesd", True))
    if knobs["steps"] != base["steps"]:
        out.append(Lever("steps", int(knobs["steps"])))
    if knobs["every"] != base["every"]:
        out.append(Lever("every", int(knobs["every"])))
    together = STACK_QUANT_LEVERS.get((knobs["stack"], knobs["quant"]))
    if knobs["quant"] in QUANT_LEVERS and together is None:
        out.append(Lever(QUANT_LEVERS[knobs["quant"]], True))
    if knobs["sparsity"] != "dense":
        out.append(Lever(knobs["sparsity"], True))
    if knobs["share_bits"]:
        out.append(Lever("share", int(knobs["share_bits"])))
    if together is not None:
        out.append(Lever(together, True))
    elif knobs["stack"] != base["stack"] and knobs["stack"] in STACK_LEVERS:
        out.append(Lever(STACK_LEVERS[knobs["stack"]], True))
    if knobs["operating_point"] != base["operating_point"]:
        out.append(Lever("operating-point", str(knobs["operating_point"])))
    if knobs["layerwise_frequency"]:
        out.append(Lever("layer-dfs", True))
    return tuple(out)


def pick_candidate(result: ExploreResult, pick: str) -> Candidate:
    """The point ``pick`` names: best (cheapest meeting the targets), least-change, fastest,
    or the label of a point of the front."""
    if pick == "best" or pick == "least-change":
        chosen = result.best if pick == "best" else result.least_change
        if chosen is None:
            raise InputError(
                "--pick",
                pick,
                "a point that meets the targets",
                "nothing meets them; use --pick fastest or a label",
            )
        return chosen
    if pick == "fastest":
        return result.fastest
    labels = {c.label: c for c in (*result.pareto, result.baseline, result.fastest)}
    if pick not in labels:
        shown = ", ".join(list(labels)[:6])
        raise InputError("--pick", pick, f"best, least-change, fastest or a label: {shown}, ...")
    return labels[pick]


def _figures(c: Candidate) -> dict[str, float]:
    return {name: float(getattr(c, name)) for name in PREDICTED_FIELDS}


def make_plan(result: ExploreResult, pick: str = "best") -> Plan:
    """The plan of the point ``pick`` of ``result``, on the stack of that point."""
    chosen = pick_candidate(result, pick)
    base = result.baseline.knobs
    workload = {
        "pipeline": "sd2-inpaint",
        "resolution_px": int(base["resolution_px"]),
        "steps": int(base["steps"]),
        "cfg": bool(base["cfg"]),
        "vae": str(base["vae"]),
        "every": int(base["every"]),
        "baseline_quant": str(base["quant"]),
        "target_fps": float(result.target_fps),
    }
    return Plan(
        label=chosen.label,
        pick=pick,
        hardware=result.hardware,
        description=result.description,
        stack=str(chosen.knobs["stack"]),
        workload=workload,
        levers=levers_of(chosen.knobs, base),
        predicted=_figures(chosen),
        baseline_predicted=_figures(result.baseline),
        error_db=chosen.error_db,
        meets_targets=bool(chosen.meets_targets),
        made_by=f"zoomwatt optimize --hw {result.hardware} --target-fps {result.target_fps:g}",
        date=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
    )


def write_plan(plan: Plan, path: str | Path) -> Path:
    """Write ``plan`` as JSON to ``path`` (whole or not at all)."""
    path = Path(path)
    text = json.dumps(plan.to_dict(), indent=2) + "\n"
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteError(
            f"--plan-out={shorten(str(path))}: could not write the plan: {exc}"
        ) from exc
    return path


# --- reading, strictly ---------------------------------------------------------------------


def _field(data: dict, key: str, kind: type | tuple, where: str, optional: bool = False) -> Any:
    name = f"{where}.{key}" if where else key
    if key not in data:
        raise InputError(f"plan {name}", "(missing)", f"a {getattr(kind, '__name__', kind)}")
    value = data[key]
    if optional and value is None:
        return None
    bad = not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, bad = float(value), False
    if bad or (isinstance(value, float) and not math.isfinite(value)):
        raise InputError(f"plan {name}", value, f"a {getattr(kind, '__name__', kind)}")
    return value


def _exact_keys(data: Any, keys: set[str], where: str) -> dict:
    if not isinstance(data, dict):
        raise InputError(f"plan {where or 'file'}", shorten(str(data), 40), "a JSON object")
    unknown = sorted(set(data) - keys)
    if unknown:
        raise InputError(
            f"plan {where + '.' if where else ''}{unknown[0]}",
            "(unknown field)",
            f"only the fields {', '.join(sorted(keys))}",
        )
    return data


def _read_levers(items: Any) -> tuple[Lever, ...]:
    if not isinstance(items, list):
        raise InputError("plan levers", shorten(str(items), 40), "a list of {name, value}")
    out: list[Lever] = []
    for i, item in enumerate(items):
        item = _exact_keys(item, {"name", "value"}, f"levers[{i}]")
        name = _field(item, "name", str, f"levers[{i}]")
        if name not in LEVERS:
            raise InputError(f"plan levers[{i}].name", name, f"one of {', '.join(LEVERS)}")
        if "value" not in item:
            raise InputError(f"plan levers[{i}].value", "(missing)", LEVERS[name].what)
        try:
            out.append(Lever(name, item["value"]))
        except InputError as exc:
            raise InputError(f"plan levers[{i}].value", item["value"], exc.expected) from None
    if len({lv.name for lv in out}) != len(out):
        raise InputError("plan levers", [lv.name for lv in out], "each lever once")
    return tuple(out)


def _numbers(data: Any, where: str) -> dict[str, float]:
    data = _exact_keys(data, set(PREDICTED_FIELDS), where)
    return {k: _field(data, k, float, where) for k in PREDICTED_FIELDS}


def plan_from_dict(data: Any) -> Plan:
    """A plan from its JSON data, every field checked."""
    keys = {
        "schema",
        "schema_version",
        "label",
        "pick",
        "device",
        "stack",
        "workload",
        "levers",
        "predicted",
        "baseline_predicted",
        "error_db",
        "meets_targets",
        "made_by",
        "date",
    }
    data = _exact_keys(data, keys, "")
    if data.get("schema") != SCHEMA:
        raise InputError("plan schema", data.get("schema"), f"{SCHEMA!r}")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError("plan schema_version", data.get("schema_version"), f"{SCHEMA_VERSION}")
    device = _exact_keys(data.get("device"), {"hardware", "description"}, "device")
    workload = _exact_keys(data.get("workload"), set(WORKLOAD_FIELDS), "workload")
    checked = {k: _field(workload, k, kind, "workload") for k, kind in WORKLOAD_FIELDS.items()}
    return Plan(
        label=_field(data, "label", str, ""),
        pick=_field(data, "pick", str, ""),
        hardware=_field(device, "hardware", str, "device"),
        description=_field(device, "description", str, "device"),
        stack=_field(data, "stack", str, ""),
        workload=checked,
        levers=_read_levers(data.get("levers")),
        predicted=_numbers(data.get("predicted"), "predicted"),
        baseline_predicted=_numbers(data.get("baseline_predicted"), "baseline_predicted"),
        error_db=_field(data, "error_db", float, "", optional=True),
        meets_targets=_field(data, "meets_targets", bool, ""),
        made_by=_field(data, "made_by", str, ""),
        date=_field(data, "date", str, ""),
    )


def read_plan(path: str | Path, argument: str = "--plan") -> Plan:
    """The plan in ``path``; one InputError for a missing, unreadable or invalid file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            argument, str(path), "a plan file written by `zoomwatt optimize --plan-out`"
        )
    if path.stat().st_size > MAX_PLAN_BYTES:
        raise InputError(argument, str(path), f"a plan file of at most {MAX_PLAN_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(argument, str(path), "a JSON plan file", str(exc)) from None
    return plan_from_dict(data)
