"""The report's "Keyframes and picture checks" section: the contact sheet and the checks that
``zoomwatt zoom`` wrote beside the video, each threshold with its reason; and the note when they
are missing."""

from __future__ import annotations

import json
from html import escape

from zoomwatt.pipeline.contact_sheet import sheet_path
from zoomwatt.pipeline.picture_checks import MAX_RAY_INDEX, WHY_SEAM, checks_path
from zoomwatt.reporting import render_html
from zoomwatt.reporting.zoom_section import collect_zoom_pictures, zoom_pictures_html

TITLE = "Keyframes and picture checks"


def test_the_section_shows_the_sheet_every_keyframe_and_the_reasons(report_data, tiny_video):
    pictures = report_data.zoom_pictures
    assert pictures is not None and report_data.zoom_pictures_note is None
    page = render_html(report_data)
    section = page[page.index(TITLE) :]
    assert 'alt="the keyframes"' in section and "data:image/png;base64," in section
    written = json.loads(checks_path(tiny_video).read_text())
    # 3 keyframes: keyframes 1 and 2 checked against their centres, drift of all three.
    assert [row["index"] for row in written["keyframes"]] == [1, 2]
    assert f"rays (&le; {MAX_RAY_INDEX:g})" in section  # the threshold in the column head
    assert "Why each threshold is what it is" in section and escape(WHY_SEAM) in section
    assert section.count("<tr>") >= 2 + 1 + 3 + 1  # 2 keyframe rows, 3 drift rows, 2 heads


def test_a_failed_check_is_marked(report_data):
    checks = json.loads(json.dumps(report_data.zoom_pictures.checks))
    checks["keyframes"][0]["rays"]["passed"] = False
    checks["passed"] = False
    pictures = type(report_data.zoom_pictures)(checks, "c.json", None, "s.png")
    html = zoom_pictures_html(pictures, None)
    assert "(fails)</b>" in html and "some failed" in html


def test_missing_files_give_the_reason(tmp_path):
    video = tmp_path / "v.mp4"
    collected = collect_zoom_pictures(video)
    assert collected["zoom_pictures"] is None
    note = collected["zoom_pictures_note"]
    assert str(checks_path(video)) in note and str(sheet_path(video)) in note
    assert "--no-checks" in note
    assert "no video given" in zoom_pictures_html(None, "no video given")


def test_the_zoom_says_what_made_its_pictures(report_data, tiny_video):
    written = json.loads(checks_path(tiny_video).read_text())
    # The conftest's zoom is the classical backend's default method: no model at all.
    made_by = "the classical backend (patch: patch-based completion from the first keyframe's "
    assert written["made_by"].startswith(made_by) and written["made_by"].endswith("weights")
    page = render_html(report_data)
    the_zoom = page[page.index("<h2>The zoom</h2>") : page.index(TITLE)]
    assert f"Made by {escape(written['made_by'])}." in the_zoom
    older = type(report_data.zoom_pictures)({"passed": True}, "c.json", None, "s.png")
    assert older.made_by is None  # a checks file from before this field
