"""``zoomwatt analyze``: what the zoom asks of a machine, per stage, frame and second.

Reads :class:`zoomwatt.workload.WorkloadReport` and the article checks; renders them as a
one-screen table, JSON or CSV. All computing is in :mod:`zoomwatt.workload`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zoomwatt.archs.catalog import ALL_PIPELINES, ATTENTION_MODES, PIPELINES, VAES
from zoomwatt.workload.records import MODEL_DTYPES
from zoomwatt.workload.stages import StageName

if TYPE_CHECKING:
    from zoomwatt.workload.spec import WorkloadSpec

FORMATS = ("table", "json", "csv")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="count the work of every layer of the zoom pipeline, per frame and per second",
        description="Characterize the infinite-zoom workload from the real architectures "
        "(built on the meta device: no weights, nothing allocated): parameters, MACs, FLOPs "
        "and bytes of every op of every model, rolled up per call, per keyframe, per output "
        "frame (1 keyframe in N frames) and per second of video; beside it, the article's "
        "claims (SYSTEM_DESIGN.md rows 1-2) checked.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("workload")
    add_pipeline_options(g)
    g.add_argument("--vae", choices=VAES, default="default", help="taesd: the tiny autoencoder")
    g.add_argument(
        "--size",
        type=int,
        default=None,
        help="frame side in pixels, a multiple of 64 (32 for sdxl-base) [default: the "
        "pipeline's native size: 512; 768 for sd21, 1024 for sdxl-base]",
    )
    add_steps_options(g)
    g.add_argument("--dtype", choices=MODEL_DTYPES, default="fp16", help="weights counted in")
    g.add_argument(
        "--activation-dtype",
        choices=MODEL_DTYPES,
        default=None,
        help="activations counted in [default: --dtype; int8 for int4 weights]",
    )
    g.add_argument(
        "--every",
        type=int,
        default=30,
        metavar="N",
        help="one keyframe (txt2img: one image) every N output frames",
    )
    g.add_argument("--fps", type=float, default=30.0, help="output frame rate")
    g.add_argument(
        "--attention",
        choices=ATTENTION_MODES,
        default="sdpa",
        help="sdpa: fused (scores stay on chip); matmul: explicit QK^T, softmax, AV",
    )
    g.add_argument(
        "--prompt-every",
        type=float,
        default=None,
        metavar="K",
        help="keyframes per prompt change, to amortise the text encoder [default: one prompt; "
        "txt2img: a prompt per image]",
    )
    g.add_argument(
        "--border", type=int, default=None, metavar="PX", help="inpainted band [default: size/4]"
    )
    g = p.add_argument_group("output")
    g.add_argument("--format", choices=FORMATS, default="table")
    g.add_argument("--layers", action="store_true", help="also list every traced op")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="trace the models again instead of reading the workload cache (and leave it "
        "untouched); the figures are the same",
    )
    p.set_defaults(func=run)


def add_pipeline_options(g) -> None:
    """``--pipeline NAME`` or ``--model DIR`` (one of them), shared with ``predict``."""
    which = g.add_mutually_exclusive_group()
    which.add_argument(  # no argparse choices: a bad name is one error line, as the spec says
        "--pipeline",
        default=None,
        metavar="NAME",
        help=f"one of {', '.join(ALL_PIPELINES)} [default: sd2-inpaint]. "
        f"{' and '.join(PIPELINES)} inpaint (the zoom: 1 keyframe in N output frames); the "
        "others make pictures from text and are counted per image",
    )
    which.add_argument(
        "--model",
        default=None,
        metavar="DIR",
        help="a local diffusers pipeline folder, read from its JSON configs alone (no "
        "weights); named by its folder, 20 steps with CFG unless told",
    )


def add_steps_options(g) -> None:
    """``--steps``, ``--cfg/--no-cfg`` (the pipeline's own unless given) and ``--batch``."""
    g.add_argument(
        "--steps",
        type=int,
        default=None,
        help="denoising steps per keyframe (image) [default: the pipeline's: 20; 1 for sd-turbo]",
    )
    g.add_argument(
        "--cfg",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="classifier-free guidance (UNet batch 2 x --batch) [default: the pipeline's: on; "
        "off for sd-turbo]",
    )
    g.add_argument(
        "--batch",
        type=int,
        default=1,
        metavar="B",
        help="images per pipeline call (figures stay per image)",
    )


def workload_spec(args: argparse.Namespace) -> WorkloadSpec:
    """The workload the options name (checked: a bad value is one error line)."""
    from zoomwatt.workload.spec import WorkloadSpec

    return WorkloadSpec(
        pipeline=args.pipeline,
        model_dir=getattr(args, "model", None),
        vae=args.vae,
        size=args.size,
        steps=args.steps,
        cfg=args.cfg,
        batch=getattr(args, "batch", 1),
        dtype=args.dtype,
        every=args.every,
        fps=args.fps,
        activation_dtype=args.activation_dtype,
        attention=args.attention,
        prompt_every=args.prompt_every,
        border_px=args.border,
    )


@dataclass(frozen=True)
class AnalyzeResult:
    """Everything ``analyze`` shows: the traced workload and the article's claims checked."""

    report: Any  # zoomwatt.workload.results.WorkloadReport
    article: list[Any]  # zoomwatt.workload.article.ClaimCheck, one per claim


def compute(args: argparse.Namespace) -> AnalyzeResult:
    from zoomwatt.workload import characterize, check_article

    report = characterize(workload_spec(args), cache=not args.no_cache)
    return AnalyzeResult(report, check_article(report, cache=not args.no_cache))


def run(args: argparse.Namespace) -> int:
    from zoomwatt.workload.article import article_to_dicts

    result = compute(args)
    report, checks = result.report, result.article
    if args.format == "json":
        out = report.to_dict(layers=args.layers)
        out["article"] = article_to_dicts(checks)
        print(json.dumps(out, indent=2))
    elif args.format == "csv":
        print(render_csv(report, args.layers), end="")
    else:
        print(render_table(report, checks, args.layers))
    return 0


# --- rendering ------------------------------------------------------------------------------

_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float, unit: str = "") -> str:
    """1.2345e12 -> '1.23 T' (3 significant digits); 0 -> '0'."""
    if value == 0:
        return f"0 {unit}".rstrip()
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            scaled = value / scale
            digits = 2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0
            return f"{scaled:.{digits}f} {prefix}{unit}"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:.{digits}f} {unit}".rstrip()


