"""``zoomwatt validate``: every published measurement held against the model, held out."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import TYPE_CHECKING

from zoomwatt.cli.text_table import text_table

if TYPE_CHECKING:
    from zoomwatt.evidence.results import CaseResult, ErrorSummary, ValidationResult


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="hold every prediction against published measurements (held out) and this machine",
        description="Predict every published measurement of the evidence set (the exact "
        "workload on its device's profile and software stack) and show prediction, published "
        "figure and error per case, then the median, 80th percentile and worst |error| per "
        "device class. The software stacks' fitted figures are held out leave-one-device-out: "
        "each device is predicted by figures fitted without it (the headline); in-sample and "
        "the profiles' own figures are shown for contrast. `--set host` shows the last "
        "recorded host check (`zoomwatt measure --validate`).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--set", choices=["published", "host", "all"], default="published")
    p.add_argument(
        "--measurements",
        default="out/measure",
        metavar="PATH",
        help="where `zoomwatt measure --validate` saved its result (file, or folder with "
        "latest.json), for --set host/all",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="trace the workloads again instead of reading the workload cache",
    )
    p.set_defaults(func=run)


def compute(args: argparse.Namespace) -> ValidationResult:
    from zoomwatt.evidence.validate import validate

    cache = not getattr(args, "no_cache", False)
    return validate(args.set, measurements=args.measurements or None, cache=cache)


def run(args: argparse.Namespace) -> int:
    if args.set != "host" and args.format == "table":
        print("validate: predicting the published figures...", file=sys.stderr, flush=True)
    result = compute(args)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render(result))
    return 0


# ---------------------------------------------------------------- rendering


def _value(x: float | None, unit: str) -> str:
    return "-" if x is None else f"{x:.4g} {unit}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.0f}%"


def _abs_pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}%"


def _case_rows(cases: list[CaseResult]) -> list[list[str]]:
    from zoomwatt.evidence.cases import KIND_NAMES

    return [
        [c.id, c.device, c.device_class, c.stack, KIND_NAMES[c.timed],
         _value(c.published, c.unit), _value(c.predicted, c.unit), _pct(c.error_pct),
         _pct(c.in_sample_error_pct), _pct(c.prior_error_pct)]
        for c in cases
    ]  # fmt: skip


def _summary_rows(result: ValidationResult) -> list[list[str]]:
    rows = []
    for group, by in result.summary["held_out"].items():
        for name, s in by.items():
            inside = result.summary["in_sample"][group][name]
            prior = result.summary["prior"][group][name]
            rows.append([group, name, *_summary_cells(s), _abs_pct(inside.median_abs_error_pct),
                         _abs_pct(prior.median_abs_error_pct)])  # fmt: skip
    return rows


def _summary_cells(s: ErrorSummary) -> list[str]:
    within = "-" if s.within_35_pct_share is None else f"{s.within_35_pct_share:.0%}"
    return [str(s.cases), _abs_pct(s.median_abs_error_pct), _abs_pct(s.p80_abs_error_pct),
            _abs_pct(s.worst_abs_error_pct), within, str(s.beyond_2x_cases)]  # fmt: skip


def _target_line(t) -> str:
    if t.unit == "share":
        value, limit = ("-" if t.value is None else f"{t.value:.0%}"), f">= {t.threshold:.0%}"
    elif t.unit == "cases":
        value, limit = ("-" if t.value is None else f"{t.value:g}"), f"<= {t.threshold:g}"
    else:
        value, limit = _abs_pct(t.value), f"<= {t.threshold:g}%"
    caveat = f" ({t.caveat})" if getattr(t, "caveat", "") else ""
    return f"  {t.name} {limit}: {value}  {'met' if t.met else 'NOT MET'}{caveat}"


def _stack_line(s) -> str:
    devices = f"{len(s.devices)} device{'s' if len(s.devices) != 1 else ''}, {s.figures} figures"
    if s.efficiency_multiplier is None:
        return f"  {s.stack}: {devices}; {s.note}"
    fit = (f"efficiency x{s.efficiency_multiplier:g}, {s.overhead_figure.replace('_', ' ')} "
           f"{s.overhead_us:g} us")  # fmt: skip
    held, prior = s.held_out_median_abs_error_pct, s.prior_median_abs_error_pct
    return (
        f"  {s.stack}: {devices}; fit {fit}: held-out median {_abs_pct(held)} against "
        f"{_abs_pct(prior)} with the profiles' own figures; {s.note}"
    )


SUMMARY_HEADER = ["group", "class", "cases", "median", "p80", "worst", "within 35%",
                  "beyond 2x", "in-sample", "prior"]  # fmt: skip


def render_published(result: ValidationResult) -> list[str]:
    from zoomwatt.evidence.cases import KIND_NAMES

    predicted = [c for c in result.cases if c.predictable]
    missing = [c for c in result.cases if not c.predictable]
    header = ["id", "device", "class", "stack", "figure", "published", "predicted",
              "error", "in-sample", "prior"]  # fmt: skip
    lines = [
        f"zoomwatt validate: {len(result.cases)} published figures, {len(predicted)} predicted, "
        f"{len(missing)} not predictable; error = held out (leave-one-device-out)",
        "",
        *text_table(header, _case_rows(predicted), right={5, 6, 7, 8, 9}),
        "",
        f"not predictable ({len(missing)}):",
        *(
            f"  {c.id} {c.device} {KIND_NAMES[c.timed]} {_value(c.published, c.unit)}: {c.reason}"
            for c in missing
        ),
        "",
        "|error| per device class, held out (in-sample and prior: median only):",
        *text_table(SUMMARY_HEADER, _summary_rows(result), right={2, 3, 4, 5, 6, 7, 8, 9}),
        "",
        "targets (held out, published set):",
        *(_target_line(t) for t in result.targets),
        "",
        "software stacks (one efficiency multiplier and one overhead per stack, all devices):",
        *(_stack_line(s) for s in result.stacks),
    ]
    if result.shipped_fit_up_to_date is False:
        lines.append("  the shipped fitted figures differ from this fit: run "
                     "python -m zoomwatt.evidence.fit_stacks --write")  # fmt: skip
    return lines


def render(result: ValidationResult) -> str:
    lines: list[str] = []
    if result.set != "host":
        lines += render_published(result)
    if result.host_check is not None:
        lines += ["", "host check (zoomwatt measure --validate):"]
        lines.append(f"  {result.host_check.message}")
        for s in result.host_check.stages:
            lines.append(f"    {s['name']}: {_pct(s['error_pct'])}")
    notes = (
        "error: (predicted - published) / published, on the figure as published (a rate's "
        "error is the rate's); positive: the model predicts a longer time, a higher rate, "
        "more energy. Held out: the stack's fitted figures were fitted without the case's "
        "device; prior: the profiles' own figures. Predictions of a roofline + energy model."
    )
    lines += ["", *textwrap.wrap(notes, width=100), f"validate: {result.seconds:.1f} s"]
    return "\n".join(line for line in lines).strip("\n")
