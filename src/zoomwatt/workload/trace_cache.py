"""A disk cache of traced model calls, so that a new process does not import torch, diffusers and
transformers and trace the same models again.

One entry per traced model call (each text encoder, VAE encoder, UNet, VAE decoder at one
size, batch, dtype and attention mode), in ``<cache folder>/workload/`` (see
:func:`zoomwatt.cache_dir.cache_dir`). The key is everything a trace depends on: the content of
the model's architecture config (a shipped one, or a local folder's: ``arch`` is then the
folder's resolved path, so two folders never share an entry), the stage and its options, the
shapes of the call's inputs and the pipeline's extra conditioning, the zoomwatt version, the
installed torch, diffusers and transformers versions, a digest of the tracing sources, and the
entry format. The file name holds a hash of the key, and the file repeats the key, which is compared
on reading.

Entries are JSON: plain data, never pickle. Python writes a float as its shortest repr, which
reads back as the same float, and an int as an int, so a trace read back is identical, field by
field and type by type, to the one written. Every entry is validated on reading (layout, types,
values, key); anything wrong (damaged, truncated, planted, from another version) is ignored and
the call traced again, never an error. Writes go to a temporary file with a unique name and are
moved into place with ``os.replace``, so two processes never see or leave half a file. A cache
folder that cannot be written is skipped (logged at info level).

Where the user's folder has no entry, the entries shipped in ``data/traces/`` are read (the default
commands' traces, written by ``scripts/record_traces.py``; a test checks they are current), so
that a first command after installing answers without tracing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from zoomwatt.atomic_write import write_atomic
from zoomwatt.cache_dir import cache_dir
from zoomwatt.version import __version__
from zoomwatt.workload.records import DTYPE_BYTES, LayerRecord, OpClass, Trace

log = logging.getLogger(__name__)

SUBDIR = "workload"
#: Entries shipped with the package (``scripts/record_traces.py`` writes them): the traces of the
#: default commands, so that the first ``zoomwatt analyze`` after installing reads instead of
#: importing torch, diffusers and transformers and tracing. Read only when the user's cache has
#: no entry; their keys hold the library versions they were traced with, so another torch,
#: diffusers or transformers never reads them.
SHIPPED_DIR = Path(__file__).parent / "data" / "traces"
FORMAT = 1  # layout of an entry; bump when it changes
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # far above any real trace (the SD2 UNet is ~0.2 MB)
LIBRARIES = ("torch", "diffusers", "transformers")
# The files that decide what a trace contains (beside the architecture configs, keyed apart).
_TRACE_SOURCES = (
    "workload/characterize_pipeline.py",
    "workload/formulas.py",
    "workload/meta_shapes.py",
    "workload/records.py",
    "workload/trace_cache.py",
    "workload/tracer.py",
    "archs/build.py",
    "archs/calls.py",
)
_OP_CLASSES = {c.value: c for c in OpClass}


# --- key ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a trace depends on, read without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@lru_cache(maxsize=1)
def source_digest() -> str:
    """Digest of the tracing sources: a changed formula or tracer never reads a stale entry."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for name in _TRACE_SOURCES:
        h.update(name.encode())
        with contextlib.suppress(OSError):
            h.update((root / name).read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=32)
