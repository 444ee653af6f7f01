"""Does the host check hold on this CPU? ``zoomwatt measure --validate`` N times in a row at
each size, in fp32 and (where the CPU computes it natively: AVX512-BF16 / AMX) in bf16.

The issue's target (issue 14, section 5): every model stage within 15% of its measurement at
256x256 / 2 steps and at 512x512 / 4 steps, on 3 consecutive runs on a quiet machine. Each run
is one host check (:mod:`zoomwatt.measurement.host_check`): the zoom for real (full-size SD2
inpainting architecture, random weights, CFG), then calibration interleaved with rounds of
every model stage, a reference kernel around each; a busy or drifting machine gives "not
comparable", not a model error. Every run appends one record to
benchmarks/results/host_check.jsonl: the CPU model and its flags, the date, the load, the
verdict and every stage's predicted and measured seconds, error, status and CPU share.

    .venv/bin/python benchmarks/host_check.py                  # 256/2 and 512/4, 3 runs each
    .venv/bin/python benchmarks/host_check.py --sizes 256:2 --runs 1 --no-record
    .venv/bin/python benchmarks/host_check.py --sizes 256:2 --dtypes fp32 --retain-memory

``--retain-memory`` measures with freed memory kept in the process and predicts so (the
``retain-memory`` lever, pipeline/allocator.py): no fresh buffer's page faults, whose cost on a
virtual machine can move with the host's memory (it did on the Zen 5 VM, 2026-12-06); the
record's ``allocator`` says which.

On a quiet 2-core CPU a 256/2 run takes about 3-4 minutes and a 512/4 run about 10-12.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

from zoomwatt.cli.measure_command import render_host_check
from zoomwatt.hardware.host_calibration import CALIBRATION_REVISION
from zoomwatt.hardware.host_probe import RECORDED_FLAGS, cpu_flags, native_cpu_dtype
from zoomwatt.measurement import ValidateOptions, validate

RESULTS = Path(__file__).resolve().parent / "results" / "host_check.jsonl"


def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        size, _, steps = item.partition(":")
        out.append((int(size), int(steps or 2)))
    return out


def _dtypes(text: str) -> list[str]:
    if text != "auto":
        return text.split(",")
    return ["fp32"] + [d for d in ("bf16",) if native_cpu_dtype(d)[0]]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _r3(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _figures(profile) -> dict | None:
    """The calibrated figures a stage's prediction moves with most (to tell, afterwards, which
    one a calibration that predicted far off measured differently)."""
    if profile is None:
        return None
    q = lambda x, scale=1.0: None if x is None else float(f"{x.si / scale:.4g}")  # noqa: E731
    return {
        "reorder_fault_gb_per_s": q(profile.reorder_fault_bandwidth, 1e9),  # as the model uses
        "conv_fault_fit": (profile.calibration or {}).get("measured", {}).get("conv_fault_fit"),
        "spill_gb_per_s": q(profile.spill_bandwidth, 1e9),
        "on_chip_buffer_mib": q(profile.on_chip_buffer, 2**20),
        "efficiency": {k: q(profile.efficiency.get(k)) for k in ("conv", "linear", "attention")},
        "reuse_half": {k: q(v) for k, v in profile.reuse_half.items()},
    }


def _record(result, run: int, runs: int, load_before: float | None) -> dict:
    check = result.host_check
    flags = cpu_flags() or frozenset()
    return {
        "benchmark": "host_check",
        **describe(),
        "utc": check.date,
        "calibration_revision": CALIBRATION_REVISION,
        "cpu_flags": {f: f in flags for f in RECORDED_FLAGS},
        "bf16": native_cpu_dtype("bf16")[1],
        "dtype": check.dtype,
        "size": check.size,
        "steps": check.steps,
        "cfg": check.cfg,
        "allocator": result.settings.get("allocator", "default"),
        "run": f"{run}/{runs}",
        "verdict": check.verdict,
        "headline": check.headline,
        "target_error_pct": check.target_error_pct,
        "worst_error_pct": check.worst_error_pct,
        "load_average_1min": {"before": load_before, "after": check.load_average_1min},
        "zoom_cpu_share": result.settings.get("cpu_share"),
        "calibrations": [
            {
                "cpu_share": c.cpu_share,
                "reference_ops_per_s": c.reference_ops_per_s,
                "stream_ops_per_s": c.stream_ops_per_s,
                "fault_bytes_per_s": c.fault_bytes_per_s,
                "problem": c.problem,
                "predicted_s": {k: _r3(v) for k, v in c.predicted_s.items()},
                "figures": _figures(c.profile),
            }
            for c in check.calibrations
        ],
        "stages": [
            {
                "name": s.name,
                "predicted_s": s.predicted_s,
                "measured_s": s.measured_s,
                "error_pct": s.error_pct,
                "status": s.status,
                "cpu_share": s.cpu_share,
                "others_cpu_share": s.others_cpu_share,
                "steal_share": s.steal_share,
                "reference_drift_pct": s.reference_drift_pct,
                "stream_drift_pct": s.stream_drift_pct,
                "clean_samples": s.clean_samples,
                "samples": len(s.samples),
                # each sample: (calibration, measured s, reference drift %, streaming drift %,
                # problem): to hold a stage's time against the two kernels afterwards
                "sample_readings": [
                    [
                        x.calibration,
                        round(x.measured_s, 4),
                        _r(x.reference_drift_pct),
                        _r(x.stream_drift_pct),
                        x.problem or "clean",
                    ]
                    for x in s.samples
                ],
            }
            for s in check.stages
        ],
        "dtype_notes": list(check.dtype_notes),
        "wall_s": round(result.wall_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256:2,512:4", help="SIZE:STEPS,...")
    parser.add_argument("--runs", type=int, default=3, help="consecutive runs per size")
    parser.add_argument("--dtypes", default="auto", help="auto: fp32, and bf16 where native")
    parser.add_argument("--keyframes", type=int, default=3, help="of the zoom, warm-up included")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--retain-memory",
        action="store_true",
        help="freed memory kept while measuring, and predicted so (the retain-memory lever)",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    summary = []
    for dtype in _dtypes(args.dtypes):
        for size, steps in _sizes(args.sizes):
            verdicts = []
            for run in range(1, args.runs + 1):
                load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
                started = time.perf_counter()
                options = ValidateOptions(
                    size=size,
                    steps=steps,
                    keyframes=args.keyframes,
                    dtype=dtype,
                    device="cpu",
                    rounds=args.rounds,
                    min_clean=min(2, args.rounds),
                    max_rounds=2 * args.rounds,
                    retain_memory=args.retain_memory,
                )
                result = validate(options, progress=lambda t: print(f"  {t}", file=sys.stderr))
                check = result.host_check
                print(f"run {run}/{args.runs}, {time.perf_counter() - started:.0f} s:")
                print("\n".join(render_host_check(check)), flush=True)
                verdicts.append(check.verdict)
                if not args.no_record:
                    append_record(RESULTS, _record(result, run, args.runs, load))
            met = all(v == "pass" for v in verdicts)
            summary.append(f"{dtype} {size}x{size}/{steps}: {verdicts} -> " + (
                f"target met on {args.runs} consecutive runs" if met else "target not shown"
            ))  # fmt: skip
    print("\n".join(["", *summary, "" if args.no_record else f"recorded in {RESULTS}"]))


if __name__ == "__main__":
    main()
