"""How long does characterizing the full SD2 inpainting pipeline take? (Target: under 2 s.)

Times :func:`zoomwatt.workload.characterize` at 512x512 (text encoder, VAE encoder, UNet at
batch 2, VAE decoder and frame ops: every model built on the meta device and traced): the first
call in a fresh process, then ``--repeats`` calls with the model and trace caches cleared (each
builds and traces everything again; the median is the figure), then one cached call. Imports
(torch, diffusers, transformers) are timed apart: they are paid once per process. Then 2048x2048,
with the process's peak resident memory, to show no activation is allocated. ``--record``
appends the figures, the machine and the date to benchmarks/results/analyze_speed.jsonl.
The workload cache on disk is bypassed (``cache=False``): this times the tracing itself.

    .venv/bin/python benchmarks/analyze_speed.py [--repeats 5] [--record]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

RESULTS = Path(__file__).resolve().parent / "results" / "analyze_speed.jsonl"
TARGET_S = 2.0


def _clear_caches() -> None:
    from zoomwatt.workload import characterize_pipeline

    characterize_pipeline._trace.cache_clear()
    characterize_pipeline._model.cache_clear()


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    import diffusers.models.autoencoders.autoencoder_kl
    import diffusers.models.autoencoders.autoencoder_tiny
    import diffusers.models.unets.unet_2d_condition  # noqa: F401
    import transformers.models.clip.modeling_clip  # noqa: F401

    from zoomwatt.workload import characterize

    import_s = time.perf_counter() - start

    first_s, report = _timed(characterize, cache=False)
    uncached = []
    for _ in range(args.repeats):
        _clear_caches()
        uncached.append(_timed(characterize, cache=False)[0])
    cached_s = _timed(characterize, every=5, fps=24.0, cache=False)[0]
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _clear_caches()
    big_s, big = _timed(characterize, size=2048, cache=False)
    rss_after_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    median = statistics.median(uncached)
    result = {
        "benchmark": "analyze_speed",
        **describe(),
        "pipeline": "sd2-inpaint",
        "size": 512,
        "ops_traced": sum(len(s.layers) for s in report.stages[:4]),
        "characterize_s_median_uncached": round(median, 3),
        "characterize_s_all_uncached": [round(t, 3) for t in uncached],
        "characterize_s_first_call": round(first_s, 3),
        "characterize_s_cached": round(cached_s, 4),
        "imports_s": round(import_s, 2),
        "target_s": TARGET_S,
        "meets_target": median < TARGET_S,
        "size_2048_s": round(big_s, 3),
        "size_2048_peak_activation_bytes_counted": max(s.peak_activation_bytes for s in big.stages),
        "max_rss_mb_before_2048": round(rss_before_mb),
        "max_rss_mb_after_2048": round(rss_after_mb),
    }
    print(
        f"characterize(sd2-inpaint, 512x512): {median:.2f} s median of {args.repeats} uncached "
        f"calls ({', '.join(f'{t:.2f}' for t in uncached)}); first call {first_s:.2f} s; "
        f"cached {cached_s * 1000:.1f} ms; imports {import_s:.1f} s (once per process)"
    )
    print(f"target < {TARGET_S:g} s: {'met' if median < TARGET_S else 'MISSED'}")
    print(
        f"2048x2048: {big_s:.2f} s; max RSS {rss_before_mb:.0f} MB -> {rss_after_mb:.0f} MB "
        f"while counting a {big.stage('vae_decoder').peak_activation_bytes / 1e9:.1f} GB "
        "activation peak"
    )
    if args.record:
        append_record(RESULTS, result)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
