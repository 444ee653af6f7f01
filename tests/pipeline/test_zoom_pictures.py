"""What a zoom writes beside its video and prints about its pictures (issue 16): the picture
checks (NAME_checks.json, the table at the end of ``zoomwatt zoom``, the JSON result) and the
contact sheet of the keyframes (NAME_keyframes.png); the checks made one keyframe at a time
equal the checks of the whole list."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from zoomwatt.cli.main import main
from zoomwatt.errors import InputError
from zoomwatt.pipeline.contact_sheet import COLUMNS, GAP_PX, SheetBuilder, sheet_path
from zoomwatt.pipeline.geometry import ZoomGeometry
from zoomwatt.pipeline.picture_checks import ZoomChecker, check_zoom, checks_path
from zoomwatt.pipeline.samples import sample_image_path
from zoomwatt.pipeline.zoom import zoom


def zoom_args(tmp_path, *extra: str) -> list[str]:
    return [
        "zoom", "--prompt", "a cup", "--image", str(sample_image_path()), "--size", "64x64",
        "--keyframes", "3", "--frames-per-keyframe", "2", "--out", str(tmp_path / "z.mp4"),
        "--no-progress", *extra,
    ]  # fmt: skip


def test_the_zoom_prints_its_checks_and_writes_them_with_a_contact_sheet(tmp_path, capsys):
    assert main(zoom_args(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "picture checks of 3 keyframes:" in out
    for name in ("detail", "coherence", "rays", "copies", "colour", "seam", "drift"):
        assert f"\n  {name} " in out  # one row per check, with its threshold and why
    assert "at most 0.35 of the border's gradient energy across rays" in out
    written = json.loads(checks_path(tmp_path / "z.mp4").read_text())
    assert [k["index"] for k in written["keyframes"]] == [1, 2]  # keyframe 0 has no border
    sheet = cv2.imread(str(sheet_path(tmp_path / "z.mp4")))
    # 3 keyframes of 64 px in one row (4 columns at most), 4 px gaps: 3 * 68 + 4 wide.
    assert sheet.shape == (64 + 2 * GAP_PX, 3 * (64 + GAP_PX) + GAP_PX, 3)


def test_the_json_result_holds_the_checks_and_no_checks_writes_none(tmp_path, capsys):
    assert main(zoom_args(tmp_path, "--format", "json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["checks"]) == {"passed", "keyframes", "drift"}
    assert result["contact_sheet"].endswith("z_keyframes.png")
    other = tmp_path / "other"
    other.mkdir()
    assert main(zoom_args(other, "--json", "--no-checks")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["checks"] is None and result["contact_sheet"] is None
    assert not checks_path(other / "z.mp4").exists() and not sheet_path(other / "z.mp4").exists()


def test_checks_one_keyframe_at_a_time_equal_the_whole_list(tmp_path):
    result = zoom(
        prompt="x", image=sample_image_path(), size=(64, 64), keyframes=4, frames_per_keyframe=1,
        out=tmp_path / "z.mp4", checks=False,
    )  # fmt: skip
    files = sorted((result.work_dir / "keyframes").glob("*.png"))
    keyframes = [cv2.imread(str(f))[..., ::-1].copy() for f in files]
    geometry = ZoomGeometry.from_border(64, 64, 16)
    checker = ZoomChecker(geometry)
    for keyframe in keyframes:
        checker.add(keyframe)
    assert checker.result().to_dict() == check_zoom(keyframes, geometry).to_dict()
    with pytest.raises(InputError, match=r"^keyframes="):
        ZoomChecker(geometry).result()


def test_a_long_zoom_shows_every_kth_keyframe_and_its_last():
    builder = SheetBuilder(100)
    # 100 keyframes, at most 24 shown: every 5th (0, 5, ..., 95) and the last, 99: 21 in all.
    assert sorted(builder.shown) == [*range(0, 100, 5), 99]
    for index in range(100):
        builder.add(index, np.full((32, 48, 3), index, np.uint8))
    sheet = builder.sheet()
    rows = -(-21 // COLUMNS)  # 6 rows of 4
    assert sheet.shape == (rows * (32 + GAP_PX) + GAP_PX, COLUMNS * (48 + GAP_PX) + GAP_PX, 3)
    with pytest.raises(InputError, match=r"^keyframes="):
        SheetBuilder(0)