def _grid(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in
                 enumerate(zip(r, widths, strict=True))]  # fmt: skip
        lines.append("  ".join(cells).rstrip())
    return lines


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else "<1%"


def _share(x: float) -> str:
    return "0%" if x == 0 else "<0.1%" if x < 0.001 else f"{100 * x:.1f}%"


def _stage_rows(report: Any) -> list[list[str]]:
    rows = [[
        "stage", "params", "weights", "output", "MAC/call", "FLOP/call", f"calls/{report.unit}",
        "act./call", "peak act.", "conv/lin/attn %",
    ]]  # fmt: skip
    for s in report.stages:
        share = s.share_by_class()
        mac_stage = s.macs_per_call > 0
        calls = f"{s.calls_per_keyframe:g}"
        if s.name == StageName.TEXT_ENCODER and report.prompt_every is None:
            calls = "0 (per prompt)"
        shares = "/".join(f"{100 * share[c]:.0f}" for c in ("conv", "linear", "attention"))
        rows.append([
            s.name,
            si(s.params) if s.params else "-",
            si(s.weight_bytes, "B") if s.weight_bytes else "-",
            "x".join(map(str, s.output_shape)),
            si(s.macs_per_call) if mac_stage else "-",
            si(s.flops_per_call),
            calls,
            si(s.activation_bytes_per_call, "B"),
            si(s.peak_activation_bytes, "B"),
            shares if mac_stage else "-",
        ])  # fmt: skip
    return rows


