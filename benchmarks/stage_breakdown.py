"""Where the host check's error of a model stage comes from: predicted against measured, per op
class, for any of the SD 2 inpainting pipeline's model stages.

The host check (``zoomwatt measure --validate``) compares whole stage calls. This splits one call
of each stage asked for (full size, random weights, the host check's shapes: 256x256 by
default, CFG batch 2 for the UNet, or batch 1 with ``--no-cfg``, and the text encoder's
prompts, two with CFG, taken one call at a time; fp32, or ``--dtype bf16``; convolutions counted
as the kernel this CPU's PyTorch runs them with, as the lever check does: since 2026-12-04, so the
VAE's few batch-1 latent-sized convolutions of earlier records were priced as oneDNN's):

- every leaf module (convolutions, linear layers, norms, activations, embeddings), timed by
  forward hooks (median over ``--calls`` hooked calls), against the roofline's time of the same
  module on the host profile in the cache (``~/.cache/zoomwatt/host.yaml``, calibrated if
  absent; with ``--dtype bf16`` one calibrated now in bf16, as the bf16 host check does, and
  not cached), summed per op class (a module's class: the class of most of its predicted time),
  and with ``--by-shape`` per module type and weight shape too (``by_weight_shape_ms``);
- with ``--by-op``, per aten op: every op of ``--calls`` more calls timed by a dispatch mode,
  against the roofline's records of that op (``by_op_ms``): what the rest is made of;
- the whole call, hooks off (median of ``--calls``, interleaved with the hooked calls): what the
  leaves do not hold (attention, residual adds, reshapes, the model's Python) is the whole call
  minus the leaves, against the prediction's rest.

It prints a JSON record per stage; ``--record`` appends them, with the machine and the date, to
benchmarks/results/stage_breakdown.jsonl (the text encoder's records before 2026-12-03 are in
text_encoder_breakdown.jsonl, made by this script's first version). A few minutes on 2 cores.

    .venv/bin/python benchmarks/stage_breakdown.py [--stages unet,vae_decoder] [--record]
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

RESULTS = Path(__file__).resolve().parent / "results" / "stage_breakdown.jsonl"
STAGES = ("text_encoder", "vae_encoder", "unet", "vae_decoder")


def _spec(size: int, dtype: str = "fp32", cfg: bool = True):
    from zoomwatt.workload.spec import WorkloadSpec

    return WorkloadSpec(size=size, steps=2, cfg=cfg, dtype=dtype, every=30, vae="default")


def predicted_parts(stage_name: str, profile, size: int, dtype: str = "fp32", cfg: bool = True):
    """Per module and per module and op class, the roofline's seconds of one call of the stage;
    and the whole call's (every op, the kernel overhead included). Convolutions are counted as
    the kernel this CPU's PyTorch runs them with (im2col + GEMM, the linear class, for a small
    batch-1 input: ``measurement/conv_kernels.py``), as the lever check predicts them."""
    from zoomwatt.measurement.lever_workload import lever_stages
    from zoomwatt.measurement.validation import predicted_by_module

    spec = _spec(size, dtype, cfg)
    stages = lever_stages(spec, (), host_kernels=True)
    stage = next(s for s in stages if str(s.name) == stage_name)
    per_module, classes = predicted_by_module(stage, profile)
    return per_module, classes, sum(per_module.values()), stage


def predicted_by_op(stage, profile) -> dict[str, list]:
    """aten op -> [records, roofline seconds] of one call of ``stage`` on ``profile``."""
    from zoomwatt.measurement.validation import layer_seconds

    out: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for layer, seconds in layer_seconds(stage, profile):
        name = layer.op.split("[")[0]  # a record's part ("aten.x[im2col]") under its op
        out[name][0] += 1
        out[name][1] += seconds
    return out


def measured_by_op(call, calls: int) -> dict[str, list]:
    """aten op -> [calls of it in one stage call, median seconds per stage call]: each aten
    op ``call`` dispatches, timed by a dispatch mode at the level the tracer counts records
    (``str(func)``, e.g. ``aten.add.Tensor``); a few microseconds of Python per op on top."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Timed(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: dict[str, float] = defaultdict(float)
            self.counts: dict[str, int] = defaultdict(int)

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            start = time.perf_counter()
            out = func(*args, **(kwargs or {}))
            self.seconds[str(func)] += time.perf_counter() - start
            self.counts[str(func)] += 1
            return out

    runs = []
    for _ in range(calls):
        with Timed() as mode:
            call()
        runs.append(mode)
    names = set().union(*(r.seconds for r in runs))
    return {n: [runs[0].counts.get(n, 0), statistics.median(r.seconds.get(n, 0.0) for r in runs)]
            for n in names}  # fmt: skip


