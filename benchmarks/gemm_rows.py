"""How fast this CPU's GEMM streams cold weights when it has few rows to reuse them on.

A UNet at 128 px without guidance runs its deepest levels at 2x2 latents, batch 1: PyTorch
takes its native im2col + GEMM for those convolutions (``measurement/conv_kernels.py``), and the
GEMM then multiplies 59 MB of weights (1280 x 1280 x 3 x 3, fp32) by 4 columns. The performance
model prices that GEMM with the calibrated linear class, whose small-reuse point is 77 rows (a
text encoder's) and whose roofline floor is the weights at the memory bandwidth. This times the
GEMM itself at 1 to 128 rows, with weight copies taken in turn so that each call reads its
weights from memory (as many 59 MB copies as the quick calibration's linear class cycles
through: ``host_calibration.cold_weight_bytes``, twice the last-level cache the OS reports, the
plan's ``cold_bytes_max`` where it reports none; at least four), in the two layouts eager
PyTorch uses: a convolution's (weights @ columns, ``torch.mm``) and a linear layer's (``F.linear``:
rows @ weights^T). Median of ``--calls`` calls; GB/s = weight bytes / seconds.

    .venv/bin/python benchmarks/gemm_rows.py [--calls 12] [--record]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

RESULTS = Path(__file__).resolve().parent / "results" / "gemm_rows.jsonl"
OUT, K = 1280, 1280 * 9  # a 1280-channel 3x3 convolution's weights as a GEMM operand
ROWS = (1, 2, 4, 8, 16, 32, 64, 128)
MIN_COPIES = 4


def weight_copies(weight_bytes: int) -> tuple[int, int | None]:
    """How many weight copies to cycle through here, and the cache size that says so."""
    from zoomwatt.hardware.host_calibration import PLANS, cold_weight_bytes
    from zoomwatt.hardware.host_probe import make_probe

    probe = make_probe("cpu")
    cache = probe.cache_bytes()
    most = PLANS["quick"].cold_bytes_max  # the plan a host profile is calibrated with
    cold = cold_weight_bytes("linear", cache, probe.memory_bytes(), most)
    return max(MIN_COPIES, math.ceil(cold / weight_bytes)), cache


def median_call_s(fn, calls: int, copies: int) -> float:
    """Median seconds of ``calls`` calls of ``fn(i)`` after one untimed; call ``i`` takes weight
    copy ``(i + 1) % copies``, so the first timed call does not reuse the warm-up's copy."""
    fn(0)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        fn((i + 1) % copies)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=12, help="timed calls per shape")
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS}")
    args = parser.parse_args()
    if args.calls < 3:
        parser.error(f"--calls: {args.calls} is too few; expected at least 3")
    import torch

    weight_bytes = OUT * K * 4
    copies, cache = weight_copies(weight_bytes)
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(OUT, K, generator=gen) for _ in range(copies)]
    rows_out = []
    with torch.inference_mode():
        for n in ROWS:
            cols, x = torch.randn(K, n, generator=gen), torch.randn(n, K, generator=gen)
            conv_s = median_call_s(lambda i, c=cols: torch.mm(weights[i], c), args.calls, copies)
            linear_s = median_call_s(
                lambda i, v=x: torch.nn.functional.linear(v, weights[i]), args.calls, copies
            )
            rows_out.append({
                "rows": n,
                "conv_layout_ms": round(1e3 * conv_s, 2),
                "conv_layout_gb_per_s": round(weight_bytes / conv_s / 1e9, 1),
                "linear_layout_ms": round(1e3 * linear_s, 2),
                "linear_layout_gb_per_s": round(weight_bytes / linear_s / 1e9, 1),
            })  # fmt: skip
            r = rows_out[-1]
            print(
                f"rows {n:4d}  weights @ columns {r['conv_layout_ms']:7.2f} ms "
                f"({r['conv_layout_gb_per_s']:5.1f} GB/s)   linear {r['linear_layout_ms']:7.2f} ms "
                f"({r['linear_layout_gb_per_s']:5.1f} GB/s)",
                flush=True,
            )
    record = {
        "benchmark": "gemm_rows",
        **describe(),
        "time_utc": time.strftime("%H:%M", time.gmtime()),
        "threads": torch.get_num_threads(),
        "gemm": f"fp32, {OUT} x {K} weights ({weight_bytes / 1e6:.1f} MB), {copies} copies in turn",
        "cache_bytes": cache,
        "calls": args.calls,
        "rows": rows_out,
    }
    if args.record:
        append_record(RESULTS, record)
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
