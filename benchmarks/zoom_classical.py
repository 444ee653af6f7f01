"""Is the classical zoom faster than real time on this machine, per inpainting method?

Runs ``zoomwatt zoom`` as a subprocess, the way a user types it (the ``zoomwatt`` script of
this interpreter's environment), so the figure includes process start-up: a zoom out of the
shipped photo (``--image``; ``--prompt-only`` for the backend's generated first keyframe),
512x512, 11 keyframes, N = 30: 301 frames, 10 s of video at 30 fps. For each ``--method``: one
warm-up run, then ``--repeats`` timed runs; it prints output frames per second of whole-command
wall time (median of the repeats) with the per-stage seconds the command reports (``--json``)
and the machine's load average before and after. On a shared machine the figures are noisy:
compare methods measured in the same session. ``--record`` appends the figures, the machine
and the date to benchmarks/results/zoom_classical.jsonl.

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

from device_info import describe

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


def measure(args: argparse.Namespace, method: str, tmp: Path) -> dict:
    argv = zoom_argv(args, method, tmp / f"zoom-{method}.mp4")
    timed_run(argv)  # warm-up: file caches, imports
    load_before = os.getloadavg()[0]
    runs = [timed_run(argv) for _ in range(args.repeats)]
    load_after = os.getloadavg()[0]
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
        "load_average_before": round(load_before, 2),
        "load_average_after": round(load_after, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", action="append", choices=["patch", "telea", "ns"])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--keyframes", type=int, default=11)
    parser.add_argument("--frames-per-keyframe", type=int, default=30)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt-only", action="store_true", help="no --image start picture")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    methods = args.method or ["patch", "telea", "ns"]
    with tempfile.TemporaryDirectory() as tmp:
        per_method = [measure(args, method, Path(tmp)) for method in methods]
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
        "note": "shared 2-core machine, other jobs running: figures are noisy",
    }
    print(json.dumps(record, indent=2))
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