def _by_op(stage, profile, call, calls: int) -> list[dict]:
    """Predicted against measured ms per aten op of one call, the largest measured first."""
    predicted, measured = predicted_by_op(stage, profile), measured_by_op(call, calls)
    rows = []
    for name in set(predicted) | set(measured):
        records, pred_s = predicted.get(name, [0, 0.0])
        count, meas_s = measured.get(name, [0, 0.0])
        if max(pred_s, meas_s) < 1e-4:  # under 0.1 ms both: views, shape ops
            continue
        rows.append(
            {
                "op": name,
                "records": records,
                "calls": count,
                "predicted": round(1e3 * pred_s, 1),
                "measured": round(1e3 * meas_s, 1),
            }
        )
    return sorted(rows, key=lambda r: -r["measured"])  # fmt: skip


def stage_call(stage_name: str, size: int, dtype: str = "fp32", cfg: bool = True):
    """The model of ``stage_name`` (random weights, in ``dtype``, on the CPU) and a function
    making one call of it at the host check's shapes."""
    import torch

    from zoomwatt.archs.build import build_model
    from zoomwatt.archs.calls import call_shapes, pipeline_calls
    from zoomwatt.archs.random_pipeline import PIPELINE
    from zoomwatt.workload.conv_layout import channels_last_convs

    spec = _spec(size, dtype, cfg)
    call = next(c for c in pipeline_calls(spec.arch, cfg) if c.stage == stage_name)
    model = build_model(PIPELINE, call.component, device="cpu", dtype=dtype, seed=1)
    if channels_last_convs("cpu", dtype):  # as the pipeline runs it
        model.to(memory_format=torch.channels_last)
    floating = next(model.parameters()).dtype
    shapes = call_shapes(spec.arch, stage_name, call.batch(spec.batch), size)
    gen = torch.Generator().manual_seed(0)
    args = []
    for name, shape in shapes.items():
        if name == "input_ids":
            args.append(torch.randint(0, 49407, shape, generator=gen))
        elif name == "timestep":
            args.append(torch.tensor(500.0))
        else:
            args.append(torch.randn(shape, generator=gen).to(floating))
    bound = model if call.method is None else getattr(model, call.method)

    def run() -> None:
        with torch.inference_mode():
            bound(*args)

    return model, run


