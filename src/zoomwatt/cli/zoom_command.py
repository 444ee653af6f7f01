"""``zoomwatt zoom``: render an infinite-zoom video."""

from __future__ import annotations

import argparse
import json

from zoomwatt.errors import InputError


def parse_size(text: str) -> tuple[int, int]:
    """'512x512' -> (512, 512). Multiples of 8 are checked with the other inputs."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError("size", text, "WIDTHxHEIGHT in pixels, e.g. 512x512")
    return int(parts[0]), int(parts[1])


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "zoom",
        help="render an infinite-zoom video",
        description="Render a zoom-out (or zoom-in) video: each keyframe shrinks the one before "
        "into its centre and inpaints the border; the frames between keyframes are exact "
        "crops, never the model. Keyframes are kept in a work folder; --resume continues.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _content_options(p)
    _zoom_options(p)
    _output_options(p)
    _backend_options(p)
    _real_time_options(p)
    p.set_defaults(func=run)


def _content_options(p) -> None:
    g = p.add_argument_group("content")
    g.add_argument("--prompt", help="text prompt (before the first row of --prompts, if both)")
    g.add_argument("--prompts", metavar="FILE", help="schedule: one 'start, prompt' row a line")
    g.add_argument(
        "--prompt-times",
        choices=["seconds", "keyframes"],
        default="seconds",
        help="unit of the schedule's starts: seconds of video or keyframe indices",
    )
    g.add_argument("--negative-prompt", default="", help="what the model should avoid")
    g.add_argument("--image", metavar="PATH", help="start image (else made from the prompt)")
    g.add_argument("--seed", type=int, default=0, help="base seed; each keyframe gets its own")


def _zoom_options(p) -> None:
    g = p.add_argument_group("zoom")
    g.add_argument(
        "--keyframes", type=int, default=5, metavar="K", help="keyframes, including the first"
    )
    g.add_argument(
        "--frames-per-keyframe",
        type=int,
        default=30,
        metavar="N",
        help="output frames per keyframe (1 in N frames uses the inpainter)",
    )
    g.add_argument(
        "--border",
        type=int,
        default=None,
        metavar="PX",
        help="new border per keyframe, top and bottom [default: height/4, zoom x2]",
    )
    g.add_argument(
        "--feather",
        type=int,
        default=0,
        metavar="PX",
        help="blend the pasted centre's seam over PX pixels (0: hard paste)",
    )
    g.add_argument("--size", default="512x512", metavar="WxH", help="frame size, multiples of 8")
    g.add_argument("--direction", choices=["out", "in"], default="out")
    g.add_argument("--fps", type=float, default=30.0)


def _output_options(p) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--out", default="zoom.mp4", metavar="PATH.mp4|.gif")
    g.add_argument("--work-dir", metavar="DIR", help="keyframes and manifest [default: OUT.work]")
    g.add_argument("--resume", action="store_true", help="continue a run from its work folder")
    g.add_argument(
        "--overwrite", action="store_true", help="discard an earlier run in the work folder"
    )
    g.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="the result (timings, picture checks) as a table or as JSON",
    )
    g.add_argument("--json", action="store_true", help="the same as --format json")
    g.add_argument(
        "--no-checks",
        action="store_true",
        help="skip the picture checks and the contact sheet (NAME_checks.json, "
        "NAME_keyframes.png beside the video)",
    )
    g.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _backend_options(p) -> None:
    g = p.add_argument_group("backend")
    g.add_argument(
        "--backend",
        default="classical",
        help="classical (OpenCV, no weights) or sd2 (Stable Diffusion 2 inpainting)",
    )
    g.add_argument(
        "--inpaint-method",
        choices=["patch", "patch-fast", "telea", "ns"],
        default="patch",
        help="classical: patch-based completion from the first keyframe (default), the same "
        "searched at a quarter of the size (patch-fast: about twice as fast, coarser), or "
        "OpenCV's Telea or Navier-Stokes (they smear the border into rays)",
    )
    g.add_argument(
        "--texture",
        type=float,
        default=12.0,
        help="classical: seeded texture amplitude in the filled border, grey levels",
    )
    g.add_argument(
        "--model",
        metavar="DIR_OR_ID",
        default=None,
        help="sd2: pipeline folder or Hugging Face repo id in the local cache "
        "[default: stabilityai/stable-diffusion-2-inpainting]",
    )
    g.add_argument(
        "--allow-download",
        action="store_true",
        help="sd2: fetch missing weights from the Hugging Face hub",
    )
    g.add_argument("--steps", type=int, default=20, help="sd2: denoising steps")
    g.add_argument(
        "--guidance",
        type=float,
        default=7.5,
        help="sd2: classifier-free guidance scale (<= 1 turns it off)",
    )
    g.add_argument(
        "--scheduler", default="pndm", help="sd2: pndm, ddim, euler, euler-a, dpm++, unipc or lms"
    )
    g.add_argument("--device", default=None, help="sd2: cpu or cuda [default: cuda if present]")
    g.add_argument(
        "--dtype",
        default=None,
        choices=["fp32", "fp16", "bf16"],
        help="sd2: [default: fp16 on CUDA, fp32 on CPU]",
    )


def _real_time_options(p) -> None:
    from zoomwatt.cli.zoom_plan import add_arguments as add_plan_arguments

    add_plan_arguments(p.add_argument_group("plan (zoomwatt optimize --plan-out)"))
    g = p.add_argument_group("real time")
    g.add_argument(
        "--realtime",
        action="store_true",
        help="pace the output at --fps as a live stream would, make the next keyframe while the "
        "in-between frames are made and encoded, and (sd2) use the fast keyframe path "
        "(on CUDA: channels-last, fused QKV, torch.compile, one CUDA graph per keyframe); "
        "reports late or dropped frames",
    )
    g.add_argument(
        "--late-policy",
        choices=["wait", "drop"],
        default="wait",
        help="with --realtime: a late frame stalls the stream (wait) or is skipped, the previous "
        "frame shown again (drop) [default: wait]",
    )
    g.add_argument(
        "--prebuffer-frames",
        type=int,
        default=None,
        metavar="FRAMES",
        help="with --realtime: frames ready before the clock starts [default: 1 + "
        "--frames-per-keyframe, so a keyframe may take N frame times]",
    )


class _BarProgress:
    """Two tqdm bars: keyframes and output frames."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars = []

    def start(self, keyframes: int, frames: int, resumed: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        self.keyframes = tqdm(total=keyframes, desc="keyframes", unit="kf", position=0)
        self.frames = tqdm(total=frames, desc="frames   ", unit="fr", position=1)
        self.bars = [self.keyframes, self.frames]
        if resumed:
            self.keyframes.write(f"resuming: {resumed} keyframes already in the work folder")

    def keyframe_done(self, index: int, resumed: bool) -> None:
        if self.bars:
            self.keyframes.update(1)

    def frame_done(self, index: int) -> None:
        if self.bars:
            self.frames.update(1)

    def close(self) -> None:
        for bar in self.bars:
            bar.close()


def run(args: argparse.Namespace) -> int:
    from zoomwatt.cli.zoom_plan import apply_plan
    from zoomwatt.pipeline.backends import backend_entry
    from zoomwatt.pipeline.backends.options import option_names
    from zoomwatt.pipeline.zoom import ZoomConfig, ZoomRun

    apply_plan(args)  # --plan: its levers and the settings they change
    entry = backend_entry(args.backend)
    backend_settings = {name: getattr(args, name) for name in option_names(entry.options)}
    config = ZoomConfig(
        prompt=args.prompt,
        prompts=args.prompts,
        prompt_times=args.prompt_times,
        negative_prompt=args.negative_prompt,
        image=args.image,
        backend=args.backend,
        backend_options=entry.options(**backend_settings),
        keyframes=args.keyframes,
        frames_per_keyframe=args.frames_per_keyframe,
        border=args.border,
        feather=args.feather,
        size=parse_size(args.size),
        seed=args.seed,
        direction=args.direction,
        fps=args.fps,
        out=args.out,
        work_dir=args.work_dir,
        resume=args.resume,
        overwrite=args.overwrite,
        realtime=args.realtime,
        late_policy=args.late_policy,
        prebuffer_frames=args.prebuffer_frames,
        checks=not args.no_checks,
    )
    as_json = args.json or args.format == "json"
    progress = _BarProgress(enabled=not args.no_progress and not as_json)
    zoom_run = ZoomRun(config, progress=progress)
    try:
        result = zoom_run.run()
    finally:
        progress.close()
        zoom_run.close()
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render_summary(result))
    return 0


