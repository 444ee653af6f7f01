"""What a page fault costs on this machine, and what keeping freed memory buys a model call.

Two parts, printed as one JSON record (``--record`` appends it to
benchmarks/results/page_faults.jsonl, with the machine and the date):

- ``touch``: one byte written per 4 KiB page of a fresh private anonymous mapping of
  ``--touch-mib`` (``mmap``, small pages as PyTorch's CPU allocator gets them; numpy asks for
  huge pages at this size), in GB/s of pages: the first mapping of the process,
  then again at once (the pages just given back), then again after ``--sleep-s`` of sleep,
  ``--touches`` times each. On a virtual machine whose balloon device reports free pages to the
  host (``virtio_balloon`` with ``VIRTIO_BALLOON_F_REPORTING``, printed as ``free_page_reporting``)
  memory left free for about two seconds is given back to the host, and touching it again
  faults on the host too: the rate after sleeping is that one.
- ``model``: one model stage of SD 2 inpainting (full size, random weights, the host check's
  shapes: ``--stage`` at ``--size`` px, fp32, CFG batch 2 for the UNet), ``--calls`` timed calls
  after one untimed, in fresh processes taken in turn (``--processes`` of each mode): glibc's
  default thresholds, and freed memory kept (``zoomwatt.pipeline.allocator``, the
  ``retain-memory`` lever); per process the median call, the page faults per call (minor
  faults, ``getrusage``) and the peak resident memory.

    .venv/bin/python benchmarks/page_faults.py [--stage unet --size 256] [--record]

About 2 minutes on 2 cores at the defaults.
"""

from __future__ import annotations

import argparse
import json
import mmap
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

RESULTS = Path(__file__).resolve().parent / "results" / "page_faults.jsonl"
PAGE = 4096
BALLOON_DEVICE_ID = "0x0005"  # virtio device id of the memory balloon
BALLOON_F_REPORTING = 5  # feature bit (virtio spec 5.5.3)


def free_page_reporting() -> bool | None:
    """Whether a virtio balloon with free page reporting is bound here; None: no balloon."""
    for device in Path("/sys/bus/virtio/devices").glob("*"):
        try:
            if (device / "device").read_text().strip() != BALLOON_DEVICE_ID:
                continue
            bits = (device / "features").read_text().strip()
        except OSError:
            continue
        return len(bits) > BALLOON_F_REPORTING and bits[BALLOON_F_REPORTING] == "1"
    return None


def touch_gb_per_s(mib: int) -> float:
    """GB/s of pages of a fresh ``mib`` MiB mapping faulted in by one write per page."""
    import numpy as np

    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS  # as malloc maps: not shared memory
    with mmap.mmap(-1, mib * 2**20, flags=flags) as mapping:
        pages = np.frombuffer(mapping, dtype=np.uint8)
        start = time.perf_counter()
        pages[::PAGE] = 1
        elapsed = time.perf_counter() - start
        del pages  # the mapping closes only without views of it
    return mib * 2**20 / elapsed / 1e9


def touch_part(mib: int, touches: int, sleep_s: float) -> dict:
    first = touch_gb_per_s(mib)
    again, after_sleep = [], []
    for _ in range(touches):
        again.append(touch_gb_per_s(mib))
        time.sleep(sleep_s)
        after_sleep.append(touch_gb_per_s(mib))
    return {
        "mib": mib,
        "first_gb_per_s": round(first, 3),
        "again_gb_per_s": [round(v, 3) for v in again],
        "after_sleep_gb_per_s": [round(v, 3) for v in after_sleep],
        "sleep_s": sleep_s,
    }


def child(stage: str, size: int, retained: bool, calls: int) -> dict:
    """One fresh process's median call of ``stage``, its faults per call and peak memory."""
    setting = None
    if retained:
        from zoomwatt.pipeline.allocator import retain_freed_memory

        setting = retain_freed_memory()
        if not setting.applied:
            raise SystemExit(setting.note)
    from stage_breakdown import stage_call

    _, run = stage_call(stage, size)
    run()
    times, faults = [], []
    for _ in range(calls):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return {
        "median_s": round(statistics.median(times), 4),
        "calls_s": [round(t, 4) for t in times],
        "faults_per_call": int(statistics.median(faults)),
        "faulted_mib_per_call": round(statistics.median(faults) * PAGE / 2**20, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def in_fresh_process(stage: str, size: int, retained: bool, calls: int) -> dict:
    command = [sys.executable, __file__, "--child", stage, "--size", str(size), "--calls",
               str(calls)] + (["--retained"] if retained else [])  # fmt: skip
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, timeout=900)
    return json.loads(done.stdout.strip().splitlines()[-1])


def model_part(stage: str, size: int, processes: int, calls: int) -> dict:
    runs: dict[str, list[dict]] = {"default": [], "retained": []}
    for _ in range(processes):  # in turn, so that both modes see the same machine
        for mode in runs:
            runs[mode].append(in_fresh_process(stage, size, mode == "retained", calls))
    medians = {mode: statistics.median(r["median_s"] for r in rs) for mode, rs in runs.items()}
    return {
        "stage": stage,
        "size": size,
        "dtype": "fp32",
        "weights": "random (full size)",
        "processes": runs,
        "median_call_s": medians,
        "speedup": round(medians["default"] / medians["retained"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="unet", help="a model stage (stage_breakdown.STAGES)")
    parser.add_argument("--size", type=int, default=256, help="picture side, px")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per process")
    parser.add_argument("--processes", type=int, default=2, help="fresh processes per mode")
    parser.add_argument("--touch-mib", type=int, default=1024, help="MiB mapped per touch")
    parser.add_argument("--touches", type=int, default=3, help="touches of each kind")
    parser.add_argument("--sleep-s", type=float, default=4.0, help="sleep before a touch")
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS}")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--retained", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size, args.retained, args.calls)))
        return 0
    if args.processes < 1 or args.calls < 3 or args.touches < 1 or args.touch_mib < 1:
        parser.error("expected --processes >= 1, --calls >= 3, --touches >= 1, --touch-mib >= 1")
    record = {
        "benchmark": "page_faults",
        **describe(),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.gmtime()),
        "free_page_reporting": free_page_reporting(),
        "touch": touch_part(args.touch_mib, args.touches, args.sleep_s),
        "model": model_part(args.stage, args.size, args.processes, args.calls),
    }
    print(json.dumps(record, indent=2))
    if args.record:
        append_record(RESULTS, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
