"""Where the calibrated ``host`` profile is cached, and reading/writing it.

The cache folder is ``$ZOOMWATT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/zoomwatt``, else
``~/.cache/zoomwatt``; the profile is ``host.yaml`` in it, in the same schema as shipped
profiles.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

CACHE_ENV = "ZOOMWATT_CACHE_DIR"
HOST_FILE = "host.yaml"


def cache_dir() -> Path:
    """The zoomwatt cache folder (not created here)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "zoomwatt"


def host_cache_path() -> Path:
    return cache_dir() / HOST_FILE


def read_host_cache() -> dict[str, Any] | None:
    """The cached host profile data, or None when there is none or it cannot be read."""
    path = host_cache_path()
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        log.warning("ignoring unreadable host cache %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def write_host_cache(data: dict[str, Any]) -> Path:
    """Write host profile data atomically; returns the path."""
    path = host_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(
        "# zoomwatt host profile, written by host calibration; delete to recalibrate.\n"
        + yaml.safe_dump(data, sort_keys=False)
    )
    tmp.replace(path)
    log.info("host profile cached in %s", path)
    return path
