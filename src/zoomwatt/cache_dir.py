"""The zoomwatt cache folder, for every cache of the package (host profile, traced workloads,
optimizer stages).

``$ZOOMWATT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/zoomwatt``, else ``~/.cache/zoomwatt``.
Nothing is created here; each cache makes its own subfolder when it first writes. This module
imports nothing heavy, so any layer may use it.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ZOOMWATT_CACHE_DIR"


def cache_dir() -> Path:
    """The zoomwatt cache folder (not created here)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "zoomwatt"
