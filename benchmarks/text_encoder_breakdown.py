"""Where the host check's text-encoder error comes from: predicted against measured, per part.

The host check (``zoomwatt measure --validate``) finds the SD 2 text encoder (OpenCLIP ViT-H
text tower, 23 layers, 77 tokens, fp32, random weights) 12-25% slower than predicted on the
Intel Xeon here, run after run, while the other stages scatter around 0. This splits one call:

- every leaf module (the linear layers, layer norms, GELU, embeddings), timed by forward hooks
  (median of ``--repeats`` calls), against the roofline's time of the same module on the host
  profile in the cache (``~/.cache/zoomwatt/host.yaml``, calibrated if absent), summed per op
  class;
- the whole call, hooks off (median of ``--calls``, interleaved with the hooked runs): what the
  leaves do not hold (attention, residual adds, reshapes, the model's Python) is the whole call
  minus the leaves, against the prediction's rest;
- scaled-dot-product attention at the text encoder's shape (16 heads, 77 tokens, 64) and at
  the calibration's (10, 1024, 64): the rate the profile's one attention efficiency assumes
  for both.

It prints a JSON record; ``--record`` appends it, with the machine and the date, to
benchmarks/results/text_encoder_breakdown.jsonl. About a minute on 2 cores.

    .venv/bin/python benchmarks/text_encoder_breakdown.py [--record]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

RESULTS = Path(__file__).resolve().parent / "results" / "text_encoder_breakdown.jsonl"
SHAPES = {"text encoder": (16, 77, 64), "calibration": (10, 1024, 64)}


def predicted_parts(profile) -> tuple[dict[str, float], dict[str, dict[str, float]], float]:
    """Per module and per op class, the roofline's seconds of one text-encoder call; and the
    whole call's (every op, the kernel overhead included)."""
    from zoomwatt.measurement.validation import predicted_by_module
    from zoomwatt.perfmodel import load_workload
    from zoomwatt.workload.spec import WorkloadSpec
    from zoomwatt.workload.stages import StageName

    spec = WorkloadSpec(size=256, steps=2, cfg=True, dtype="fp32", every=30, vae="default")
    stage = next(s for s in load_workload(spec).stages if s.name == StageName.TEXT_ENCODER)
    per_module, classes = predicted_by_module(stage, profile)
    return per_module, classes, sum(per_module.values())


def attention_rates(repeats: int) -> dict[str, float]:
    """GOP/s (operations as the formula table counts them) of SDPA at each of SHAPES."""
    import torch

    from zoomwatt.hardware.host_calibration import counted_ops

    out = {}
    with torch.inference_mode():
        for name, (heads, length, dim) in SHAPES.items():
            q = torch.randn(1, heads, length, dim)
            sdpa = torch.nn.functional.scaled_dot_product_attention
            for _ in range(3):
                sdpa(q, q, q)
            times = []
            for _ in range(repeats if length < 512 else max(3, repeats // 10)):
                start = time.perf_counter()
                sdpa(q, q, q)
                times.append(time.perf_counter() - start)
            ops = counted_ops("attention", (1, heads, length, dim))
            out[name] = round(ops / statistics.median(times) / 1e9, 1)
    return out


def measure(args: argparse.Namespace) -> dict:
    import torch

    from zoomwatt.archs.build import build_model
    from zoomwatt.archs.random_pipeline import PIPELINE
    from zoomwatt.hardware.host_calibration import load_host_profile
    from zoomwatt.hardware.host_probe import make_probe
    from zoomwatt.measurement.module_timing import time_layers

    profile = load_host_profile(probe=make_probe("cpu"), plan="quick", recalibrate=False)
    per_module, classes, whole_predicted = predicted_parts(profile)
    model = build_model(PIPELINE, "text_encoder", device="cpu", dtype="fp32", seed=1)
    ids = torch.randint(0, 49407, (1, 77), generator=torch.Generator().manual_seed(0))

    def call() -> None:
        with torch.inference_mode():
            model(ids)

    for _ in range(2):
        call()
    whole, leaves = [], defaultdict(list)
    for _ in range(args.calls):
        start = time.perf_counter()
        call()
        whole.append(time.perf_counter() - start)
        for timing in time_layers(model, call, warmup=0, repeats=1, sync=lambda: None):
            leaves[timing.module].append(timing.timing.median_s)
    measured_class: dict[str, float] = defaultdict(float)
    predicted_class: dict[str, float] = defaultdict(float)
    for module, times in leaves.items():
        if module in per_module:
            op_class = max(classes[module], key=classes[module].get)
            measured_class[op_class] += statistics.median(times)
            predicted_class[op_class] += per_module[module]
    whole_s = statistics.median(whole)
    leaves_measured = sum(measured_class.values())
    leaves_predicted = sum(predicted_class.values())
    ms = lambda s: round(1000.0 * s, 1)  # noqa: E731
    return {
        "benchmark": "text_encoder_breakdown",
        **describe(),
        "time_utc": time.strftime("%H:%M", time.gmtime()),
        "model": "SD 2 text encoder, full size, random weights, fp32, 77 tokens, one call",
        "profile_calibrated": str((profile.calibration or {}).get("date", "")),
        "whole_call_ms": {"predicted": ms(whole_predicted), "measured_median": ms(whole_s),
                          "measured_all": [ms(x) for x in whole]},
        "leaves_ms": {c: {"predicted": ms(predicted_class[c]), "measured": ms(measured_class[c])}
                      for c in sorted(measured_class, key=lambda c: -measured_class[c])},
        "rest_ms": {"predicted": ms(whole_predicted - leaves_predicted),
                    "measured": ms(whole_s - leaves_measured)},
        "attention_gop_per_s": attention_rates(args.repeats),
        "attention_gop_per_s_profile": round(
            profile.efficiency["attention"].si * profile.peak_dense["fp32"].si / 1e9, 1
        ),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5, help="whole calls and hooked calls")
    parser.add_argument("--repeats", type=int, default=200, help="SDPA calls per shape")
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS}")
    args = parser.parse_args()
    record = measure(args)
    print(json.dumps(record, indent=2))
    if args.record:
        append_record(RESULTS, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
