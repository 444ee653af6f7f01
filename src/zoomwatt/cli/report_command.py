"""``zoomwatt report``: the whole study as one self-contained HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zoomwatt.cli.optimize_command import DEFAULT_MAX_ERROR_DB, _error_limit


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="write the whole study as one self-contained HTML page",
        description="Write DIR/index.html: the zoom video, the pipeline with per-stage cost, "
        "op classes per model beside the article's claims, the roofline with every layer, the "
        "device comparison, the optimizer's Pareto front, and predicted vs measured on this "
        "machine (from `zoomwatt measure --validate`). Everything is inside the page.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for index.html")
    p.add_argument("--video", default="out/zoom.mp4", help="the zoom video to show")
    p.add_argument(
        "--measurements",
        default="out/measure",
        metavar="PATH",
        help="a result of `zoomwatt measure` (file, or folder with latest.json)",
    )
    p.add_argument("--prompt", default=None, help="the prompt of the video, shown as text")
    p.add_argument(
        "--device", default="jetson-orin-nano", help="device of the diagram, roofline, optimizer"
    )
    g = p.add_argument_group("workload (as zoomwatt predict)")
    g.add_argument("--dtype", default="fp16")
    g.add_argument("--steps", type=int, default=20)
    g.add_argument("--every", type=int, default=30, metavar="N")
    g.add_argument("--fps", type=float, default=30.0)
    g.add_argument("--size", type=int, default=512)
    p.add_argument("--no-optimize", action="store_true", help="leave the Pareto front out")
    p.add_argument(
        "--max-error-db",
        type=_error_limit,
        default=DEFAULT_MAX_ERROR_DB,
        metavar="D",
        help="the optimizer's error bound: a point 'meets the targets' only with an output error "
        "at or below it (noise-to-signal in dB); 'none' allows any",
    )
    p.set_defaults(func=run)


def compute(args: argparse.Namespace) -> Path:
    """Compute the study and write the page; returns its path."""
    from zoomwatt.reporting.report_data import ReportOptions
    from zoomwatt.reporting.write_report import write_report

    options = ReportOptions(
        size=args.size,
        steps=args.steps,
        dtype=args.dtype,
        every=args.every,
        fps=args.fps,
        focus_device=args.device,
        video=args.video or None,
        measurements=args.measurements or None,
        prompt=args.prompt,
        optimize=not args.no_optimize,
        max_error_db=getattr(args, "max_error_db", DEFAULT_MAX_ERROR_DB),
    )
    options.check()  # before any work
    return write_report(args.out, options)


def run(args: argparse.Namespace) -> int:
    print("report: computing the study...", file=sys.stderr, flush=True)
    path = compute(args)
    print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB, open it in a browser)")
    return 0
