"""``zoomwatt zoom --plan P``: the plan's levers applied to the zoom's options (sd2 backend)."""

from __future__ import annotations

import argparse
import sys

from zoomwatt.errors import InputError


def add_arguments(g) -> None:
    g.add_argument(
        "--plan",
        default=None,
        metavar="PATH",
        help="sd2: apply the plan of `zoomwatt optimize --plan-out` (its resolution, "
        "steps, CFG, 1-in-N and model levers)",
    )
    g.add_argument(
        "--skip-unavailable",
        action="store_true",
        help="sd2 --plan: leave out the levers this machine cannot run (named, with "
        "why) instead of stopping",
    )
    g.add_argument(
        "--taesd",
        default=None,
        metavar="DIR|ID|random",
        help="sd2 --plan with TAESD: its weights (folder or repo id in the local cache; "
        "'random': random weights, for speed only) [default: madebyollin/taesd]",
    )


def apply_plan(args: argparse.Namespace) -> None:
    """Set ``args.levers`` (and the run settings the plan changes) from ``args.plan``."""
    args.levers = ()
    if not getattr(args, "plan", None):
        return
    from zoomwatt.optimizer.plan import read_plan
    from zoomwatt.pipeline.backends.levers import RUN_LEVERS, check_runnable, run_settings

    if args.backend != "sd2":
        raise InputError("--plan", args.plan, "--backend sd2 (the levers change the SD2 model)")
    plan = read_plan(args.plan)
    device = args.device or "cpu"
    runnable, reasons = check_runnable(plan.levers, device, args.skip_unavailable)
    for name, why in reasons.items():
        print(f"zoom: plan lever {name} left out: {why}", file=sys.stderr)
    applied = ",".join(lv.text() for lv in runnable) or "none"
    print(
        f"zoom: plan {args.plan} ({plan.label}; made for {plan.hardware}, {plan.stack} stack): "
        f"levers {applied}",
        file=sys.stderr,
    )
    width, height = (int(v) for v in args.size.lower().split("x"))
    settings = run_settings(
        runnable,
        {
            "size": (width, height),
            "steps": args.steps,
            "guidance": args.guidance,
            "frames_per_keyframe": args.frames_per_keyframe,
        },
    )
    args.size = "{}x{}".format(*settings["size"])
    args.steps, args.guidance = settings["steps"], settings["guidance"]
    args.frames_per_keyframe = settings["frames_per_keyframe"]
    scheduler = next((lv.value for lv in runnable if lv.name == "scheduler"), None)
    if scheduler is None and any(lv.name == "steps" for lv in runnable):
        print(
            "zoom: fewer steps: picture quality at few steps needs distilled weights",
            file=sys.stderr,
        )
    args.levers = tuple(lv for lv in runnable if lv.name not in RUN_LEVERS)
