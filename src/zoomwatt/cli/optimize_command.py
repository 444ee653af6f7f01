"""``zoomwatt optimize``: what the zoom must give up to meet a frame rate (and a power cap) on a
device, from every combination of the article's optimizations."""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from typing import TYPE_CHECKING, Any

from zoomwatt.cli.text_table import text_table
from zoomwatt.errors import InputError

if TYPE_CHECKING:
    from zoomwatt.optimizer import Candidate, ExploreResult
    from zoomwatt.optimizer.plan import Plan

DEFAULT_MAX_ERROR_DB = -20.0
STUDIES = ("search", "offchip", "frequency", "sharing")
MAX_ROWS = 12


def _error_limit(text: str) -> float | None:
    if text.strip().lower() in ("none", "off", "any"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a noise-to-signal ratio in dB below 0 (e.g. -30) or 'none'"
        ) from None
    return value


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "optimize",
        help="what must be given up to run the zoom in real time on a device",
        description="Explore every combination of quantization, pruning/2:4 sparsity, weight "
        "sharing, software stack, operating point and layer-wise frequency, and pipeline knobs "
        "(resolution, CFG, TAESD, steps, 1-in-N keyframes) on a device; print the Pareto front "
        "of output fps vs average power and the cheapest combination that meets the targets. "
        "Figures are predictions of the performance model; errors are measured on real weights.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--hw", required=True, metavar="NAME", help="profile name, 'host' or a .yaml")
    p.add_argument("--target-fps", type=float, default=30.0, help="output frame rate to reach")
    p.add_argument(
        "--power-cap",
        type=float,
        default=None,
        metavar="W",
        help="limit on the average total power (AI + non-AI)",
    )
    p.add_argument(
        "--max-error-db",
        type=_error_limit,
        default=DEFAULT_MAX_ERROR_DB,
        metavar="D",
        help="largest output error of the lossy choices, as noise-to-signal in dB (-20: noise "
        "20 dB below the UNet output); 'none' allows any",
    )
    p.add_argument(
        "--study",
        choices=STUDIES,
        default="search",
        help="search: the Pareto front and the answer; offchip: tiling/loop-order study; "
        "frequency: DVFS vs layer-wise frequency; sharing: weight sharing and measured errors",
    )
    p.add_argument(
        "--stack",
        default=None,
        metavar="NAME[,NAME]",
        help="the software stacks to try (the profile's default stack is always tried) "
        "[default: every stack the profile describes: `zoomwatt hardware show NAME`]",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument(
        "--plan-out",
        default=None,
        metavar="PATH",
        help="write the chosen point as a plan file (levers, device, stack, predicted figures) "
        "that `zoomwatt zoom --plan` and `zoomwatt measure --plan` apply",
    )
    p.add_argument(
        "--pick",
        default="best",
        metavar="best|least-change|fastest|LABEL",
        help="which point the plan holds: the cheapest meeting the targets, the fewest "
        "give-ups, the fastest, or a point of the front by its label",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="trace the workload again instead of reading the workload cache (and "
        "leave it untouched); the figures are the same",
    )
    p.set_defaults(func=run)


def compute(args: argparse.Namespace) -> ExploreResult:
    from zoomwatt.optimizer import OptimizeOptions, SearchSpace, explore

    # 1. inputs
    if not math.isfinite(args.target_fps) or args.target_fps <= 0:
        raise InputError("--target-fps", args.target_fps, "a frame rate > 0")
    if args.power_cap is not None and (not math.isfinite(args.power_cap) or args.power_cap <= 0):
        raise InputError("--power-cap", args.power_cap, "a power in W > 0")
    e = args.max_error_db
    if e is not None and (not math.isfinite(e) or e >= 0):
        raise InputError(
            "--max-error-db",
            e,
            "a noise-to-signal ratio in dB below 0, or 'none'",
            "e.g. -30 allows noise 30 dB below the output (SNR >= 30 dB)",
        )
    if getattr(args, "plan_out", None) is not None and args.study != "search":
        raise InputError("--plan-out", args.plan_out, "the search study (no --study)")
    stacks = _stacks(getattr(args, "stack", None))
    # 2. search
    options = OptimizeOptions(
        target_fps=args.target_fps,
        power_cap_w=args.power_cap,
        max_error_db=e,
        space=SearchSpace(stack=stacks),
        studies=args.study != "search" or args.format == "json",
    )
    try:
        result = explore(args.hw, options, cache=not getattr(args, "no_cache", False))
    except InputError as exc:
        if exc.argument != "space.stack":
            raise
        hint = "calibrate a stack here first: zoomwatt hardware calibrate --stack openvino"
        raise InputError(
            "--stack", args.stack, exc.expected, hint if args.hw == "host" else None
        ) from None
    if getattr(args, "plan_out", None) is not None and args.study == "search":
        _plan(args, result)  # 3. the plan file of the picked point
    return result


def _stacks(text: str | None) -> tuple[str, ...] | None:
    """``--stack``'s names (None: every stack of the profile); names the profile lacks are the
    search's error, which lists the profile's."""
    if text is None:
        return None
    from zoomwatt.optimizer.plan import PRICING_STACKS

    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise InputError("--stack", text, "one or more stack names, comma-separated")
    pricing = {priced: pair for pair, priced in PRICING_STACKS.items()}
    for name in names:
        if name in pricing:  # a stack that prices a compression point, not one to search
            stack, quant = pricing[name]
            raise InputError(
                "--stack", name, f"a stack to search ({name} prices {stack}'s {quant} point)",
                f"pass --stack {stack}; calibrate both here with zoomwatt hardware calibrate "
                f"--stack {stack} --stack {name}",
            )  # fmt: skip
    return names


def _plan(args: argparse.Namespace, result: ExploreResult, write: bool = True) -> Plan | None:
    """The plan of the picked point (None when nothing can be picked and none was asked for)."""
    from zoomwatt.optimizer.plan import make_plan, write_plan

    pick = getattr(args, "pick", "best")
    out = getattr(args, "plan_out", None)
    if out is None and pick == "best" and result.best is None:
        return None
    plan = make_plan(result, pick)
    if out is not None and write:
        write_plan(plan, out)
    return plan


def apply_commands(plan: Plan, path: str | None) -> list[str]:
    """The commands that apply ``plan`` (from its file ``path``, or by its levers)."""
    if path is not None:
        return [
            f"zoomwatt measure --plan {path} --validate   # predicted vs measured, per lever",
            f"zoomwatt zoom --backend sd2 --plan {path} --out zoom.mp4",
        ]
    levers = plan.lever_text()
    if not levers:
        return ["(the answer is the baseline: nothing to apply)"]
    return [f"zoomwatt measure --levers {levers} --validate   # predicted vs measured"]


def run(args: argparse.Namespace) -> int:
    result = compute(args)
    plan = _plan(args, result, write=False) if args.study == "search" else None
    if args.format == "json":
        data = result.to_dict()
        if args.study == "sharing":
            data["article_example"] = _article_dict()
        if plan is not None and args.plan_out is not None:
            data["plan"] = plan.to_dict()
        print(json.dumps(data, indent=2))
        return 0
    render = {
        "search": render_search,
        "offchip": render_offchip,
        "frequency": render_frequency,
        "sharing": render_sharing,
    }[args.study]
    print(render(result))
    if plan is not None:
        where = f" (written to {args.plan_out})" if args.plan_out else ""
        print(f"\nPlan: {plan.label} [{plan.pick}]{where}; levers: {plan.lever_text() or 'none'}")
        print("Apply it:")
        for line in apply_commands(plan, args.plan_out):
            print(f"  {line}")
    return 0


# ---------------------------------------------------------------- rendering


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _err(c: Candidate) -> str:
    if c.error_db is None:
        return "lossless"
    return f"{c.error_db:.0f} dB" + (" (parts added)" if c.error_basis == "parts added" else "")


def _shown(result: ExploreResult) -> list[Candidate]:
    """At most MAX_ROWS points of the front, evenly spread, always with the answers."""
    import numpy as np

    front = result.pareto
    if len(front) <= MAX_ROWS:
        return front
    picks = set(np.linspace(0, len(front) - 1, MAX_ROWS - 2).round().astype(int).tolist())
    for special in (result.least_change, result.best):
        if special is not None and special in front:
            picks.add(front.index(special))
    return [front[i] for i in sorted(picks)]


def _row(c: Candidate, result: ExploreResult) -> list[str]:
    mark = ""
    if result.least_change is not None and c == result.least_change:
        mark = "<- fewest give-ups"
    elif result.best is not None and c == result.best:
        mark = "<- cheapest"
    return [
        str(len(c.give_ups)),
        _num(c.output_fps),
        _num(c.avg_power_w),
        _num(c.energy_per_frame_j),
        _num(c.fps_per_watt),
        _err(c),
        f"{c.label} {mark}".strip(),
    ]


def _limits(result: ExploreResult) -> str:
    err = (
        "any error"
        if result.max_error_db is None
        else f"error <= {result.max_error_db:g} dB (SNR >= {-result.max_error_db:g} dB)"
    )
    cap = "no power cap" if result.power_cap_w is None else f"<= {result.power_cap_w:g} W"
    return f"target {result.target_fps:g} fps, {cap}, {err}"


def render_search(result: ExploreResult) -> str:
    b = result.baseline
    target = result.target_fps
    lines = [
        f"zoomwatt optimize: {result.hardware} ({result.description})",
        f"  {_limits(result)}; {result.candidates_evaluated} combinations in "
        f"{result.seconds:.1f} s (predictions)",
        f"  baseline: 512 px, fp16, 20 steps, CFG, VAE, 1 keyframe in 30, "
        f"{b.knobs['stack']} stack, {b.knobs['operating_point']}: {_num(b.output_fps)} fps, "
        f"{_num(b.avg_power_w)} W, "
        f"{_num(b.energy_per_frame_j)} J/frame"
        + ("" if b.meets_targets else f" ({_num(target / b.output_fps)}x short of {target:g} fps)"),
        "",
        f"Pareto front: more fps, less power, fewer give-ups ({len(result.pareto)} points"
        + (
            f", {MAX_ROWS} shown; all with --format json)" if len(result.pareto) > MAX_ROWS else ")"
        ),
    ]
    header = ["give-ups", "fps", "W", "J/frame", "fps/W", "error", "what changes"]
    lines += text_table(header, [_row(c, result) for c in _shown(result)], right={0, 1, 2, 3, 4, 5})
    lines += ["", *readout(result)]
    return "\n".join(lines)


def readout(result: ExploreResult) -> list[str]:
    target = result.target_fps
    out = []
    free = [c for c in result.pareto if not c.give_ups]
    if free:
        top = max(free, key=lambda c: c.output_fps)
        out.append(
            f"Without changing the picture (stack, operating point, layer-wise frequency): at most "
            f"{_num(top.output_fps)} fps ({top.label})."
        )
    within = "" if result.power_cap_w is None else f" within {result.power_cap_w:g} W"
    least = result.least_change
    if least is None:
        f = result.fastest
        out.append(
            f"Nothing reaches {target:g} fps{within} within the error limit. Fastest: "
            f"{f.output_fps:.4g} "
            f"fps at {_num(f.avg_power_w)} W with {f.label} ({_err(f)})."
        )
    else:
        gives = "; ".join(least.give_ups) or "nothing"
        out.append(
            f"To reach {target:g} fps{within} you must give up: {gives} -> "
            f"{_num(least.output_fps)} fps, "
            f"{_num(least.avg_power_w)} W ({_err(least)}; {least.label})."
        )
        best = result.best
        if best is not None and best != least:
            out.append(
                f"Cheapest at {target:g} fps{within}: {_num(best.avg_power_w)} W, "
                f"{_num(best.energy_per_frame_j)} J/frame ({best.label}; {_err(best)})."
            )
    notes = (
        "give-ups: changes that alter the picture (lower resolution, no CFG, TAESD, fewer "
        "steps, rarer keyframes, each lossy compression). error: noise-to-signal of the UNet "
        "output measured on real (random-init) weights, per choice; a combination measured "
        "applied together, or marked '(parts added)' where its measured parts are added as "
        f"independent noises ({result.error_source.get('model', '?')}). Power is AI + non-AI "
        f"at min(fps, {target:g}); faster devices idle between keyframes. See --study "
        "offchip|frequency|sharing."
    )
    return [*out, "", *textwrap.wrap(notes, width=100)]


def _bytes(b: float) -> str:
    for factor, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if b >= factor:
            return f"{b / factor:.3g} {unit}"
    return f"{b:.0f} B"


def _short(text: str, width: int) -> str:
    return (
        text
        if len(text) <= width
        else text[: width // 3] + "..." + text[-(width - width // 3 - 3) :]
    )


def render_offchip(result: ExploreResult) -> str:
    s = result.studies["offchip"]
    k = s["per_keyframe"]
    lines = [
        f"zoomwatt optimize --study offchip: {result.hardware}, on-chip buffer "
        f"{_bytes(s['buffer_bytes'])}, {s['layers']} conv/linear layers per keyframe "
        "(baseline pipeline)",
        "",
        *text_table(
            ["schedule", "DRAM/keyframe", "DRAM energy", "of which row misses"],
            [
                [
                    "naive (mkc, equal tiles, row-major)",
                    _bytes(k["naive_dram_bytes"]),
                    f"{k['naive_dram_energy_j']:.3g} J",
                    f"{k['naive_row_miss_energy_j']:.3g} J",
                ],
                [
                    "searched (order x tiles, tiled layout)",
                    _bytes(k["searched_dram_bytes"]),
                    f"{k['searched_dram_energy_j']:.3g} J",
                    f"{k['searched_row_miss_energy_j']:.3g} J",
                ],
                ["each operand once (lower bound)", _bytes(k["lower_bound_bytes"]), "", ""],
                ["performance model's assumption", _bytes(k["model_assumed_dram_bytes"]), "", ""],
            ],
            right={1, 2, 3},
        ),
        "",
        f"searched vs naive: {k['bytes_saving']:.0%} fewer DRAM bytes, {k['energy_saving']:.0%} "
        "less DRAM energy per keyframe",
        "",
        "largest savings:",
    ]
    rows = []
    for la in s["largest_savings"]:
        n, sr = la["naive"], la["searched"]
        rows.append(
            [
                _short(la["layer"], 48),
                _bytes(n["dram_bytes"]),
                _bytes(sr["dram_bytes"]),
                f"{sr['order']} {sr['tile_m']}x{sr['tile_k']}x{sr['tile_c']}",
            ]
        )
    lines += text_table(["layer", "naive", "searched", "order, tile MxKxC"], rows, right={1, 2})
    lines += ["", "ROMANet sanity check (8-bit, 108 KB buffer as Eyeriss):"]
    for name, v in s["sanity_check"].items():
        lines.append(
            f"  {name}: DRAM energy saved {v['energy_saving']:.0%} (ROMANet published "
            f"{v['published_saving']:.0%}); bytes {_bytes(v['naive_dram_bytes'])} -> "
            f"{_bytes(v['searched_dram_bytes'])}"
        )
    lines += [
        "",
        *textwrap.wrap(
            s["note"] + f"; row {s['row_bytes']} B, activation "
            f"{s['row_activation_j'] * 1e9:g} nJ (estimates).",
            100,
        ),
    ]
    return "\n".join(lines)


def render_frequency(result: ExploreResult) -> str:
    lines = [
        f"zoomwatt optimize --study frequency: {result.hardware}, baseline pipeline, one keyframe"
    ]
    for study in result.studies["frequency"]:
        lines += ["", f"{study['constraint']} (leakage share {study['leak_share']:g}, estimate)"]
        rows = [
            [
                p["mode"],
                f"{p['voltage_v']:g} V",
                "/".join(f"{m:g}" for m in p["frequencies_mhz"]) + " MHz",
                f"{p['latency_s']:.3g} s",
                f"{p['energy_j']:.3g} J",
                f"{p['peak_layer_power_w']:.3g} W",
                f"{p['memory_bound_mhz']:.0f}/{p['compute_bound_mhz']:.0f}",
                "yes" if p["meets_constraint"] else "no",
            ]
            for p in study["plans"]
        ]
        header = ["plan", "V", "clocks", "latency", "energy", "peak layer", "MHz mem/comp", "meets"]
        lines += text_table(header, rows, right={3, 4, 5, 6})
        sv = study["saving"]
        lines.append(
            f"layer-wise vs fixed: latency {-sv['latency']:+.0%}, energy {-sv['energy']:+.0%}"
        )
    lines += ["", "MHz mem/comp: time-weighted clock of the memory-bound / compute-bound layers."]
    return "\n".join(lines)


def _article_dict() -> dict[str, Any]:
    from zoomwatt.optimizer.weight_sharing import article_example

    ex = article_example()
    return {
        "codebook": [round(float(v), 6) for v in ex.codebook],
        "indices": ex.indices.tolist(),
        "original_bits": ex.original_bits,
        "shared_bits": ex.shared_bits,
        "compression_ratio": ex.compression_ratio,
    }


def render_sharing(result: ExploreResult) -> str:
    ex = _article_dict()
    lines = [
        "zoomwatt optimize --study sharing",
        "",
        "Article example (Deep Compression fig. 3): 4x4 fp32, 4 shared values, 2-bit indices",
        f"  shared values {ex['codebook']}, indices {ex['indices']}",
        f"  {ex['original_bits']} bits -> {ex['shared_bits']} bits "
        f"({ex['compression_ratio']:.1f}x)",
        "",
        "Measured output error of each lossy choice ("
        + str(result.error_source.get("model"))
        + ")",
    ]
    rows = [[name, f"{v:.1f} dB", f"{-v:.1f} dB"] for name, v in result.errors_db.items()]
    lines += text_table(["choice", "error (N/S)", "SNR"], rows, right={1, 2})
    for key in ("weights", "inputs", "device", "date", "script", "per_layer_sharing"):
        if key in result.error_source:
            lines.append(f"  {key}: {result.error_source[key]}")
    return "\n".join(lines)
