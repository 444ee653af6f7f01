"""``zoomwatt analyze``: the command renders what the library computed."""

from __future__ import annotations

import csv
import io
import json

from zoomwatt.cli.analyze_command import si
from zoomwatt.cli.main import main


def test_table_answers_the_question(capsys):
    assert main(["analyze"]) == 0
    out = capsys.readouterr().out
    for text in ("per second at 30 fps", "TFLOP/s", "unet", "frame_ops", "peak memory",
                 "The article, checked", "77x1024", "where a second goes"):  # fmt: skip
        assert text in out, text
    assert len(out.splitlines()) <= 50  # one screen


def test_json(capsys):
    assert main(["analyze", "--format", "json", "--no-cfg", "--every", "5"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in d["stages"]][2] == "unet"
    assert d["stages"][2]["batch"] == 1
    assert d["settings"]["every"] == 5
    assert "per_keyframe" in d and "per_output_frame" in d and d["article"]


def test_csv_and_layers(capsys):
    assert main(["analyze", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["stage"] for r in rows] == [
        "text_encoder", "vae_encoder", "unet", "vae_decoder", "frame_ops",
    ]  # fmt: skip
    assert int(rows[2]["macs_per_call"]) == 804_375_429_120
    assert main(["analyze", "--format", "csv", "--layers"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    convs = [r for r in rows if r["stage"] == "unet" and r["op_class"] == "conv"]
    assert convs and convs[0]["module"] == "conv_in"


def test_bad_size_is_a_clean_error(capsys):
    assert main(["analyze", "--size", "500"]) == 2
    assert "size=500" in capsys.readouterr().err


def test_si():
    assert si(1.2345e12) == "1.23 T"
    assert si(804.4e9, "MAC") == "804 GMAC"
    assert si(0) == "0"
    assert si(45.2e9, "B") == "45.2 GB"
