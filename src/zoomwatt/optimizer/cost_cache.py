"""The optimizer's per-call costs kept on disk, so that a second ``optimize`` on the same device
skips the cost model (about four fifths of a warm run: 288 layer tables timed at every
operating point).

An entry holds the arrays of step 1 of :func:`zoomwatt.optimizer.search.explore` (the latency
and energy of one call of each model stage over structure, compression, operating point and
frequency mode; the calls per keyframe; the stored weights and memory of each structure and
compression) as one ``.npz`` file read without pickle. Its name is the digest of everything
the arrays depend on: the device's parameters and operating points as the cost model gets them
(so a changed profile, fit or stack is a new entry), the grid's structures, compressions,
points and modes, the pipeline, the zoomwatt version, the traced workloads' key (library
versions and tracing sources) and the source of the cost model itself (the perfmodel,
optimizer, hardware, workload and archs modules, and the architecture configs shipped there).
Options that do not change the costs (target fps, power cap, error limit) share an entry. A
damaged, planted or mismatched entry is ignored and computed again; failures to write are only
logged. ``cache=False`` neither reads nor writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from zoomwatt.atomic_write import write_atomic
from zoomwatt.cache_dir import cache_dir
from zoomwatt.version import __version__

log = logging.getLogger(__name__)

FORMAT = 1
SUBDIR = "optimizer"
MAX_ENTRY_BYTES = 64 * 1024 * 1024
ARRAYS = ("time_s", "energy_j", "calls", "weight_bytes", "memory_bytes")
_SOURCE_FOLDERS = ("perfmodel", "optimizer", "hardware", "workload", "archs")
_SOURCE_PATTERNS = ("**/*.py", "**/*.json")  # code, and the shipped architecture configs


@lru_cache(maxsize=1)
def source_digest() -> str:
    """Digest of the cost model's sources and the architecture configs it traces: a changed
    formula or model config never reads a stale entry."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for name in source_files():
        h.update(name.encode())
        with contextlib.suppress(OSError):
            h.update((root / name).read_bytes())
    return h.hexdigest()[:16]


def source_files() -> list[str]:
    """The files :func:`source_digest` reads, relative to the package, sorted."""
    root = Path(__file__).resolve().parents[1]
    paths = {
        p
        for folder in _SOURCE_FOLDERS
        for pattern in _SOURCE_PATTERNS
        for p in (root / folder).glob(pattern)
        if "__pycache__" not in p.parts
    }
    return sorted(p.relative_to(root).as_posix() for p in paths)


def _plain(value: Any) -> Any:
    """JSON-ready form of a device parameter (arrays and tuples as lists)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def cost_key(
    pipeline: str, grid_key: dict[str, Any], params: Sequence[Any], points: list[Any]
) -> str:
    """The entry name of these costs (see module doc): ``params``, the device's parameters
    of each stack searched."""
    from zoomwatt.workload.trace_cache import library_versions
    from zoomwatt.workload.trace_cache import source_digest as trace_sources

    key = {
        "format": FORMAT,
        "zoomwatt": __version__,
        "libraries": library_versions(),
        "trace_sources": trace_sources(),
        "cost_sources": source_digest(),
        "pipeline": pipeline,
        "grid": grid_key,
        "params": [
            {f.name: _plain(getattr(p, f.name)) for f in dataclasses.fields(p)} for p in params
        ],
        "points": [_plain(dataclasses.astuple(p)) for p in points],
    }
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _path(key: str) -> Path:
    return cache_dir() / SUBDIR / f"costs-{key}.npz"


def load_costs(key: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``key`` if they are there, well formed and of ``shapes``."""
    path = _path(key)
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            raise ValueError(f"larger than {MAX_ENTRY_BYTES} bytes")
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.array(data[name], dtype=float) for name in ARRAYS}
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise ValueError(f"{name} of shape {arrays[name].shape}, expected {shape}")
            values = arrays[name][~np.isnan(arrays[name])]
            if not (np.isfinite(values).all() and (values >= 0).all()):
                raise ValueError(f"{name} holds values that are not finite and >= 0")
    except FileNotFoundError:
        return None
    except Exception as exc:  # damaged, planted, another layout: compute again
        log.info("ignoring the optimizer cost cache entry %s: %s", path, exc)
        return None
    return arrays


def save_costs(key: str, arrays: dict[str, np.ndarray]) -> None:
    """Store ``arrays`` under ``key`` atomically; failures are only logged."""
    path = _path(key)
    try:
        buffer = io.BytesIO()
        np.savez(buffer, **{name: np.asarray(arrays[name], dtype=float) for name in ARRAYS})
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
    except (OSError, ValueError, TypeError) as exc:
        log.info("could not write the optimizer cost cache entry %s: %s", path, exc)
