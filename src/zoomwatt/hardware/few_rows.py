"""How fast a GEMM reads its weights when only a few rows share them, measured on this CPU.

The reuse fit of the conv and linear classes (``compute.reuse_half``, host_calibration) is made
at 77 and 512 rows (32 and 4096 for the conv). Below that, MKL's GEMM changes kernels: with one
row it is a matrix-vector product that streams the weights at the memory's rate, with 2 to 8 it
reads them at a fraction of it, flat in the row count, and in a native convolution's layout
(the weights times the im2col columns) slower than in a linear layer's
(benchmarks/results/gemm_rows.md: 8.2-8.4 GB/s against 12-13.5 at 2-8 rows on the AMD EPYC Zen
5, 2026-12-04; 5-6 against 9-11 on the Zen 4). Where that is slower than the fit extrapolates,
the fit prices those layers too fast: a batch-1 UNet's deepest convolutions at 128 px, which
PyTorch runs natively at 4 rows, took 6.9 ms each against 3.5 predicted (2026-12-04 21:11 UTC).

The fit is also unsteady there: made at 77 rows with 4 MB weights, its reuse_half read 17 to 60
rows between calibrations on the Zen 5, which put the same 4-row conv at 3.5 and at 8.1 ms.

So the calibration times, on a CPU, a GEMM of a 1280-channel 3x3 convolution's weights (11520 x
1280, 59 MB in fp32: beyond the cache, as a deep layer's are) at each of :data:`ROWS` in both
layouts, with cold weights, and the profile keeps the weights' rate per row count
(``compute.few_rows``); the roofline prices a layer within those rows by its weight bytes at
that rate instead of the fit (:func:`~zoomwatt.perfmodel.roofline.few_rows_s`). No row
threshold is assumed: the rates are this machine's, at the rows the model meets them.
"""

from __future__ import annotations

import logging
from typing import Any

from zoomwatt.workload.records import DTYPE_BYTES

log = logging.getLogger(__name__)

#: The row counts timed: from a matrix-vector product up to 64, below the linear class's small
#: point (77 rows); from 65 rows on the reuse fit prices a layer again. Timed once each, after
#: the calibration's interleaved rounds (about 0.1 s a point, 0.2 s of weight copies each)
ROWS = (1, 2, 4, 8, 16, 32, 64)
#: (in x kh x kw, out) of the weights timed: a 1280-channel 3x3 convolution's, a UNet's deepest
WEIGHTS = (11520, 1280)
#: The layouts (schema.FEW_ROWS_LAYOUTS) and the probe method that times each
_PROBES = {"conv": "conv_gemm_ops_per_s", "linear": "gemm_ops_per_s"}


def measure_few_rows(
    probe: Any,
    dtype: str,
    cold_bytes: int,
    min_time_s: float,
    rows: tuple[int, ...] = ROWS,
    weights: tuple[int, int] = WEIGHTS,
) -> dict[str, Any] | None:
    """The weights' bytes/s of a ``dtype`` GEMM of ``weights`` at each of ``rows``, per layout,
    cycling through ``cold_bytes`` of weight copies; None off a CPU or where no layout ran."""
    if probe.kind != "cpu" or dtype not in DTYPE_BYTES:
        return None
    k, n = weights
    weight_bytes = k * n * DTYPE_BYTES[dtype]
    rates: dict[str, dict[str, float]] = {}  # layout -> rows (as text: a YAML key) -> B/s
    for layout, method in _PROBES.items():
        timed = getattr(probe, method)
        by_rows = {}
        for m in rows:
            ops_per_s = timed(dtype, (m, k, n), min_time_s, cold_bytes)
            if ops_per_s:  # seconds = 2 m k n / OP/s; the weights' rate = their bytes / seconds
                by_rows[str(m)] = weight_bytes * ops_per_s / (2.0 * m * k * n)
        if by_rows:
            rates[layout] = by_rows
    if not rates:
        log.info("few-rows GEMM not measurable in %s here", dtype)
        return None
    return {"dtype": dtype, "weights": [k, n], "bytes_per_s": rates}


def few_rows_section(measured: dict[str, Any] | None, how: str) -> dict[str, Any] | None:
    """``compute.few_rows`` of the profile (schema.FewRowsGemm) from :func:`measure_few_rows`'s
    answer; ``how``: the calibration's source text."""
    if not measured:
        return None
    k, n = measured["weights"]
    dtype = measured["dtype"]
    mb = k * n * DTYPE_BYTES[dtype] / 1e6
    what = {
        "conv": "weights @ columns (a native convolution's GEMM)",
        "linear": "a linear layer with a bias",
    }
    section: dict[str, Any] = {"dtype": dtype}
    for layout, by_rows in measured["bytes_per_s"].items():
        section[layout] = {
            m: {
                "value": round(rate / 1e9, 3),
                "unit": "GB/s",
                "source": f"{how}: {dtype} GEMM, {what[layout]}, {n} x {k} weights ({mb:.0f} MB, "
                f"cold) at {m} rows, weight bytes / median call",
            }
            for m, rate in by_rows.items()
        }
    return section
