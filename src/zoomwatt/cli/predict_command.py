"""``zoomwatt predict``: what the infinite zoom costs on a device (or on all of them)."""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zoomwatt.cli.analyze_command import add_pipeline_options, add_steps_options
from zoomwatt.cli.text_table import text_table
from zoomwatt.errors import InputError
from zoomwatt.hardware import NON_AI_BLOCKS, load_profile, shipped_profile_names
from zoomwatt.workload.records import MODEL_DTYPES

if TYPE_CHECKING:
    from zoomwatt.evidence.heldout import ClassEvidence
    from zoomwatt.hardware import HardwareProfile
    from zoomwatt.perfmodel import Prediction, Unsupported
    from zoomwatt.workload.spec import WorkloadSpec


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict latency, fps, power, energy per frame and battery life on a device",
        description="Predict what real-time infinite zoom costs on a device: keyframe latency, "
        "sustainable output fps with 1-in-N sampling, power (AI and non-AI blocks shown "
        "apart), energy per output frame, FPS per watt, battery hours and whether it fits in "
        "memory. Roofline + energy model on the traced workload; figures are predictions.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--hw",
        required=True,
        metavar="NAME",
        help="profile name, 'host', a path to a .yaml profile, 'all' (every shipped profile), "
        "or a comma-separated list",
    )
    g = p.add_argument_group("workload")
    add_pipeline_options(g)
    g.add_argument("--vae", default="default", help="VAE variant of the workload")
    g.add_argument("--dtype", default="fp16", choices=MODEL_DTYPES)
    add_steps_options(g)
    g.add_argument(
        "--every",
        type=int,
        default=30,
        metavar="N",
        help="one keyframe (txt2img: one image) every N output frames",
    )
    g.add_argument("--fps", type=float, default=30.0, help="target output frame rate")
    g.add_argument(
        "--size",
        type=int,
        default=None,
        help="frame side in pixels, a multiple of 64 (32 for sdxl-base) [default: the "
        "pipeline's native size: 512; 768 for sd21, 1024 for sdxl-base]",
    )
    g = p.add_argument_group("device and feature")
    g.add_argument(
        "--battery-wh",
        type=float,
        default=None,
        help="battery capacity [default: the profile's; none for a datacenter GPU]",
    )
    g.add_argument(
        "--non-ai",
        action="append",
        default=[],
        metavar="BLOCK=W",
        help=f"override a non-AI block's power; blocks: {', '.join(NON_AI_BLOCKS)}",
    )
    g.add_argument(
        "--stack",
        default=None,
        metavar="NAME",
        help="software stack the figures stand for (eager, compile, tensorrt, coreml, qnn, ...; "
        "`zoomwatt hardware show NAME` lists a device's) [default: each device's own]",
    )
    g.add_argument(
        "--sparse",
        action="store_true",
        help="conv/linear at the 2:4 structured-sparse peak where the device has one",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="trace the workload again instead of reading the workload cache (and leave it "
        "untouched); the figures are the same",
    )
    p.set_defaults(func=run)


@dataclass(frozen=True)
class PredictRun:
    """Everything ``predict`` shows: the settings, one result per device, and per device the
    evidence behind it (the held-out error of its class against published figures)."""

    settings: dict[str, Any]
    results: list[Prediction | Unsupported]
    evidence: dict[str, ClassEvidence] = field(default_factory=dict)  # device -> its class's


def parse_non_ai(items: list[str]) -> dict[str, float]:
    """['display=0', 'camera_isp=0.5'] -> {'display': 0.0, 'camera_isp': 0.5}."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            watts = float(value)
        except ValueError:
            watts = math.nan
        if not sep or name not in NON_AI_BLOCKS or not math.isfinite(watts) or watts < 0:
            raise InputError("--non-ai", item, f"BLOCK=W with BLOCK in {NON_AI_BLOCKS}, W >= 0")
        out[name] = watts
    return out


def hardware_names(text: str) -> list[str]:
    """'all' -> every shipped profile; 'a,b' -> ['a', 'b'] ('all' may appear in a list)."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise InputError("--hw", text, "profile names separated by commas")
        names.extend(shipped_profile_names() if part == "all" else [part])
    return list(dict.fromkeys(names))


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
    )


