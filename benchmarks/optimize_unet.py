"""Real quantization, pruning and weight sharing on the full-size SD2 inpainting UNet.

Builds the UNet (865M parameters) with random weights drawn from a seed (no download: random
weights show the mechanics of the error, not the error of the trained model), runs it once on
seeded inputs in fp32 as the reference, then applies each lossy choice to every conv and linear
layer in turn and measures the output error (SNR, max abs error) against the reference; and
k-means weight sharing per layer (compression ratio and weight SNR per layer and in total).

The latent is 32x32 (256x256 pixels) to keep the run within a few minutes on a 2-core CPU;
the error mechanics do not depend on the latent size. ``--record`` appends the results, the
machine and the date to benchmarks/results/optimize_unet.jsonl; ``--write-table`` writes the
per-choice errors the search uses (src/zoomwatt/optimizer/data/measured_errors.json).

    .venv/bin/python benchmarks/optimize_unet.py [--latent 32] [--record] [--write-table]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from device_info import append_record, describe

from zoomwatt.archs.build import build_model
from zoomwatt.optimizer.real_error import (
    CHOICES,
    measure_choices,
    share_model,
    unet_inputs,
    weight_layers,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "optimize_unet.jsonl"
TABLE = HERE.parent / "src" / "zoomwatt" / "optimizer" / "data" / "measured_errors.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent", type=int, default=32, help="latent side (pixels / 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--choices", default=",".join(CHOICES))
    parser.add_argument("--sharing-bits", type=int, default=4, help="0: skip the per-layer study")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--write-table", action="store_true")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    t0 = time.perf_counter()
    unet = build_model("sd2-inpaint", "unet", device="cpu", seed=args.seed).eval()
    build_s = time.perf_counter() - t0
    n_params = sum(p.numel() for p in unet.parameters())
    layers = weight_layers(unet)
    print(
        f"UNet: {n_params / 1e6:.0f}M parameters, {len(layers)} conv/linear layers, "
        f"built in {build_s:.0f} s"
    )
    inputs = unet_inputs(unet, args.latent, seed=args.seed)

    t0 = time.perf_counter()
    errors = measure_choices(unet, inputs, args.choices.split(","))
    measure_s = time.perf_counter() - t0
    print(f"\n{'choice':8}  {'SNR dB':>7}  {'max abs':>8}  {'weight SNR':>10}  {'skipped':>7}  s")
    for e in errors:
        print(
            f"{e.choice:8}  {e.snr_db:7.1f}  {e.max_abs_error:8.3g}  {e.weight_snr_db:10.1f}  "
            f"{e.layers_skipped:7d}  {e.seconds:.0f}"
        )

    sharing, orig, shared, share_s = [], 0, 0, 0.0
    if args.sharing_bits:
        t0 = time.perf_counter()
        sharing = share_model(unet, args.sharing_bits)
        share_s = time.perf_counter() - t0
        orig = sum(s.original_bits for s in sharing)
        shared = sum(s.shared_bits for s in sharing)
        worst = min(sharing, key=lambda s: s.weight_snr_db)
        print(
            f"\nweight sharing, {1 << args.sharing_bits} shared values per layer (fp16 weights "
            f"and codebook): {orig / 8e6:.0f} MB -> {shared / 8e6:.0f} MB ({orig / shared:.2f}x); "
            f"weight SNR {worst.weight_snr_db:.1f}.."
            f"{max(s.weight_snr_db for s in sharing):.1f} dB per layer (worst {worst.layer}); "
            f"{share_s:.0f} s"
        )

    info = describe()
    record = {
        "benchmark": "optimize_unet",
        **info,
        "model": "SD2 inpainting UNet, full size, random weights (seed "
        f"{args.seed}, diffusers default init)",
        "params": n_params,
        "latent": f"{args.latent}x{args.latent}",
        "errors": [e.__dict__ for e in errors],
        "sharing_bits": args.sharing_bits,
        "sharing_total": {
            "original_bits": orig,
            "shared_bits": shared,
            "ratio": orig / shared if shared else None,
        },
        "sharing_per_layer": [s.__dict__ for s in sharing],
        "seconds": {"build": build_s, "measure": measure_s, "sharing": share_s},
    }
    if args.record:
        append_record(RESULTS, record)
        print(f"recorded in {RESULTS}")
    if args.write_table:
        write_table(args, info, errors, orig, shared)


def write_table(args, info, errors, orig: int, shared: int) -> None:
    """The per-choice errors the search uses. Single choices measured now replace theirs in
    ``choices`` (the header then says where and when the latest were measured; choices not
    measured now stay, from the run the table had them from); a
    combination (``a+b``) measured applied together goes to ``combined`` with its own device,
    date, seed and latent, beside those measured before."""
    old = json.loads(TABLE.read_text(encoding="utf-8")) if TABLE.is_file() else {}
    singles = [e for e in errors if "+" not in e.choice]
    combined = dict(old.get("combined", {}))
    for e in errors:
        if "+" in e.choice:
            combined[e.choice] = {
                "error_db": round(e.error_db, 2),
                "snr_db": round(e.snr_db, 2),
                "device": f"{info['cpu']}, {info['cores']} cores, torch {info.get('torch')}",
                "date": info["date"],
                "seed": args.seed,
                "latent": f"{args.latent}x{args.latent}",
            }
    if not singles:
        table = {**old, "combined": combined}
    else:
        table = {
            "model": f"full-size SD2 inpainting UNet, random weights (seed {args.seed})",
            "weights": "random (diffusers default init), not the trained model: trained weights "
            "have outliers (int4 worse) and bell-shaped distributions (pruning gentler)",
            "inputs": f"batch 1, latent {args.latent}x{args.latent} (9 channels), timestep 500, "
            "random 77x1024 text context; error against the fp32 model's output",
            "device": f"{info['cpu']}, {info['cores']} cores, torch {info.get('torch')}",
            "date": info["date"],
            "script": "benchmarks/optimize_unet.py --write-table",
            "per_layer_sharing": f"{1 << args.sharing_bits} shared values: "
            f"{orig / max(shared, 1):.2f}x on the weights (benchmarks/results/optimize_unet.jsonl)",
            "choices": {
                **old.get("choices", {}),
                **{
                    e.choice: {
                        "error_db": round(e.error_db, 2),
                        "snr_db": round(e.snr_db, 2),
                        "max_abs_error": e.max_abs_error,
                        "weight_snr_db": round(e.weight_snr_db, 2),
                        "layers_skipped": e.layers_skipped,
                        "description": e.description,
                    }
                    for e in singles
                },
            },
            "combined": combined,
        }
    TABLE.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
