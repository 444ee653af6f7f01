"""Record the workload cache entries shipped with the package (src/zoomwatt/workload/data/traces).

The first ``zoomwatt analyze`` (or ``predict``, ``optimize``) after installing reads these instead
of importing torch, diffusers and transformers and tracing the models (about 9 s on a 2-core CPU).
They are the entries the commands below look up, traced here from scratch into an empty cache
folder with the shipped entries switched off, and stored gzip-compressed (no time stamp, so the
same traces give the same bytes). Run it after any change to what a trace depends on (the tracer,
the formulas, an architecture config, the zoomwatt version, the pinned libraries);
tests/workload/test_shipped_traces.py fails until you do.

    .venv/bin/python scripts/record_traces.py
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from pathlib import Path

from zoomwatt.archs.catalog import ALL_PIPELINES

#: The commands whose traces ship: every pipeline's defaults, the optimizer's default search,
#: the main job's prediction and the host check's workloads (scripts/main.sh).
COMMANDS: tuple[tuple[str, ...], ...] = (
    *(("analyze", "--pipeline", name) for name in ALL_PIPELINES),
    ("predict", "--hw", "all"),
    ("optimize", "--hw", "jetson-orin-nano"),
)


def run_commands(commands=COMMANDS) -> None:
    """Run ``commands`` in this process, their output discarded; raise if one fails."""
    from zoomwatt.cli.main import main

    for argv in commands:
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(list(argv))
        if code not in (0, None):
            raise SystemExit(f"record_traces: `zoomwatt {' '.join(argv)}` exited {code}")


def record(dest: Path) -> list[Path]:
    """Trace ``COMMANDS`` into a fresh cache folder and store its entries, compressed, in
    ``dest`` (its old entries removed). Returns the files written."""
    from zoomwatt.workload import trace_cache

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ZOOMWATT_CACHE_DIR"] = tmp
        trace_cache.SHIPPED_DIR = Path(tmp) / "none"  # trace everything afresh
        run_commands()
        entries = sorted((Path(tmp) / trace_cache.SUBDIR).glob("*.json"))
        dest.mkdir(parents=True, exist_ok=True)
        for old in dest.glob("*.json.gz"):
            old.unlink()
        written = []
        for entry in entries:
            out = dest / f"{entry.name}.gz"
            out.write_bytes(gzip.compress(entry.read_bytes(), compresslevel=9, mtime=0))
            written.append(out)
    return written


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    files = record(root / "src" / "zoomwatt" / "workload" / "data" / "traces")
    size = sum(f.stat().st_size for f in files)
    print(f"record_traces: {len(files)} entries, {size / 1e6:.2f} MB", file=sys.stderr)
