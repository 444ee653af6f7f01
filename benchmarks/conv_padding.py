"""Do a stack's convolutions compute the taps that fall on padding? A 3x3 convolution with
padding 1 on a small feature map (the SD2 UNet's deepest levels: 4x4, 2x2 and 1x1 at 128 or
64 px) against the same convolution without padding on a map 2 pixels larger (the same output,
every tap on real input), side by side, for eager PyTorch and for OpenVINO's CPU plugin (fp32,
2 threads, batch 2 as with CFG, weights cycled through 4 copies as in the host calibration).

If a stack skips out-of-bounds taps, padded / full falls to the fraction of taps in bounds (1/9
for a 1x1 output); if it computes them (im2col, implicit GEMM), it stays near 1. The
performance model counts every tap (``torch.utils.flop_counter``'s convention): where a stack
skips them, its convolutions at small maps run faster than predicted (issue 15's openvino lever
at 64 px). Each run appends a record to benchmarks/results/conv_padding.jsonl.

    .venv/bin/python benchmarks/conv_padding.py [--no-record]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

RESULTS = Path(__file__).resolve().parent / "results" / "conv_padding.jsonl"
SHAPES = ((1280, 1), (1280, 2), (1280, 4), (640, 8), (320, 16))  # (channels, output side)
BATCH, COPIES, REPEATS = 2, 4, 9


def in_bounds_fraction(side: int, kernel: int = 3, pad: int = 1) -> float:
    """Of a kernel x kernel conv's taps over a side x side output (stride 1), those on input."""
    per_axis = sum(
        min(o - pad + kernel - 1, side - 1) - max(o - pad, 0) + 1 for o in range(side)
    ) / (kernel * side)
    return per_axis * per_axis


def _median_s(run) -> float:
    for _ in range(2):
        run()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / COPIES


def eager_s(channels: int, side_in: int, pad: int) -> float:
    import torch

    convs = [torch.nn.Conv2d(channels, channels, 3, padding=pad) for _ in range(COPIES)]
    x = torch.randn(BATCH, channels, side_in, side_in)
    with torch.inference_mode():
        return _median_s(lambda: [c(x) for c in convs])


def openvino_s(channels: int, side_in: int, pad: int) -> float:
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    from zoomwatt.pipeline.backends.openvino_stage import cpu_config

    core, requests = ov.Core(), []
    for seed in range(COPIES):
        x = ops.parameter([BATCH, channels, side_in, side_in], np.float32)
        w = np.random.default_rng(seed).standard_normal((channels, channels, 3, 3))
        y = ops.convolution(
            x, ops.constant(w.astype(np.float32)), [1, 1], [pad, pad], [pad, pad], [1, 1]
        )
        model = ov.Model([y], [x])
        requests.append(core.compile_model(model, "CPU", cpu_config(2)).create_infer_request())
    shape = (BATCH, channels, side_in, side_in)
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return _median_s(
        lambda: [r.infer([data], share_inputs=True, share_outputs=True) for r in requests]
    )


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = []
    for channels, side in SHAPES:
        row = {"channels": channels, "side": side, "in_bounds": in_bounds_fraction(side)}
        for stack, fn in (("eager", eager_s), ("openvino", openvino_s)):
            padded, full = fn(channels, side, 1), fn(channels, side + 2, 0)
            row[stack] = {"padded_ms": padded * 1e3, "full_ms": full * 1e3, "ratio": padded / full}
        rows.append(row)
        print(
            f"{channels:5} ch, {side:2}x{side:<2} output: taps in bounds {row['in_bounds']:.2f}; "
            f"padded / full: eager {row['eager']['ratio']:.2f} "
            f"({row['eager']['padded_ms']:.2f} / {row['eager']['full_ms']:.2f} ms), openvino "
            f"{row['openvino']['ratio']:.2f} ({row['openvino']['padded_ms']:.2f} / "
            f"{row['openvino']['full_ms']:.2f} ms)"
        )
    if not args.no_record:
        import openvino

        record = {"benchmark": "conv_padding", **describe(), "openvino": openvino.__version__}
        append_record(RESULTS, record | {"utc": time.strftime("%H:%M"), "rows": rows})
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
