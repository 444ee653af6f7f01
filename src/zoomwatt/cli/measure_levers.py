"""``zoomwatt measure --plan P`` / ``--levers a,b``: the levers applied for real and, with
``--validate``, each lever's predicted speed-up set beside the measured one."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from zoomwatt.cli.text_table import text_table
from zoomwatt.errors import InputError

if TYPE_CHECKING:
    from zoomwatt.measurement.lever_check import LeverCheckOptions, LeverCheckResult, LeverRow


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("levers (predicted vs measured per optimization)")
    g.add_argument(
        "--plan",
        default=None,
        metavar="PATH",
        help="apply the plan of `zoomwatt optimize --plan-out` (its levers scaled to "
        "this run's size and steps)",
    )
    g.add_argument(
        "--levers",
        default=None,
        metavar="A,B=V",
        help="levers to apply, e.g. no-cfg,steps=2,taesd,int8-dynamic,deepcache=2,"
        "tome=0.5 (with --validate: each alone and combined, against the baseline)",
    )
    g.add_argument(
        "--skip-unavailable",
        action="store_true",
        help="without --validate: run the levers this machine can run and leave "
        "out the others (named, with why); --rounds: interleaved rounds of every "
        "configuration (medians of these)",
    )


def _rounds(args: argparse.Namespace) -> int:
    return int(getattr(args, "rounds", 3))  # measure's --rounds


def _say(args: argparse.Namespace):
    if args.quiet:
        return None
    return lambda text: print(f"measure: {text}", file=sys.stderr, flush=True)


def options_from(args: argparse.Namespace) -> LeverCheckOptions:
    """The lever run of ``args`` (checked: the plan read strictly, the levers parsed)."""
    from zoomwatt.measurement.lever_check import LeverCheckOptions, levers_for_run
    from zoomwatt.pipeline.backends.levers import check_runnable, parse_levers

    if args.plan and args.levers:
        raise InputError("--levers", args.levers, "either --plan or --levers, not both")
    device = "cuda" if args.device == "cuda" else "cpu"
    plan = None
    base = LeverCheckOptions(
        levers=(),
        size=args.size,
        steps=args.steps,
        rounds=_rounds(args),
        frames_per_keyframe=args.frames_per_keyframe,
        device=device,
        recalibrate=not args.keep_calibration,
    )
    if args.plan:
        from zoomwatt.optimizer.plan import read_plan

        plan = read_plan(args.plan)
        levers = levers_for_run(plan.levers, plan.workload, base)
        if not levers:
            raise InputError(
                "--plan", args.plan, "a plan with at least one lever", "this plan is the baseline"
            )
    else:
        levers = parse_levers(args.levers)
    if not args.validate:
        levers, _ = check_runnable(levers, device, args.skip_unavailable)
        if not levers:
            raise InputError("--levers", args.levers or args.plan, "a lever this machine can run")
    import dataclasses

    return dataclasses.replace(
        base, levers=levers, plan=plan.to_dict() if plan else None, combined_only=not args.validate
    )


def compute_levers(args: argparse.Namespace) -> LeverCheckResult:
    from zoomwatt.measurement.lever_check import check_levers

    if _rounds(args) < 1:
        raise InputError("--rounds", _rounds(args), "an integer >= 1")
    return check_levers(options_from(args), progress=_say(args))


def run_levers(args: argparse.Namespace) -> int:
    from zoomwatt.measurement.lever_check import save_lever_check

    result = compute_levers(args)
    saved = None if args.no_save else save_lever_check(result, args.results)
    if args.format == "json":
        print(json.dumps(to_json(result), indent=2))
    else:
        print(render(result))
        if saved is not None:
            print(f"\nkept in {saved} (and {saved.parent / 'levers-latest.json'})")
    return 0


#: LeverRow fields the JSON leaves out (the keyframe samples stay in the saved result).
_NOT_IN_JSON = frozenset({"measured_keyframe_samples_s"})


def _lever_json(row: LeverRow) -> dict[str, Any]:
    """A row's fields as JSON: every field of :class:`LeverRow` but :data:`_NOT_IN_JSON`."""
    data = {k: v for k, v in dataclasses.asdict(row).items() if k not in _NOT_IN_JSON}
    return data | {"levers": list(row.levers)}


