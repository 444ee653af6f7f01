"""What machine a benchmark ran on, for the records kept in benchmarks/results/."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path

from zoomwatt.hardware.host_probe import cpu_id, cpu_model


def describe() -> dict[str, object]:
    """CPU model name and :func:`cpu_id` (vendor, family, model number), usable cores, GPU if
    torch sees one, and today's date (UTC)."""
    info: dict[str, object] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
        "cpu": cpu_model(),
        "cpu_id": cpu_id(),
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def append_record(path: Path, record: dict) -> None:
    """Append ``record`` as one JSON line to ``path`` (its folder made if absent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
