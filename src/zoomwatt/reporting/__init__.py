"""The report: one self-contained HTML page with the whole study.

:func:`collect` computes every section (:class:`ReportData`), :func:`render_html` turns it into
the page (charts from matplotlib, inline SVG; the video and its stills as ``data:`` URIs), and
:func:`write_report` does both and writes ``DIR/index.html``.
"""

from __future__ import annotations

from zoomwatt.reporting.html_page import render_html
from zoomwatt.reporting.report_data import ReportData, ReportOptions, collect, read_video_frames
from zoomwatt.reporting.write_report import write_page, write_report

__all__ = [
    "ReportData",
    "ReportOptions",
    "collect",
    "read_video_frames",
    "render_html",
    "write_page",
    "write_report",
]