def compute(args: argparse.Namespace) -> PredictRun:
    from zoomwatt.perfmodel import DeviceOptions, predict_workload

    # 1. inputs
    spec = workload_spec(args)
    if args.battery_wh is not None and (not math.isfinite(args.battery_wh) or args.battery_wh <= 0):
        raise InputError("--battery-wh", args.battery_wh, "a capacity in Wh > 0")
    non_ai = parse_non_ai(args.non_ai)
    profiles = [load_profile(name) for name in hardware_names(args.hw)]

    # 2. the workload, once for every device, and the model
    options = DeviceOptions(
        battery_wh=args.battery_wh, non_ai_w=non_ai, sparse=args.sparse, stack=args.stack
    )
    cache = not getattr(args, "no_cache", False)
    results = predict_workload(spec, profiles, options, cache=cache)
    settings = {
        "pipeline": spec.pipeline,
        "vae": spec.vae,
        "dtype": spec.dtype,
        "size": spec.size,
        "steps": spec.steps,
        "cfg": spec.cfg,
        "every": spec.every,
        "target_fps": spec.fps,
        "sparse": args.sparse,
        "battery_wh": args.battery_wh,
        "non_ai_overrides_w": non_ai,
    }
    if spec.kind != "inpaint":  # keys only where not the zoom's: the JSON of the zoom is as it was
        settings["kind"] = spec.kind
    if spec.batch != 1:
        settings["batch"] = spec.batch
    if args.stack is not None:  # each prediction names its stack either way
        settings["stack"] = args.stack
    if spec.model_dir is not None:
        settings["model_dir"] = spec.model_dir
    return PredictRun(settings, results, device_evidence(profiles))


def device_evidence(profiles: list[HardwareProfile]) -> dict[str, ClassEvidence]:
    """Each device's evidence: the held-out error of its class (``zoomwatt validate``)."""
    from zoomwatt.evidence.heldout import class_evidence
    from zoomwatt.hardware.stacks import is_shipped

    return {p.name: class_evidence(p.device_class, shipped=is_shipped(p)) for p in profiles}


def run(args: argparse.Namespace) -> int:
    from zoomwatt.perfmodel import Unsupported

    result = compute(args)
    if len(result.results) == 1 and isinstance(result.results[0], Unsupported):
        only = result.results[0]
        raise InputError("--dtype", args.dtype, f"a dtype {only.hardware} can compute", only.reason)
    if args.format == "json":
        print(json.dumps(to_json(result), indent=2))
    elif len(result.results) == 1:
        print(render_one(result))
    else:
        print(render_many(result))
    return 0


# ---------------------------------------------------------------- rendering


def _with_evidence(run: PredictRun, result: Prediction | Unsupported) -> dict[str, Any]:
    data = result.to_dict()
    if result.hardware in run.evidence:
        data["evidence"] = run.evidence[result.hardware].to_dict()
    return data


def to_json(run: PredictRun) -> dict[str, Any]:
    if len(run.results) == 1:
        return {"settings": run.settings} | _with_evidence(run, run.results[0])
    return {"settings": run.settings, "predictions": [_with_evidence(run, r) for r in run.results]}


def _evidence(run: PredictRun, device: str) -> str:
    evidence = run.evidence.get(device)
    return "" if evidence is None else evidence.text


def _seconds(s: float) -> str:
    if s >= 100:
        return f"{s:.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    return f"{s * 1e3:.3g} ms"


def _bytes(b: float) -> str:
    for factor, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if b >= factor:
            return f"{b / factor:.3g} {unit}"
    return f"{b:.0f} B"


def _num(x: float) -> str:
    return f"{x:.3g}" if x < 1000 else f"{x:.0f}"


def _headline(settings: dict[str, Any]) -> str:
    cfg = "CFG on" if settings["cfg"] else "CFG off"
    return (
        f"{settings['pipeline']} {settings['size']}x{settings['size']}, {settings['dtype']}, "
        f"{settings['steps']} steps, {cfg}, 1 keyframe every {settings['every']} frames, "
        f"target {settings['target_fps']:g} fps"
    )


def _battery(p: Prediction) -> str:
    if p.battery_hours is None:
        return "n/a"
    return f"{p.battery_hours:.1f} h ({p.battery_wh:g} Wh)"


def _battery_short(p: Prediction) -> str:
    if p.battery_hours is None:
        return "n/a"
    return f"{p.battery_hours:.1f} h/{p.battery_wh:g}Wh"


