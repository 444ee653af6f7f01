"""Does each optimization buy what the performance model predicts, on this machine?

Runs ``zoomwatt measure --levers ... --validate`` (or ``--plan P.json --validate``): the
full-size SD2 inpainting architecture with random weights, the baseline (lean keyframe path,
DDIM, CFG, fp32) and each lever alone and combined, interleaved (one warm-up each, then
``--rounds`` rounds, medians), and prints per lever the predicted speed-up (performance model on
the calibrated host profile, for the lever's own traced workload), the measured one and the
error. Targets (issue 15): each runnable lever within 15%, the combined levers within 20%.
``--record`` appends the figures, the machine and the date to benchmarks/results/levers.jsonl
(record only on a quiet machine: the result says how many CPU cores the process got).

    .venv/bin/python benchmarks/levers.py [--levers a,b] [--plan p.json] [--size 128]
        [--steps 4] [--rounds 3] [--record]

On a CUDA machine the CUDA levers run too:

    python benchmarks/levers.py --device cuda --size 512 --steps 20 \
        --levers fp16,compile,no-cfg,steps=10,taesd,deepcache=3,tome=0.5,2:4 --record
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

from zoomwatt.cli.measure_levers import compute_levers, render, to_json
from zoomwatt.measurement.lever_check import DEFAULT_LEVERS

RESULTS = Path(__file__).resolve().parent / "results" / "levers.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levers", default=None, help=f"default: {DEFAULT_LEVERS}")
    parser.add_argument("--plan", default=None)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--frames-per-keyframe", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep-calibration", action="store_true")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if args.plan is None and args.levers is None:
        args.levers = DEFAULT_LEVERS
    args.validate, args.quiet, args.skip_unavailable = True, False, False

    result = compute_levers(args)
    print(render(result))
    record = {"benchmark": "levers", **describe(), **to_json(result)}
    if args.record:
        append_record(RESULTS, record)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
