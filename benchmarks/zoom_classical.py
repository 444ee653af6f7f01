"""Is the classical zoom faster than real time on this machine, per inpainting method?

Runs ``zoomwatt zoom`` as a subprocess, the way a user types it (the ``zoomwatt`` script of
this interpreter's environment), so the figure includes process start-up: a zoom out of the
shipped photo (``--image``; ``--prompt-only`` for the backend's generated first keyframe),
512x512, 11 keyframes, N = 30: 301 frames, 10 s of video at 30 fps, picture checks and contact
sheet included (the command's defaults). Every ``--method`` is warmed up once, then
``--repeats`` rounds run each method in turn; it prints output frames per second of
whole-command wall time (median of the repeats) with the per-stage seconds the command reports
(``--json``), whether the picture checks passed, the video's size and the machine's load
average before and after. On a shared machine the figures are noisy, but the methods share the
load round by round: compare their ratios. ``--record`` appends the figures, the machine and
the date to benchmarks/results/zoom_classical.jsonl.

    .venv/bin/python benchmarks/zoom_classical.py [--method patch --method telea] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

RESULTS = Path(__file__).resolve().parent / "results" / "zoom_classical.jsonl"
TARGET_FPS = {"patch": 45.0, "fastest": 90.0}  # issue 16: the default, and the fastest method


def zoomwatt_command() -> list[str]:
    """The installed ``zoomwatt`` script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("zoomwatt")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "zoomwatt.cli.main"]


def zoom_argv(args: argparse.Namespace, method: str, out: Path) -> list[str]:
    argv = [*zoomwatt_command(), "zoom", "--prompt", "benchmark", "--inpaint-method", method]
    if not args.prompt_only:
        from zoomwatt.pipeline.samples import sample_image_path

        argv += ["--image", str(sample_image_path())]
    argv += ["--size", f"{args.size}x{args.size}", "--keyframes", str(args.keyframes)]
    argv += ["--frames-per-keyframe", str(args.frames_per_keyframe), "--fps", str(args.fps)]
    return [*argv, "--out", str(out), "--overwrite", "--no-progress", "--json"]


def timed_run(argv: list[str]) -> tuple[float, dict]:
    """Whole-command seconds and the command's JSON result."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    text = done.stdout
    return wall, json.loads(text[text.index("{") : text.rindex("}") + 1])


def stage_seconds(result: dict) -> dict[str, float]:
    timings = result["timings"]
    names = ("inpaint_s", "paste_s", "interpolation_s", "video_write_s")
    stages = {name: round(sum(t[name] for t in timings), 3) for name in names}
    stages["run_wall_s"] = round(result["wall_s"], 3)  # inside the command, after start-up
    return stages


def measure_all(args: argparse.Namespace, methods: list[str], tmp: Path) -> list[dict]:
    """Every method warmed up once, then ``repeats`` rounds of one timed run per method, in
    turn: on a shared machine the methods see the same load, so their ratios hold even when
    the figures do not."""
    argvs = {m: zoom_argv(args, m, tmp / f"zoom-{m}.mp4") for m in methods}
    for method in methods:
        timed_run(argvs[method])  # warm-up: file caches, imports
    load_before = os.getloadavg()[0]
    runs: dict[str, list[tuple[float, dict]]] = {m: [] for m in methods}
    for _ in range(args.repeats):
        for method in methods:
            runs[method].append(timed_run(argvs[method]))
    load_after = os.getloadavg()[0]
    return [
        summarize(method, runs[method], args, tmp / f"zoom-{method}.mp4", (load_before, load_after))
        for method in methods
    ]


def summarize(method: str, runs, args, video: Path, load: tuple[float, float]) -> dict:
    frames = runs[0][1]["frames"]
    walls = [wall for wall, _ in runs]
    median_wall = statistics.median(walls)
    median_run = runs[walls.index(median_wall)][1]
    return {
        "method": method,
        "frames": frames,
        "wall_s_median": round(median_wall, 3),
        "wall_s_all": [round(w, 3) for w in walls],
        "frames_per_wall_s_median": round(frames / median_wall, 1),
        "frames_per_wall_s_all": [round(frames / w, 1) for w in walls],
        "inpaint_s_per_keyframe": round(
            stage_seconds(median_run)["inpaint_s"] / max(1, args.keyframes - 1), 3
        ),
        "stage_s_of_median_run": stage_seconds(median_run),
        "checks_passed": (median_run.get("checks") or {}).get("passed"),
        "video_mb": round(video.stat().st_size / 2**20, 2),
        "load_average_before": round(load[0], 2),
        "load_average_after": round(load[1], 2),
    }


def ratios_to(per_method: list[dict], reference: str) -> dict[str, float]:
    """Each method's median frames per second over the ``reference`` method's, same session."""
    base = {m["method"]: m["frames_per_wall_s_median"] for m in per_method}.get(reference)
    if not base:
        return {}
    return {m["method"]: round(m["frames_per_wall_s_median"] / base, 2) for m in per_method}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", action="append", choices=["patch", "patch-fast", "telea", "ns"])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--keyframes", type=int, default=11)
    parser.add_argument("--frames-per-keyframe", type=int, default=30)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt-only", action="store_true", help="no --image start picture")
    parser.add_argument("--record", action="store_true")
    parser.add_argument(
        "--note",
        default="shared 2-core machine, other jobs running: figures are noisy, ratios hold",
        help="what the record says about the machine's state",
    )
    args = parser.parse_args()
    methods = args.method or ["patch", "patch-fast", "telea"]
    with tempfile.TemporaryDirectory() as tmp:
        per_method = measure_all(args, methods, Path(tmp))
    fastest = max(per_method, key=lambda m: m["frames_per_wall_s_median"])
    record = {
        "benchmark": "zoom_classical",
        "measure": "whole command, subprocess, start-up included; median of repeats",
        **describe(),
        "size": f"{args.size}x{args.size}",
        "keyframes": args.keyframes,
        "frames_per_keyframe": args.frames_per_keyframe,
        "video_fps": args.fps,
        "start": "generated" if args.prompt_only else "shipped photo (coffee.jpg)",
        "repeats": args.repeats,
        "methods": per_method,
        "targets_fps": TARGET_FPS,
        "fastest_method": fastest["method"],
        "ratios_to_telea": ratios_to(per_method, "telea"),
        "note": args.note,
    }
    print(json.dumps(record, indent=2))
    if args.record:
        append_record(RESULTS, record)


if __name__ == "__main__":
    main()