def render_many(run: PredictRun) -> str:
    from zoomwatt.perfmodel import Prediction, Unsupported

    preds = sorted(
        (r for r in run.results if isinstance(r, Prediction)), key=lambda p: -p.output_fps
    )
    target = run.settings["target_fps"]
    header = [
        "device",
        "stack",
        "keyframe",
        "max fps",
        f"{target:g}fps?",
        f"N@{target:g}",
        "AI W",
        "non-AI W",
        "total W",
        "J/frame",
        "fps/W",
        "battery",
        "fits",
        "evidence",
    ]
    rows = [
        [
            p.hardware,
            p.stack,
            _seconds(p.keyframe_latency_s),
            _num(p.output_fps),
            "yes" if p.realtime else "no",
            "-" if p.min_every_for_target is None else str(p.min_every_for_target),
            _num(p.ai_power_w),
            _num(p.non_ai_power_w),
            _num(p.avg_power_w),
            _num(p.energy_per_frame_j),
            _num(p.fps_per_watt),
            _battery_short(p),
            "yes" if p.fits_in_memory else "NO",
            _evidence(run, p.hardware),
        ]
        for p in preds
    ]
    lines = [f"zoomwatt predict: {_headline(run.settings)}", ""]
    lines += text_table(header, rows, right={2, 3, 5, 6, 7, 8, 9, 10})
    for r in run.results:
        if isinstance(r, Unsupported):
            lines.append(f"{r.hardware}: {r.reason}")
    notes = (
        f"max fps: sustainable output fps = N / (keyframe latency + N x per-frame work) with "
        f"N = {run.settings['every']}; keyframes and in-between frames run one after the other "
        f"on the same device. N@{target:g}: the smallest N (1 keyframe every N frames) that "
        f"reaches {target:g} fps. Power, J/frame, fps/W and battery at min(max fps, "
        f"{target:g}) fps; a faster device idles between keyframes. Total W = AI + non-AI "
        "blocks (camera+ISP, video encode, display, DRAM refresh: defaults per device class, "
        "see --format json; change with --non-ai BLOCK=W). Predictions of a roofline + energy "
        "model, not measurements; see `zoomwatt hardware show NAME` for each figure's source. "
        "Evidence: the median |error| of the latency predictions of the device's class against "
        "published measurements, held out (each device predicted by stack figures fitted "
        "without it); `zoomwatt validate` lists every case."
    )
    lines += ["", *textwrap.wrap(notes, width=100)]
    return "\n".join(lines)


def render_one(run: PredictRun) -> str:
    from zoomwatt.perfmodel import Unsupported

    (p,) = run.results
    if isinstance(p, Unsupported):
        return f"zoomwatt predict: {p.hardware}: {p.reason}"
    header = ["stage", "calls/kf", "per call", "per keyframe", "energy/kf", "DRAM/call", "bound"]
    rows = [
        [
            s.name,
            f"{s.calls_per_keyframe:g}",
            _seconds(s.latency_per_call_s),
            _seconds(s.latency_s),
            f"{_num(s.energy_j)} J",
            _bytes(s.dram_bytes_per_call),
            f"{s.bound} ({s.bound_time_share.get(s.bound, 0.0):.0%})",
        ]
        for s in p.per_stage
    ]
    status = "meets" if p.realtime else "below"
    non_ai = ", ".join(f"{k} {v['power_w']:g} W" for k, v in p.non_ai_blocks.items())
    lines = [
        f"zoomwatt predict: {p.hardware} ({p.description}), {p.stack} stack",
        f"  {_headline(run.settings)}"
        + (f"; computed as {p.compute_dtype}" if p.compute_dtype != p.dtype else ""),
        "",
        *text_table(header, rows, right={1, 2, 3, 4, 5}),
        "",
        f"keyframe latency      {_seconds(p.keyframe_latency_s)}"
        f"   (+ {_seconds(p.frame_work_s)} of in-between frame work per keyframe)",
        f"output fps            {_num(p.output_fps)} sequential, "
        f"{_num(p.output_fps_overlapped)} if overlapped: {status} the {p.target_fps:g} fps target"
        + (
            f"; 1 keyframe every {p.min_every_for_target} frames would reach it"
            if p.min_every_for_target is not None and not p.realtime
            else ""
        ),
        f"power                 AI {_num(p.ai_power_w)} W + non-AI {_num(p.non_ai_power_w)} W "
        f"= {_num(p.avg_power_w)} W   (peak layer {_num(p.peak_power_w)} W, "
        f"cap {p.power_cap_w:g} W)",
        f"  non-AI blocks       {non_ai}",
        f"energy per frame      AI {_num(p.ai_energy_per_frame_j)} J + non-AI "
        f"{_num(p.non_ai_energy_per_frame_j)} J = {_num(p.energy_per_frame_j)} J "
        f"at {_num(p.delivered_fps)} fps",
        f"FPS per watt          {_num(p.fps_per_watt)}   (AI only {_num(p.ai_fps_per_watt)})",
        f"battery               {_battery(p)}",
        f"evidence              {_evidence(run, p.hardware)}; zoomwatt validate lists the cases",
        f"memory                {_bytes(p.memory_needed_bytes)} needed of "
        f"{_bytes(p.memory_usable_bytes)} usable: {'fits' if p.fits_in_memory else 'does NOT fit'}",
        "",
        "Assumptions: " + "; ".join(p.assumptions) + ".",
    ]
    return "\n".join(lines)