def measure_stage(stage_name: str, profile, args: argparse.Namespace) -> dict:
    from zoomwatt.measurement.module_timing import time_layers

    per_module, classes, whole_predicted, stage = predicted_parts(
        stage_name, profile, args.size, args.dtype, not args.no_cfg
    )
    model, call = stage_call(stage_name, args.size, args.dtype, not args.no_cfg)
    call()  # warm-up: first-call allocations and kernel choices
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
    record_shapes = _by_weight_shape(model, call, leaves, per_module) if args.by_shape else None
    record_ops = _by_op(stage, profile, call, args.calls) if args.by_op else None
    whole_s = statistics.median(whole)
    leaves_measured = sum(measured_class.values())
    leaves_predicted = sum(predicted_class.values())
    ms = lambda s: round(1000.0 * s, 1)  # noqa: E731
    return {
        "benchmark": "stage_breakdown",
        **describe(),
        "time_utc": time.strftime("%H:%M", time.gmtime()),
        "stage": stage_name,
        "model": f"SD 2 inpainting {stage_name}, full size, random weights, {args.dtype}, "
                 f"{args.size} px, {'no CFG (batch 1)' if args.no_cfg else 'CFG'}, one call",
        "profile_calibrated": str((profile.calibration or {}).get("date", "")),
        "whole_call_ms": {"predicted": ms(whole_predicted), "measured_median": ms(whole_s),
                          "measured_all": [ms(x) for x in whole]},
        "leaves_ms": {c: {"predicted": ms(predicted_class[c]), "measured": ms(measured_class[c])}
                      for c in sorted(measured_class, key=lambda c: -measured_class[c])},
        "rest_ms": {"predicted": ms(whole_predicted - leaves_predicted),
                    "measured": ms(whole_s - leaves_measured)},
        **({"by_weight_shape_ms": record_shapes} if record_shapes is not None else {}),
        **({"by_op_ms": record_ops} if record_ops is not None else {}),
    }  # fmt: skip


def _by_weight_shape(model, call, leaves: dict, per_module: dict) -> list[dict]:
    """The leaf modules grouped by their type and weight shape, and a convolution's input too
    (``Conv2d 1280x2560x3x3 in 2x2560x4x4``, from one more call with hooks on the convs): how
    many, predicted and measured ms summed (median call of each), the largest measured first;
    where in a stage the op-class totals' error sits."""
    from zoomwatt.measurement.conv_kernels import conv_calls

    inputs = {name: c.input_shape for name, c in conv_calls(model, call).items()}
    groups: dict[str, dict] = {}
    modules = dict(model.named_modules())
    for name, times in leaves.items():
        if name not in per_module or name not in modules:
            continue
        weight = getattr(modules[name], "weight", None)
        shape = "x".join(map(str, weight.shape)) if weight is not None else "-"
        key = f"{type(modules[name]).__name__} {shape}"
        if name in inputs:
            key += " in " + "x".join(map(str, inputs[name]))
        group = groups.setdefault(key, {"module": key, "count": 0, "predicted": 0.0,
                                        "measured": 0.0})  # fmt: skip
        group["count"] += 1
        group["predicted"] += 1000.0 * per_module[name]
        group["measured"] += 1000.0 * statistics.median(times)
    ordered = sorted(groups.values(), key=lambda g: -g["measured"])
    return [dict(g, predicted=round(g["predicted"], 1), measured=round(g["measured"], 1))
            for g in ordered]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages")
    parser.add_argument("--size", type=int, default=256, help="picture side, px")
    parser.add_argument("--calls", type=int, default=5, help="whole calls and hooked calls")
    parser.add_argument(
        "--dtype",
        default="fp32",
        choices=("fp32", "bf16"),
        help="bf16: op classes calibrated in bf16, as the bf16 host check does",
    )
    parser.add_argument(
        "--no-cfg", action="store_true", help="the UNet at batch 1, as the no-cfg lever runs it"
    )
    parser.add_argument(
        "--by-shape",
        action="store_true",
        help="also the leaf modules grouped by type and weight shape (by_weight_shape_ms)",
    )
    parser.add_argument(
        "--by-op",
        action="store_true",
        help="also per aten op, every op of a call timed by a dispatch mode (by_op_ms)",
    )
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS}")
    args = parser.parse_args()
    stages = args.stages.split(",")
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"--stages: {unknown} not among {STAGES}")
    from zoomwatt.hardware.host_calibration import load_host_profile
    from zoomwatt.hardware.host_probe import make_probe

    reference = None if args.dtype == "fp32" else args.dtype  # bf16: calibrated now, not cached
    profile = load_host_profile(probe=make_probe("cpu"), plan="quick", reference_dtype=reference)
    for stage_name in stages:
        record = measure_stage(stage_name, profile, args)
        print(json.dumps(record, indent=2), flush=True)
        if args.record:
            append_record(RESULTS, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
