"""``zoomwatt measure``: time (and meter) a real zoom run per stage; ``--validate`` sets the
performance model's prediction beside each measured stage."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from zoomwatt.errors import InputError

if TYPE_CHECKING:
    from zoomwatt.measurement.host_check import HostCheck
    from zoomwatt.measurement.results import MeasureResult, StageMeasurement

DEFAULT_RESULTS = "out/measure"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "measure",
        help="measure a zoom run per stage; --validate: predicted against measured",
        description="Run the zoom for real and measure each stage (text encoding, VAE encode, "
        "each UNet call, VAE decode, frame operations, video write): warm-up keyframes "
        "excluded, median of the rest, energy where Zeus can read a counter (NVML, RAPL). "
        "With --validate, the pipeline is the full-size SD2 inpainting architecture with "
        "random weights (honest for speed and energy, not for image quality) and each stage "
        "is compared with the prediction on the calibrated `host` profile.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--validate", action="store_true", help="compare with the performance model's prediction"
    )
    p.add_argument(
        "--backend",
        choices=["classical", "sd2-random"],
        default="sd2-random",
        help="without --validate: what to measure (sd2-random: the full-size SD2 architecture "
        "with random weights)",
    )
    g = p.add_argument_group("run")
    g.add_argument("--size", type=int, default=256, help="frame side in pixels, multiple of 64")
    g.add_argument("--steps", type=int, default=2, help="denoising steps (DDIM)")
    g.add_argument("--keyframes", type=int, default=4, help="keyframes, warm-up included")
    g.add_argument("--warmup", type=int, default=1, help="warm-up keyframes, not counted")
    g.add_argument("--frames-per-keyframe", type=int, default=8)
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    g.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default=None)
    g.add_argument("--per-layer", action="store_true", help="also time every UNet layer")
    g.add_argument("--no-energy", action="store_true", help="do not read energy counters")
    g.add_argument(
        "--target-pct", type=float, default=15.0, help="per-stage latency error target (%%)"
    )
    g.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds: with --validate, the host check's rounds of every model "
        "stage, a reference kernel between stages (busy or drifting samples are measured "
        "again, up to twice as many); with --levers, of every configuration",
    )
    g.add_argument(
        "--retain-memory",
        action="store_true",
        help="keep freed memory in the process while the zoom and the stages are measured, and "
        "predict so (the retain-memory lever: no page faults of fresh buffers)",
    )
    g.add_argument(
        "--keep-calibration",
        action="store_true",
        help="predict with the cached host profile instead of calibrating this machine before "
        "the host check (and never recalibrate when the machine's speed moves)",
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--results",
        default=DEFAULT_RESULTS,
        metavar="DIR",
        help="folder the result is kept in (DIR/latest.json is what `zoomwatt report` reads)",
    )
    g.add_argument("--no-save", action="store_true", help="do not keep the result")
    g.add_argument("--format", choices=["table", "json"], default="table")
    g.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    from zoomwatt.cli.measure_levers import add_arguments as add_lever_arguments

    add_lever_arguments(p)  # --plan, --levers, --skip-unavailable
    p.set_defaults(func=run)


def _progress(args: argparse.Namespace):
    if args.quiet:
        return None

    def say(text: str) -> None:
        print(f"measure: {text}", file=sys.stderr, flush=True)

    return say


def compute(args: argparse.Namespace) -> MeasureResult:
    from zoomwatt.measurement.validation import ValidateOptions, validate

    _check_retain_memory(args)
    if getattr(args, "plan", None) or getattr(args, "levers", None):
        from zoomwatt.cli.measure_levers import compute_levers

        return compute_levers(args)  # a LeverCheckResult: the levers applied and checked

    # 1. inputs
    if not args.validate and args.backend == "classical":
        from zoomwatt.measurement.classical_measure import measure_classical

        return measure_classical(
            size=args.size,
            keyframes=args.keyframes,
            warmup_keyframes=args.warmup,
            frames_per_keyframe=args.frames_per_keyframe,
            energy=not args.no_energy,
            progress=_progress(args),
        )
    options = ValidateOptions(
        size=args.size,
        steps=args.steps,
        keyframes=args.keyframes,
        warmup_keyframes=args.warmup,
        frames_per_keyframe=args.frames_per_keyframe,
        device=args.device,
        dtype=args.dtype,
        energy=not args.no_energy,
        per_layer=args.per_layer,
        target_error_pct=args.target_pct,
        recalibrate=not args.keep_calibration,
        retain_memory=args.retain_memory,
        **_check_rounds(args),
    )
    # 2. run (the prediction is computed either way; without --validate it is not shown)
    return validate(options, progress=_progress(args))


def _check_rounds(args: argparse.Namespace) -> dict[str, int]:
    """The host check's rounds: ``--rounds`` with retries up to twice as many; without
    --validate one round (the stages' times, nothing judged)."""
    if not args.validate:
        return {"rounds": 1, "min_clean": 1, "max_rounds": 1}
    if isinstance(args.rounds, bool) or not isinstance(args.rounds, int) or args.rounds < 1:
        raise InputError("--rounds", args.rounds, "an integer >= 1")
    return {"rounds": args.rounds, "min_clean": min(2, args.rounds), "max_rounds": 2 * args.rounds}


def _check_retain_memory(args: argparse.Namespace) -> None:
    """``--retain-memory`` belongs to the host check; the lever check takes it as a lever."""
    levers = getattr(args, "plan", None) or getattr(args, "levers", None)
    if getattr(args, "retain_memory", False) and (levers or not args.validate):
        raise InputError(
            "--retain-memory",
            True,
            "with --validate alone (the host check)",
            "with --levers or --plan, add the retain-memory lever there",
        )


def run(args: argparse.Namespace) -> int:
    _check_retain_memory(args)
    if getattr(args, "plan", None) or getattr(args, "levers", None):
        from zoomwatt.cli.measure_levers import run_levers

        return run_levers(args)  # the levers: applied, and with --validate each one checked
    if args.target_pct <= 0:
        raise InputError("--target-pct", args.target_pct, "a percentage > 0")
    result = compute(args)
    saved = None
    if not args.no_save:
        from zoomwatt.measurement.host_check import save_host_check
        from zoomwatt.measurement.results import save_result

        saved = save_result(result, args.results)
        if args.validate and result.host_check is not None:
            save_host_check(result.host_check, args.results)
    if args.format == "json":
        print(json.dumps(to_json(result, args.validate), indent=2))
    else:
        print(render(result, args.validate))
        if saved is not None:
            print(f"\nkept in {saved} (and {saved.parent / 'latest.json'})")
    return 0


# ---------------------------------------------------------------- rendering


def to_json(result: MeasureResult, validate: bool = True) -> dict[str, Any]:
    data = result.to_dict()
    if not validate:
        data.pop("host_check", None)
        for stage in [*data["stages"], data["keyframe"]]:
            for key in ("predicted_latency_s", "predicted_energy_j", "error_pct"):
                stage.pop(key, None)
    return data


def _s(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f} s"
    if x >= 1:
        return f"{x:.2f} s"
    return f"{x * 1e3:.3g} ms"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.0f}%"


