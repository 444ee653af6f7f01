"""How far is the performance model from a measured keyframe on this machine?

Runs ``zoomwatt measure --validate`` (the full-size SD2 inpainting architecture with random
weights, default 256x256, 2 DDIM steps with CFG, 4 keyframes of which 1 is warm-up) and prints,
per stage and for the whole keyframe, predicted against measured latency with the error in
percent. ``--record`` appends the figures, the machine and the date to
benchmarks/results/measure_validate.jsonl. The result says how much of its threads' CPU time the
process got: below about 80% another program competed for the cores and the timings are not
those of a quiet machine (record them only on a quiet one).

    .venv/bin/python benchmarks/measure_validate.py [--size 256] [--steps 2] [--record]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

from zoomwatt.cli.measure_command import render
from zoomwatt.measurement import ValidateOptions, validate

RESULTS = Path(__file__).resolve().parent / "results" / "measure_validate.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--keyframes", type=int, default=4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--per-layer", action="store_true")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    options = ValidateOptions(
        size=args.size,
        steps=args.steps,
        keyframes=args.keyframes,
        device=args.device,
        per_layer=args.per_layer,
    )
    result = validate(options, progress=lambda text: print(f"  {text}", file=sys.stderr))
    print(render(result))
    record = {
        "benchmark": "measure_validate",
        **describe(),
        "device": result.device,
        "settings": result.settings,
        "worst_error_pct": result.worst_error_pct,
        "within_target": result.within_target,
        "target_error_pct": result.target_error_pct,
        "stages": [
            {
                "name": s.name,
                "predicted_latency_s": s.predicted_latency_s,
                "measured_latency_s": s.measured_latency_s,
                "error_pct": s.error_pct,
                "in_target": s.in_target,
            }
            for s in (*result.stages, result.keyframe)
        ],
        "energy": result.energy_note or result.energy_meter,
        "wall_s": round(result.wall_s, 1),
    }
    if args.record:
        append_record(RESULTS, record)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
