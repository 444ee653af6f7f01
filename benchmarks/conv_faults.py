"""What a convolution's fresh weight buffer costs on this CPU, against what the roofline charges.

Eager PyTorch's oneDNN convs reorder their weights into a buffer allocated at every call; glibc
maps one of 32 MiB or more afresh, and the reorder faults its pages in
(``hardware/fresh_buffers.py``). The roofline adds those weight bytes (and a plain-layout conv's
input and output bytes) at the host profile's ``memory.reorder_fault_bandwidth``, which the
calibration measures with one such conv against its conv fit, or at ``memory.spill_bandwidth``
(SiLU writing fresh outputs) where it has none. This times the UNet's deep fp32 3x3 convolutions
(plain layout, as the pipeline runs fp32 on a CPU; weight copies taken in turn, so each call reads
its weights from memory as in a UNet call) in fresh processes, each shape twice: with glibc's
default thresholds, and with ``mallopt(M_MMAP_THRESHOLD, 1 GiB)`` and ``M_TRIM_THRESHOLD`` 2 GiB,
which let glibc recycle the buffer. The difference is the faults: weight bytes / difference is the
fault rate, against what the host profile (``--profile``, default the cache's ``host.yaml``;
calibrated if absent) charges for the weights (its buffer and rates; the convs' 4x4 and 8x8
activations fault none). ``--processes`` fresh processes per shape and mode, the median call of
each; the spread across processes is printed too (at 1024 channels, 36 MiB of weights, a call took
7 to 66 ms across five processes on the AMD EPYC Zen 4, 2026-12-04).

    .venv/bin/python benchmarks/conv_faults.py [--processes 3] [--calls 8] [--record]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

RESULTS = Path(__file__).resolve().parent / "results" / "conv_faults.jsonl"
# (channels in, channels out, side, batch): the UNet's 1280-channel levels at 256 px with CFG,
# and the calibration's small-reuse conv (896 channels, below the 32 MiB threshold)
SHAPES = ((896, 896, 4, 2), (1280, 1280, 4, 2), (1280, 1280, 8, 2), (2560, 1280, 4, 2))
COPIES = 4
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def child(shape: tuple[int, ...], recycled: bool, calls: int) -> dict:
    """One fresh process's median call of the conv ``shape`` (after one untimed)."""
    if recycled:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        if not (
            libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(M_TRIM_THRESHOLD, 2 << 30)
        ):
            raise SystemExit("mallopt refused the thresholds")
    import torch

    cin, cout, side, batch = shape
    gen = torch.Generator().manual_seed(0)
    convs = [torch.nn.Conv2d(cin, cout, 3, padding=1) for _ in range(COPIES)]
    x = torch.randn(batch, cin, side, side, generator=gen)
    times = []
    with torch.inference_mode():
        convs[0](x)
        for i in range(calls):
            start = time.perf_counter()
            convs[(i + 1) % COPIES](x)
            times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "threads": torch.get_num_threads()}


def in_fresh_process(shape: tuple[int, ...], recycled: bool, calls: int) -> dict:
    command = [sys.executable, __file__, "--child", ",".join(map(str, shape)), "--calls",
               str(calls)] + (["--recycled"] if recycled else [])  # fmt: skip
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def host_profile(path: str | None):
    """The host profile to hold the faults against, and where it came from."""
    from zoomwatt.hardware.host_calibration import load_host_profile
    from zoomwatt.hardware.host_probe import make_probe
    from zoomwatt.hardware.loader import load_profile_file

    profile = load_profile_file(path) if path else load_host_profile(probe=make_probe("cpu"))
    calibrated = (profile.calibration or {}).get("date", "")
    return profile, f"{path or 'the cached host profile'} (calibrated {calibrated})"


def roofline_faults_s(profile, weight_bytes: int) -> float:
    """What the roofline charges for a conv's fresh weight buffer on ``profile`` (eager, where
    the calibration priced those faults apart): its bytes at the roofline's reorder rate if at
    least the buffer."""
    from zoomwatt.hardware.fresh_buffers import fresh_buffer_fault_s
    from zoomwatt.perfmodel import device_params
    from zoomwatt.perfmodel.roofline import reorder_bandwidth

    params = device_params(profile)
    if not params.fresh_conv_weights:
        return 0.0
    buffer, rate = params.on_chip_buffer_bytes, reorder_bandwidth(params)
    return float(fresh_buffer_fault_s(weight_bytes, buffer, rate))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=3, help="fresh processes per mode")
    parser.add_argument("--calls", type=int, default=8, help="timed calls per process")
    parser.add_argument("--profile", default=None, help="host profile YAML (default: the cache)")
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS}")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--recycled", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        shape = tuple(int(v) for v in args.child.split(","))
        print(json.dumps(child(shape, args.recycled, args.calls)))
        return 0
    if args.processes < 1 or args.calls < 3:
        parser.error(f"--processes {args.processes} --calls {args.calls}: expected >= 1 and >= 3")
    profile, source = host_profile(args.profile)
    rows = []
    for shape in SHAPES:
        cin, cout, side, batch = shape
        weight_bytes = cin * cout * 9 * 4
        by_mode: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(args.processes):  # the two modes in turn
            for recycled in (False, True):
                by_mode[recycled].append(in_fresh_process(shape, recycled, args.calls))
        default = [1e3 * r["median_s"] for r in by_mode[False]]
        recycled_ms = [1e3 * r["median_s"] for r in by_mode[True]]
        faults_ms = statistics.median(default) - statistics.median(recycled_ms)
        row = {
            "conv": f"{cin}->{cout} 3x3 at {side}x{side}, batch {batch}",
            "weight_mib": round(weight_bytes / 2**20, 1),
            "default_ms": [round(v, 2) for v in default],
            "recycled_ms": [round(v, 2) for v in recycled_ms],
            "faults_ms": round(faults_ms, 2),
            "fault_gb_per_s": round(weight_bytes / faults_ms / 1e6, 2) if faults_ms > 0 else None,
            "roofline_faults_ms": round(1e3 * roofline_faults_s(profile, weight_bytes), 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    record = {
        "benchmark": "conv_faults",
        **describe(),
        "time_utc": time.strftime("%H:%M", time.gmtime()),
        "convs": f"fp32, plain layout, {COPIES} weight copies in turn, median of {args.calls} "
        f"calls per fresh process",
        **{
            f"{name}_gb_per_s": round(q.si / 1e9, 2) if q is not None else None
            for name, q in (
                ("reorder_fault_bandwidth", profile.reorder_fault_bandwidth),
                ("spill_bandwidth", profile.spill_bandwidth),
            )
        },
        "profile_from": source,
        "shapes": rows,
    }
    if args.record:
        append_record(RESULTS, record)
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
