"""Write the report: compute every section, render the page, write ``DIR/index.html``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from zoomwatt.errors import InputError
from zoomwatt.reporting.html_page import render_html
from zoomwatt.reporting.report_data import ReportData, ReportOptions, collect

log = logging.getLogger(__name__)

PAGE = "index.html"


def write_page(data: ReportData, out_dir: str | Path) -> Path:
    """Render ``data`` into ``out_dir/index.html`` (written atomically); returns the path."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("out", str(out_dir), "a folder (it is a file)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("out", str(out_dir), "a folder that can be created", str(exc)) from exc
    page = render_html(data)
    path = out_dir / PAGE
    tmp = path.with_name(f"{PAGE}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    log.info("report written to %s (%.1f MB)", path, len(page) / 1e6)
    return path


def write_report(out_dir: str | Path, options: ReportOptions | None = None) -> Path:
    """Compute the study (:func:`collect`) and write it as one self-contained page."""
    return write_page(collect(options), out_dir)