def _j(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g} J"


def _check_cell(check: HostCheck | None, name: str) -> str:
    stage = check.stage(name) if check is not None else None
    if stage is None:
        return "-"
    return f"{stage.status} {stage.clean_samples}/{len(stage.samples)}"


def _row(s: StageMeasurement, validate: bool, check: HostCheck | None = None) -> list[str]:
    per_call = "-"
    if s.per_call is not None and (s.per_call.repeats > 1 or s.per_call.disturbed_s):
        per_call = f"{_s(s.per_call.median_s)} x{s.per_call.repeats}"
        if s.per_call.disturbed_s:
            per_call += f" ({len(s.per_call.disturbed_s)} left out)"
    row = [s.name, f"{s.calls_per_keyframe:g}", per_call, _s(s.measured_latency_s)]
    if validate:
        row += [_s(s.predicted_latency_s), _pct(s.error_pct), _check_cell(check, s.name)]
    row += [_j(s.measured_energy_j)]
    if validate:
        row += [_j(s.predicted_energy_j)]
    return row


def render(result: MeasureResult, validate: bool = True) -> str:
    header = ["stage", "calls", "per call (median, n)", "measured"]
    if validate:
        header += ["predicted", "error", "check (clean/all)"]
    header += ["measured E"]
    if validate:
        header += ["predicted E"]
    check = result.host_check
    rows = [_row(s, validate, check) for s in (*result.stages, result.keyframe)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"zoomwatt measure: {result.device}, {result.date}",
        "  " + ", ".join(f"{k} {v}" for k, v in result.settings.items()),
        "",
    ]
    for r in [header, ["-" * w for w in widths], *rows]:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    if validate and check is not None:
        lines += render_host_check(check)
    lines.append(f"energy: {result.energy_note or result.energy_meter}")
    if result.layers:
        worst = sorted(result.layers, key=lambda x: -x.measured_latency_s)[:5]
        lines.append("slowest UNet layers (measured vs predicted):")
        for layer in worst:
            lines.append(
                f"  {layer.module:50s} {_s(layer.measured_latency_s):>9} "
                f"{_s(layer.predicted_latency_s):>9} {_pct(layer.error_pct):>6}"
            )
    notes = "; ".join(
        [s.name + ": " + s.note for s in (*result.stages, result.keyframe) if s.note]
        + [n for n in result.notes if check is None or n != check.headline]
    )
    lines += ["", *textwrap.wrap("Notes: " + notes, width=100)]
    return "\n".join(lines)


def render_host_check(check: HostCheck) -> list[str]:
    """The host check's verdict, each model stage's status, and the dtypes not checked."""
    cpu = f"{check.cpu_model}, {check.dtype}, {check.size}x{check.size}, {check.steps} steps"
    lines = [f"host check ({cpu}): {check.verdict.upper()}: {check.headline}"]
    for stage in check.stages:
        share = "-" if stage.cpu_share is None else f"{stage.cpu_share:.0%}"
        drift = "-" if stage.reference_drift_pct is None else f"{stage.reference_drift_pct:+.0f}%"
        stream = "-" if stage.stream_drift_pct is None else f"{stage.stream_drift_pct:+.0f}%"
        lines.append(
            f"  {stage.name:13s} {stage.status:14s} error {_pct(stage.error_pct):>5}  "
            f"CPU share {share:>4}  reference kernels {drift:>4} {stream:>4} (streaming)  "
            f"{stage.clean_samples}/{len(stage.samples)} clean"
        )
    cals = ", ".join(
        f"{c.index}: {c.problem or 'clean'}"
        + ("" if c.cpu_share is None else f" (CPU share {c.cpu_share:.0%})")
        for c in check.calibrations
    )
    lines.append(f"  calibrations: {cals}")
    lines += [f"  {note}" for note in check.dtype_notes]
    return lines