def render_summary(result) -> str:
    """A few lines: what was written, how fast, and where the time went."""
    t = result.timings
    total = {
        "text encode": sum(k.text_encode_s for k in t),
        "VAE encode": sum(k.vae_encode_s for k in t),
        "denoise": sum(k.denoise_s for k in t),
        "VAE decode": sum(k.vae_decode_s for k in t),
        "inpaint": sum(k.inpaint_s for k in t),
        "shrink+paste": sum(k.paste_s for k in t),
        "in-between": sum(k.interpolation_s for k in t),
        "video write": sum(k.video_write_s for k in t),
    }
    speed = result.frames_per_wall_s
    pace = "faster than real time" if speed >= result.fps else "slower than real time"
    if result.stream is not None:
        pace = f"paced at {result.fps:g} fps"
    lines = [
        f"wrote {result.out}: {result.frames} frames, {result.keyframes} keyframes, "
        f"{result.duration_s:.2f} s at {result.fps:g} fps",
        f"made in {result.wall_s:.2f} s: {speed:.1f} frames/s, {pace}"
        + (f" ({result.resumed_keyframes} keyframes resumed)" if result.resumed_keyframes else ""),
        "time by stage: " + ", ".join(f"{k} {v:.2f} s" for k, v in total.items() if v > 0),
        f"keyframes kept in {result.work_dir}",
    ]
    if result.stream is not None:
        warm = f" after {result.warmup_s:.1f} s of warm-up" if result.warmup_s >= 0.05 else ""
        lines.append(result.stream.summary() + warm)
    if result.checks is not None:
        lines += ["", *render_checks(result.checks, result.checks_file, result.contact_sheet)]
    return "\n".join(lines)


