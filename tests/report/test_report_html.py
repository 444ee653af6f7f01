"""The report page: every section present, self-contained, user text escaped."""

from __future__ import annotations

import dataclasses
import re

from zoomwatt.cli.main import main
from zoomwatt.errors import InputError
from zoomwatt.reporting import render_html, write_page
from zoomwatt.reporting.report_data import ReportOptions, _optimizer

SECTIONS = (
    "The zoom",
    "The pipeline and what each stage costs",
    "Op classes per model, beside the article",
    "Roofline: every layer as a point",
    "On which device it runs in real time",
    "What each optimization buys (Pareto front)",
    "Predicted vs measured on this machine",
)


def test_every_section_is_there(report_data):
    page = render_html(report_data)
    for title in SECTIONS:
        assert title in page
    # diagram, op classes, roofline, devices, Pareto, measured, per-layer
    assert page.count("<svg") >= 7
    assert "every UNet layer" in page
    assert "The machine was busy during that run" in page  # cpu_share 0.5 in the measurement
    assert "<video" in page and page.count('alt="frame ') == 3
    assert "int8 + every 100" in page  # the Pareto table
    assert "jetson-orin-nano" in page and "h100-sxm" in page  # device table


def test_roofline_has_every_layer(report_data):
    r = report_data.roofline
    n_layers = sum(1 for p in r.points)
    assert n_layers > 1000  # every op of the four models at 512x512
    assert {p.stage for p in r.points} >= {"text_encoder", "vae_encoder", "unet", "vae_decoder"}


def test_self_contained_no_external_resources(report_data):
    page = render_html(report_data)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page and "@import" not in page and "url(http" not in page


def test_user_text_is_escaped(report_data):
    page = render_html(report_data)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; a temple" in page
    assert "Test CPU &lt;2 threads&gt;" in page
    assert "baseline &lt;fp16&gt;" in page


def test_missing_inputs_give_reasons_not_crashes(report_data, tmp_path):
    data = dataclasses.replace(
        report_data,
        optimizer=None,
        optimizer_note="optimizer not available in this install (zoomwatt.optimizer)",
        measurement=None,
        measurement_note="not measured yet (run zoomwatt measure --validate)",
        video=None,
        video_note="no video given",
    )
    page = write_page(data, tmp_path / "r").read_text(encoding="utf-8")
    assert "optimizer not available" in page
    assert "not measured yet" in page
    assert "No video" in page


def test_optimizer_left_out_or_failed_gives_a_reason(monkeypatch):
    import zoomwatt.optimizer

    result, note = _optimizer(ReportOptions(optimize=False))
    assert result is None and note == "optimizer not run (--no-optimize)"

    def fail(*args, **kwargs):
        raise InputError("hardware", "x", "a profile")

    monkeypatch.setattr(zoomwatt.optimizer, "explore", fail)
    result, note = _optimizer(ReportOptions())
    assert result is None and note.startswith("optimizer failed: hardware='x'")


def test_report_cli(tmp_path, tiny_video, measurements, capsys):
    code = main(
        [
            "report",
            "--out",
            str(tmp_path / "rep"),
            "--video",
            str(tiny_video),
            "--measurements",
            str(measurements),
            "--every",
            "4",
            "--no-optimize",
            "--prompt",
            "<b>bold</b>",
        ]
    )
    assert code == 0
    page = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "index.html" in capsys.readouterr().out


def test_report_cli_bad_out(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["report", "--out", str(target), "--no-optimize", "--video", ""]) == 2
    assert "out=" in capsys.readouterr().err


def test_glance_gives_the_host_checks_verdict_when_no_stage_was_comparable(report_data):
    """A run whose every stage was busy or drifting has no worst error: the glance says why
    (the host check's headline), not 'None'."""
    import dataclasses

    from zoomwatt.measurement.host_check import HostCheck
    from zoomwatt.reporting.html_page import glance

    check = HostCheck(
        date="2026-12-01T12:00:00+0000", device="Test CPU (cpu, 2 threads)", cpu_model="Test CPU",
        cpu_flags=None, pipeline="sd2-inpaint", size=256, steps=2, cfg=True, dtype="fp32",
        target_error_pct=15.0, verdict="busy", headline="not comparable: machine busy (48% of CPU)",
        stages=(), calibrations=(),
    )  # fmt: skip
    m = report_data.measurement
    assert m is not None
    stages = tuple(dataclasses.replace(s, predicted_latency_s=None) for s in m.stages)
    busy = dataclasses.replace(m, stages=stages, host_check=check)
    assert busy.worst_error_pct is None
    html = glance(dataclasses.replace(report_data, measurement=busy))
    assert "not comparable: machine busy (48% of CPU)" in html and "None" not in html


def test_glance_leads_with_a_not_comparable_verdict_when_some_stages_were_compared(report_data):
    """A drifting run with one stage compared (as the main job's on a noisy VM) must not read
    as 'worst error 4%, within the target': the verdict leads, the compared stages follow."""
    import dataclasses

    from zoomwatt.measurement.host_check import HostCheck, HostStageCheck
    from zoomwatt.reporting.html_page import glance

    def stage(name, error, status):
        return HostStageCheck(
            name=name, predicted_s=1.0, measured_s=1.0, error_pct=error, status=status,
            cpu_share=0.99, others_cpu_share=0.0, steal_share=0.0, reference_drift_pct=None,
            clean_samples=3, calibration=0,
        )  # fmt: skip

    headline = "not comparable: machine speed drifting (reference kernel -57% from its calibration)"
    check = HostCheck(
        date="2026-12-02T06:00:00+0000", device="Test CPU (cpu, 2 threads)", cpu_model="Test CPU",
        cpu_flags=None, pipeline="sd2-inpaint", size=256, steps=2, cfg=True, dtype="fp32",
        target_error_pct=15.0, verdict="drifting", headline=headline,
        stages=(stage("vae_encoder", -4.0, "ok"), stage("unet", None, "drifting")),
        calibrations=(),
    )  # fmt: skip
    m = dataclasses.replace(report_data.measurement, host_check=check)
    html = glance(dataclasses.replace(report_data, measurement=m))
    assert headline in html
    assert "1 of 2 model stages compared, worst error 4% (target 15%)" in html
    assert "within the" not in html


def test_the_measured_table_says_which_stages_the_target_judged(report_data):
    m = report_data.measurement
    first, second, *rest = m.stages

    def off(stage, pct, judged=True):  # measured 1 s, predicted pct% off it
        return dataclasses.replace(
            stage, measured_latency_s=1.0, predicted_latency_s=1.0 + pct / 100, in_target=judged
        )

    # target 15%: a judged stage 30% off is "outside", one 5% off "within"; a stage the check
    # could not compare (or one outside the target, as frame ops) is "not judged", not "no"
    stages = (off(first, 30.0), off(second, -50.0, judged=False), *(off(s, 5.0) for s in rest))
    data = dataclasses.replace(
        report_data, measurement=dataclasses.replace(m, stages=stages, target_error_pct=15.0)
    )
    section = render_html(data).split("Predicted vs measured on this machine", 1)[1]
    section = section.split("<h2", 1)[0]
    cells = re.findall(r"<td[^>]*>(within|outside|not judged)</td>", section)
    assert cells[:2] == ["outside", "not judged"] and set(cells[2 : len(stages)]) == {"within"}
