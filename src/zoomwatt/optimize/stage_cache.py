"""A disk cache of the traced model stages the search needs, so that a new process does not
build and trace the models again (that takes ~10 s; reading the cache well under one).

The cache folder is ``$ZOOMWATT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/zoomwatt``, else
``~/.cache/zoomwatt`` (the same rule as the host profile), in ``optimize-stages/``. The key
holds the zoomwatt version and a hash of the workload and architecture sources, so a changed
tracer or config never reads a stale entry. A cache that cannot be read or written is skipped
(logged), never an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from functools import lru_cache
from pathlib import Path

import zoomwatt

log = logging.getLogger(__name__)

CACHE_ENV = "ZOOMWATT_CACHE_DIR"
SUBDIR = "optimize-stages"


def cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "zoomwatt"


@lru_cache(maxsize=1)
def source_hash() -> str:
    """Hash of the files that decide what a trace contains."""
    root = Path(zoomwatt.__file__).parent
    h = hashlib.sha256(zoomwatt.__version__.encode())
    for folder in ("workload", "archs", "perfmodel"):
        for path in sorted((root / folder).glob("*")):
            if path.suffix in (".py", ".json"):
                h.update(path.name.encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _path(key: str) -> Path:
    return cache_dir() / SUBDIR / f"{key}-{source_hash()}.pkl"


def load(key: str):
    """The cached object for ``key``, or None."""
    path = _path(key)
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged or foreign file: ignore it
        log.warning("ignoring the stage cache %s: %s", path, exc)
        return None


def save(key: str, value: object) -> None:
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        log.warning("could not write the stage cache %s: %s", path, exc)
