"""Where the calibrated ``host`` profile is cached, and reading/writing it.

The cache folder is ``$ZOOMWATT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/zoomwatt``, else
``~/.cache/zoomwatt``; the profile is ``host.yaml`` in it, in the same schema as shipped
profiles. A cache that cannot be read or does not pass the schema is treated as absent (with a
warning): the host is calibrated again and the cache rewritten.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from zoomwatt.cache_dir import cache_dir
from zoomwatt.errors import ZoomwattError
from zoomwatt.hardware.schema import parse_profile
from zoomwatt.hardware.yaml_io import dump_yaml, load_yaml_mapping

log = logging.getLogger(__name__)

HOST_FILE = "host.yaml"


def host_cache_path() -> Path:
    return cache_dir() / HOST_FILE


def read_host_cache() -> dict[str, Any] | None:
    """The cached host profile data, or None when there is none or it is damaged.

    Read with the same safe loader as every profile and checked against the schema, so that
    a damaged cache (truncated, edited, from another zoomwatt) means "recalibrate", never an
    error or a traceback.
    """
    path = host_cache_path()
    try:
        present = path.exists()
    except (OSError, ValueError):
        present = False
    if not present:
        return None
    try:
        data = load_yaml_mapping(path, "a host profile")
        parse_profile(data, str(path))
    except ZoomwattError as exc:
        log.warning("ignoring the damaged host cache (it will be recalibrated): %s", exc)
        return None
    return data


def write_host_cache(data: dict[str, Any]) -> Path:
    """Write host profile data atomically; returns the path. A cache that cannot be written
    is only a warning: the calibrated profile is still used, and measured again next time."""
    path = host_cache_path()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(
            "# zoomwatt host profile, written by host calibration; delete to recalibrate.\n"
            + dump_yaml(data),
            encoding="utf-8",
        )
        tmp.replace(path)
    except OSError as exc:
        log.warning("could not cache the host profile in %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return path
    log.info("host profile cached in %s", path)
    return path
