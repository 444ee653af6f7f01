"""Is the classical 512x512 zoom faster than real time on this machine?

Renders a zoom-out with the classical backend (defaults: 512x512, 9 keyframes, N = 30, 30 fps:
241 frames, 8 s of video), repeated, and prints output frames per second of wall time (median of
the repeats) with the time per stage. ``--record`` appends the figure, the machine and the date
to benchmarks/results/zoom_classical.jsonl.

    .venv/bin/python benchmarks/zoom_classical.py [--repeats 3] [--record]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import describe

from zoomwatt.pipeline.zoom import zoom

RESULTS = Path(__file__).resolve().parent / "results" / "zoom_classical.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--keyframes", type=int, default=9)
    parser.add_argument("--frames-per-keyframe", type=int, default=30)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    speeds, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            result = zoom(
                prompt="benchmark",
                size=(args.size, args.size),
                keyframes=args.keyframes,
                frames_per_keyframe=args.frames_per_keyframe,
                fps=args.fps,
                out=Path(tmp) / f"zoom{repeat}.mp4",
            )
            speeds.append(result.frames_per_wall_s)
            results.append(result)
    best = results[speeds.index(statistics.median(speeds))]
    stages = {
        "inpaint_s": sum(t.inpaint_s for t in best.timings),
        "paste_s": sum(t.paste_s for t in best.timings),
        "interpolation_s": sum(t.interpolation_s for t in best.timings),
        "video_write_s": sum(t.video_write_s for t in best.timings),
    }
    record = {
        "benchmark": "zoom_classical",
        **describe(),
        "size": f"{args.size}x{args.size}",
        "keyframes": args.keyframes,
        "frames_per_keyframe": args.frames_per_keyframe,
        "frames": best.frames,
        "video_fps": args.fps,
        "frames_per_wall_s_median": round(statistics.median(speeds), 1),
        "frames_per_wall_s_all": [round(s, 1) for s in speeds],
        "realtime_factor": round(statistics.median(speeds) / args.fps, 2),
        "stage_s_of_median_run": {k: round(v, 3) for k, v in stages.items()},
        "wall_s_of_median_run": round(best.wall_s, 3),
    }
    print(json.dumps(record, indent=2))
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