def render_table(report: Any, checks: list[Any], layers: bool = False) -> str:
    r = report
    batch = f", {r.batch} images per call" if r.batch != 1 else ""
    lines = [
        f"zoomwatt analyze: {r.pipeline} ({r.vae} VAE), {r.size}x{r.size}, {r.steps} steps, "
        f"CFG {'on' if r.cfg else 'off'}, attention {r.attention}{batch}",
    ]
    if r.model_dir is not None:
        lines.append(f"pipeline folder {r.model_dir} (JSON configs only)")
    if r.unit == "keyframe":
        lines.append(
            f"weights {r.dtype}, activations {r.activation_dtype}; 1 keyframe every {r.every} "
            f"output frames at {r.fps:g} fps (one keyframe per {r.every / r.fps:.3g} s of video)"
        )
    else:
        per_call = f"; calls/image = calls per call / {r.batch}" if r.batch != 1 else ""
        lines += [
            f"weights {r.dtype}, activations {r.activation_dtype}; {r.kind}: every figure is per "
            "image, as published",
            f"per-image figures count it (its prompt encoded, every step, one VAE decode"
            f"{per_call})",
            f"per output frame and per second: 1 image every {r.every} output frames at "
            f"{r.fps:g} fps, no zoom frame work",
        ]
    lines.append("")
    lines += _grid(_stage_rows(r), right=set(range(1, 10)) - {3})
    lines.append("")
    totals = [
        ["", "MACs", "FLOPs", "weights read", "activations moved"],
        [f"per {r.unit}", si(r.per_keyframe.macs), si(r.per_keyframe.flops),
         si(r.per_keyframe.weight_bytes, "B"), si(r.per_keyframe.activation_bytes, "B")],
        [f"per output frame (1 in {r.every})", si(r.per_output_frame.macs),
         si(r.per_output_frame.flops), si(r.per_output_frame.weight_bytes, "B"),
         si(r.per_output_frame.activation_bytes, "B")],
        [f"per second at {r.fps:g} fps", si(r.per_second.macs, "MAC/s"),
         si(r.per_second.flops, "FLOP/s"), si(r.per_second.weight_bytes, "B/s"),
         si(r.per_second.activation_bytes, "B/s")],
    ]  # fmt: skip
    lines += _grid(totals, right={1, 2, 3, 4})
    lines.append("")
    total_flops = r.per_keyframe.flops
    where = sorted(r.stages, key=lambda s: -s.per_keyframe.flops)
    lines.append(
        "where a second goes (FLOPs): "
        + ", ".join(f"{s.name} {_share(s.per_keyframe.flops / total_flops)}" for s in where)
    )
    biggest = max(r.stages, key=lambda s: s.peak_activation_bytes)
    lines.append(
        f"peak memory: {si(r.peak_memory_bytes, 'B')} = weights of all models "
        f"{si(r.weight_bytes, 'B')} + largest live activation set "
        f"{si(biggest.peak_activation_bytes, 'B')} ({biggest.name})"
    )
    for s in r.stages:
        if s.note:
            lines.append(f"  {s.name}: {s.note}")
    lines += ["", "The article, checked (SYSTEM_DESIGN.md rows 1-2; shares are of MACs)"]
    header = _grid(
        [["row", "claim", "measured", "verdict"]]
        + [[str(c.row), c.claim, c.measured, c.verdict] for c in checks],
        right=set(),
    )[0]
    lines.append(header)
    rows = [["row", "claim", "measured", "verdict"]]
    rows += [[str(c.row), c.claim, c.measured, c.verdict] for c in checks]
    for line, c in zip(_grid(rows, right=set())[1:], checks, strict=True):
        lines.append(line)
        if c.note and c.verdict != "holds":
            lines.append(f"{'':5}-> {c.note}")
    if layers:
        for s in r.stages:
            lines += ["", f"{s.name}: {len(s.layers)} ops"]
            layer_rows = [["module", "op", "class", "MACs", "FLOPs", "weights", "in", "out"]]
            for rec in s.layers:
                layer_rows.append([
                    rec.module or "(top)", rec.op, rec.op_class.value, si(rec.macs),
                    si(rec.flops), si(rec.weight_bytes, "B"), si(rec.input_bytes, "B"),
                    si(rec.output_bytes, "B"),
                ])  # fmt: skip
            lines += _grid(layer_rows, right={3, 4, 5, 6, 7})
    return "\n".join(lines)


def render_csv(report: Any, layers: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if layers:
        writer.writerow([
            "stage", "module", "op", "op_class", "macs", "flops", "weight_bytes", "input_bytes",
            "output_bytes", "dtype", "activation_dtype",
        ])  # fmt: skip
        for s in report.stages:
            for rec in s.layers:
                writer.writerow([
                    s.name, rec.module, rec.op, rec.op_class.value, rec.macs, rec.flops,
                    rec.weight_bytes, rec.input_bytes, rec.output_bytes, rec.dtype,
                    rec.activation_dtype or rec.dtype,
                ])  # fmt: skip
        return buffer.getvalue()
    classes = list(report.stages[0].macs_by_class)
    writer.writerow([
        "stage", "params", "weight_bytes", "macs_per_call", "flops_per_call",
        "calls_per_keyframe", "activation_bytes_per_call", "peak_activation_bytes",
        *(f"macs_{c}" for c in classes),
    ])  # fmt: skip
    for s in report.stages:
        writer.writerow([
            s.name, s.params, s.weight_bytes, s.macs_per_call, s.flops_per_call,
            s.calls_per_keyframe, s.activation_bytes_per_call, s.peak_activation_bytes,
            *(s.macs_by_class[c] for c in classes),
        ])  # fmt: skip
    return buffer.getvalue()