def to_json(result: LeverCheckResult) -> dict[str, Any]:
    from zoomwatt.measurement.lever_check import _finite

    c = result.combined
    return _finite(
        {
            "kind": result.kind,
            "device": result.device,
            "date": result.date,
            "settings": result.settings,
            "baseline": _lever_json(result.baseline),
            "levers": [_lever_json(r) for r in result.levers],
            "combined": None
            if c is None
            else _lever_json(c) | {"keyframe_error_pct": result.combined_keyframe_error_pct},
            "targets_pct": {
                "lever": result.lever_target_pct,
                "combined": result.combined_target_pct,
            },
            "plan": result.plan,
            "wall_s": result.wall_s,
            "notes": list(result.notes),
            "energy": result.energy_meter,
            "reference_drift_pct": result.reference_drift_pct,
            "stream_drift_pct": result.stream_drift_pct,
            "fault_drift_pct": result.fault_drift_pct,
        }
    )


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _s(v: float | None) -> str:
    return "-" if v is None else (f"{v:.2f} s" if v >= 1 else f"{v * 1e3:.3g} ms")


def _rows(result: LeverCheckResult) -> tuple[LeverRow, ...]:
    """Each lever's row, then the combined plan's where there is one."""
    return (*result.levers, *([result.combined] if result.combined else []))


def _energy_lines(result: LeverCheckResult) -> list[str]:
    """Energy per output frame and the saving per lever, or why none was measured."""
    if result.baseline.measured_energy_per_frame_j is None:
        return textwrap.wrap(f"energy: {result.energy_meter or 'not measured'}", 100)

    def j(v: float | None) -> str:
        return "-" if v is None else f"{v:.3g} J"

    table = [
        [
            r.name,
            j(r.predicted_energy_per_frame_j),
            j(r.measured_energy_per_frame_j),
            _x(r.predicted_energy_saving),
            _x(r.measured_energy_saving),
            "-" if r.energy_error_pct is None else f"{r.energy_error_pct:+.0f}%",
        ]
        for r in (result.baseline, *_rows(result))
    ]
    header = ["energy", "predicted/frame", "measured/frame", "saving pred.", "saving meas.",
              "error"]  # fmt: skip
    return [f"energy ({result.energy_meter}):", *text_table(header, table, right={1, 2, 3, 4, 5})]


def render(result: LeverCheckResult) -> str:
    rows = []
    for r in _rows(result):
        err = "-" if r.error_pct is None else f"{r.error_pct:+.0f}%"
        rows.append(
            [
                r.name,
                _x(r.predicted_speedup),
                _x(r.measured_speedup),
                err,
                _s(r.measured_per_frame_s),
                r.status,
            ]
        )
    lines = [
        f"zoomwatt measure --levers: {result.device}, {result.date}",
        "  " + ", ".join(f"{k} {v}" for k, v in result.settings.items()),
        f"  baseline: {_s(result.baseline.measured_keyframe_s)} per keyframe measured, "
        f"{_s(result.baseline.predicted_keyframe_s)} predicted; "
        f"{_s(result.baseline.measured_per_frame_s)} per output frame",
        "",
        *text_table(
            ["lever", "predicted", "measured", "error", "per frame", "status"],
            rows,
            right={1, 2, 3, 4},
        ),
        "",
        f"targets: each lever within {result.lever_target_pct:g}% (predicted vs measured "
        f"speed-up), the combined plan's keyframe latency within {result.combined_target_pct:g}%",
    ]
    if result.combined_keyframe_error_pct is not None:
        from zoomwatt.measurement.host_check import STREAM
        from zoomwatt.measurement.lever_check import FRESH_PAGES

        moves = [
            f"the {kernel} moved {move:+.0f}%{tail}"
            for kernel, move, tail in (
                ("reference kernel", result.reference_drift_pct, " at most"),
                (STREAM, result.stream_drift_pct, " (median)"),
                (FRESH_PAGES, result.fault_drift_pct, " (median)"),
            )
            if move is not None
        ]
        lines.append(
            f"combined keyframe latency: predicted vs measured "
            f"{result.combined_keyframe_error_pct:+.0f}%" + "".join(f"; {m}" for m in moves)
        )
    lines += ["", *_energy_lines(result), ""]
    for r in _rows(result):
        lines += textwrap.wrap(f"{r.name}: {r.quality}", 100)
    lines += ["", *textwrap.wrap("Notes: " + "; ".join(result.notes), 100)]
    return "\n".join(lines)