# (name, value of one keyframe's check, how it is judged, worst = min or max)
_CHECK_COLUMNS = (
    ("detail", lambda c: c.energy_ratio, lambda c: f">= {c.min_energy_ratio:g}", min),
    ("coherence", lambda c: c.excess, lambda c: f"<= {c.max_excess:g}", max),
    ("rays", lambda c: c.ray_index, lambda c: f"<= {c.max_ray_index:g}", max),
    ("copies", lambda c: c.copied_block_fraction, lambda c: f"<= {c.max_copied_fraction:g}", max),
    ("colour", lambda c: c.lab_distance, lambda c: f"<= {c.max_lab_distance:g} Lab", max),
    ("seam", lambda c: c.jump_ratio, lambda c: f"<= {c.max_jump_ratio:g}", max),
)


def render_checks(checks, checks_file=None, sheet=None) -> list[str]:
    """The picture checks as a table: per check its worst keyframe, its threshold, how many
    keyframes pass, and why the threshold is what it is."""
    verdict = "all passed" if checks.passed else f"FAILED: {', '.join(checks.failed())}"
    rows = [("check", "worst", "threshold", "passed", "why")]
    for name, value, rule, worst in _CHECK_COLUMNS:
        found = [getattr(k, name) for k in checks.keyframes]
        if not found:
            continue
        bad = worst(found, key=value)
        passed = sum(c.passed for c in found)
        rows.append((name, f"{value(bad):.2f}", rule(bad), f"{passed}/{len(found)}", bad.why))
    if checks.drift:
        d = max(checks.drift, key=lambda d: (not d.passed, abs(d.mean_l_change)))
        low, high = d.std_l_ratio_range
        rows.append((
            "drift", f"{d.mean_l_change:+.1f} L, x{min(x.std_l_ratio for x in checks.drift):.2f}",
            f"|mean| <= {d.max_mean_l_change:g} L, spread x{low:g}..{high:g}",
            f"{sum(x.passed for x in checks.drift)}/{len(checks.drift)}", d.why,
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"picture checks of {len(checks.drift)} keyframes: {verdict}"]
    for row in rows:
        cells = "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True))
        lines.append(f"  {cells}  {row[4]}")
    if checks_file is not None:
        lines.append(f"checks written to {checks_file}")
    if sheet is not None:
        lines.append(f"contact sheet of the keyframes: {sheet}")
    return lines