def config_digest(arch: str, component: str) -> str:
    """Digest of the content of a model's architecture config (not of its file's layout)."""
    from zoomwatt.archs.catalog import load_config

    text = json.dumps(load_config(arch, component), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def base_key() -> dict[str, Any]:
    """What every entry depends on: format, zoomwatt, libraries, tracing sources."""
    return {
        "format": FORMAT,
        "zoomwatt": __version__,
        "libraries": library_versions(),
        "sources": source_digest(),
    }


def trace_key(
    stage: str, arch: str, component: str, batch: int, size: int, dtype: str,
    activation_dtype: str, attention: str, *, config: str | None = None,
    call: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The key of one traced stage call. ``config``: the digest of the model's config (None:
    the shipped config of ``arch`` and ``component``, :func:`config_digest`); ``call``: what
    else shapes the call (its inputs' shapes, the pipeline's extra conditioning)."""
    key = base_key() | {
        "kind": "trace",
        "config": config_digest(arch, component) if config is None else config,
        "stage": stage,
        "arch": arch,
        "component": component,
        "batch": batch,
        "size": size,
        "dtype": dtype,
        "activation_dtype": activation_dtype,
        "attention": attention,
    }
    if call is not None:
        key["call"] = call
    return key


# --- generic entries ------------------------------------------------------------------------


def entry_path(name: str, key: dict[str, Any]) -> Path:
    """Where the entry of ``key`` lives (``name`` is only a readable prefix)."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return cache_dir() / SUBDIR / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"


def shipped_path(path: Path) -> Path:
    """Where the package ships the entry whose cache path is ``path`` (gzip-compressed)."""
    return SHIPPED_DIR / f"{path.name}.gz"


def load_entry(name: str, key: dict[str, Any]) -> Any:
    """The payload stored under ``key``, or None (absent, unreadable, or another key): from the
    user's cache folder, else from the entries shipped with the package."""
    path = entry_path(name, key)
    payload = _read_entry(path, key, compressed=False)
    if payload is None:
        payload = _read_entry(shipped_path(path), key, compressed=True)
    return payload


def _read_entry(path: Path, key: dict[str, Any], *, compressed: bool) -> Any:
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            raise ValueError(f"larger than {MAX_ENTRY_BYTES} bytes")
        data = path.read_bytes()
        if compressed:
            import gzip

            with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
                data = handle.read(MAX_ENTRY_BYTES + 1)
            if len(data) > MAX_ENTRY_BYTES:
                raise ValueError(f"larger than {MAX_ENTRY_BYTES} bytes unpacked")
        entry = json.loads(data.decode("utf-8"))
        if not isinstance(entry, dict) or entry.get("key") != key or "payload" not in entry:
            raise ValueError("not an entry of this key")
    except FileNotFoundError:
        return None
    except Exception as exc:  # damaged, planted, too deep, not UTF-8: ignore it
        log.info("ignoring the workload cache entry %s: %s", path, exc)
        return None
    return entry["payload"]


def save_entry(name: str, key: dict[str, Any], payload: Any) -> None:
    """Store ``payload`` (plain JSON data) under ``key`` atomically; failures are only logged."""
    path = entry_path(name, key)
    try:
        text = json.dumps({"key": key, "payload": payload}, separators=(",", ":"), allow_nan=False)
        _write_atomic(path, text)
    except (OSError, ValueError, TypeError) as exc:
        log.info("could not write the workload cache entry %s: %s", path, exc)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


# --- traces ---------------------------------------------------------------------------------


def _row(r: LayerRecord) -> list[Any]:
    return [r.module, r.op, r.op_class.value, r.macs, r.flops, r.weight_bytes, r.input_bytes,
            r.output_bytes, r.dtype, r.activation_dtype]  # fmt: skip


def encode_trace(trace: Trace, model_class: str) -> dict[str, Any]:
    """A trace as plain JSON data (records as rows in :class:`LayerRecord`'s field order)."""
    return {
        "model_class": model_class,
        "params": trace.params,
        "weight_bytes": trace.weight_bytes,
        "peak_activation_bytes": trace.peak_activation_bytes,
        "input_shapes": [list(s) for s in trace.input_shapes],
        "output_shape": list(trace.output_shape),
        "unknown_ops": list(trace.unknown_ops),
        "records": [_row(r) for r in trace.records],
    }


def _int(x: Any) -> bool:
    return type(x) is int and x >= 0


def _number(x: Any) -> bool:
    return type(x) in (int, float) and math.isfinite(x) and x >= 0


def _shape(x: Any) -> bool:
    return type(x) is list and all(_int(d) for d in x)


def _record(row: Any) -> LayerRecord:
    module, op, op_class, macs, flops, weight_b, input_b, output_b, dtype, act = row
    if not (type(module) is str and type(op) is str and _int(macs) and _int(flops)):
        raise ValueError(f"bad record {row!r:.200}")
    if not (_number(weight_b) and _number(input_b) and _number(output_b)):
        raise ValueError(f"bad record bytes {row!r:.200}")
    if type(dtype) is not str or dtype not in DTYPE_BYTES:
        raise ValueError(f"bad record dtype {row!r:.200}")
    if act is not None and (type(act) is not str or act not in DTYPE_BYTES):
        raise ValueError(f"bad record activation dtype {row!r:.200}")
    return LayerRecord(
        module=module, op=op, op_class=_OP_CLASSES[op_class], macs=macs, flops=flops,
        weight_bytes=weight_b, input_bytes=input_b, output_bytes=output_b, dtype=dtype,
        activation_dtype=act,
    )  # fmt: skip


def decode_trace(payload: Any) -> tuple[Trace, str]:
    """The trace and model class name of an entry; ``ValueError`` unless it is well formed."""
    if type(payload) is not dict:
        raise ValueError("not a mapping")
    model_class, params = payload["model_class"], payload["params"]
    weight_b, peak = payload["weight_bytes"], payload["peak_activation_bytes"]
    inputs, output = payload["input_shapes"], payload["output_shape"]
    unknown, rows = payload["unknown_ops"], payload["records"]
    if type(model_class) is not str or not model_class:
        raise ValueError("bad model class")
    if not (_int(params) and _number(weight_b) and _number(peak)):
        raise ValueError("bad totals")
    if type(inputs) is not list or not all(_shape(s) for s in inputs) or not _shape(output):
        raise ValueError("bad shapes")
    if type(unknown) is not list or not all(type(u) is str for u in unknown):
        raise ValueError("bad unknown ops")
    if type(rows) is not list or not rows:
        raise ValueError("no records")
    records = []
    for row in rows:
        if type(row) is not list or len(row) != 10 or row[2] not in _OP_CLASSES:
            raise ValueError(f"bad record {row!r:.200}")
        records.append(_record(row))
    trace = Trace(
        records=tuple(records),
        params=params,
        weight_bytes=weight_b,
        peak_activation_bytes=peak,
        input_shapes=tuple(tuple(s) for s in inputs),
        output_shape=tuple(output),
        unknown_ops=tuple(unknown),
    )
    return trace, model_class


# Entries decoded in this process, by (file, modification time, size) of the file read first:
# a command that loads the same call for several workloads reads and checks it once.
_decoded: dict[tuple[str, int, int], tuple[Trace, str]] = {}


def _file_stamp(key: dict[str, Any]) -> tuple[str, int, int] | None:
    """(path, mtime ns, size) of the first file :func:`load_entry` would read, or None."""
    path = entry_path("trace", key)
    for candidate in (path, shipped_path(path)):
        try:
            st = candidate.stat()
        except OSError:
            continue
        return str(candidate), st.st_mtime_ns, st.st_size
    return None


def load_trace(key: dict[str, Any]) -> tuple[Trace, str] | None:
    """The cached trace and model class name of ``key``, or None (then trace it again)."""
    stamp = _file_stamp(key)
    if stamp is None:
        return None
    if stamp in _decoded:
        return _decoded[stamp]
    payload = load_entry("trace", key)
    if payload is None:
        return None
    try:
        hit = decode_trace(payload)
    except (KeyError, TypeError, ValueError) as exc:
        log.info("ignoring a malformed workload cache entry (%s): %s", key.get("stage"), exc)
        return None
    _decoded[stamp] = hit
    return hit


def save_trace(key: dict[str, Any], trace: Trace, model_class: str) -> None:
    save_entry("trace", key, encode_trace(trace, model_class))
