"""The report's section "How far to trust these numbers": predicted against published on a
log-log chart by device class, the targets, the summary, every case (with the reasons for the
ones the model cannot predict) and the host check, or the line saying how to get one."""

from __future__ import annotations

import dataclasses

from zoomwatt.evidence.host_check import NOT_RECORDED
from zoomwatt.evidence.results import HostCheck
from zoomwatt.reporting import render_html
from zoomwatt.reporting.trust_section import TITLE, trust_html


def test_the_section_shows_chart_cases_targets_and_the_host_check(report_data):
    trust = report_data.trust
    assert trust is not None and report_data.trust_note is None
    page = render_html(report_data)
    assert TITLE == "How far to trust these numbers" and TITLE in page
    section = page[page.index(TITLE) :]
    assert "<svg" in section and "predicted, held out" in section  # the log-log chart
    assert section.count("<tr>") >= len(trust.cases)  # every case, and the summary rows
    assert "pipeline lcm-sd15: not in the architecture catalog" in section
    assert "latency median |error| &le; 20%" in section
    # the conftest's fake measurement: worst model stage the VAE encoder, 3.4 vs 3.9 s: -12.8%
    assert trust.host_check.recorded and "worst model stage 13%" in trust.host_check.message
    assert "host check 2026-11-23T12:00:00+0000 on Test CPU &lt;2 threads&gt;" in section


def test_no_host_check_says_how_to_get_one(report_data):
    none = dataclasses.replace(report_data.trust, host_check=HostCheck(False, NOT_RECORDED))
    html = trust_html(none)
    assert "no host check recorded: run zoomwatt measure --validate" in html


def test_no_result_gives_the_reason():
    assert "validation failed: x" in trust_html(None, "validation failed: x")
