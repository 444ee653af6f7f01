"""`zoomwatt validate` and the evidence `zoomwatt predict` shows beside each device."""

from __future__ import annotations

import json

import pytest

import zoomwatt
from zoomwatt.cli import validate_command
from zoomwatt.cli.main import main
from zoomwatt.evidence.heldout import NO_FIGURE, load_heldout


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    empty = tmp_path_factory.mktemp("measure")
    return zoomwatt.validate(set="all", measurements=str(empty))  # the Python API


def test_the_table_shows_cases_reasons_summary_targets_and_host(result):
    text = validate_command.render(result)
    lines = text.splitlines()
    assert lines[0].startswith("zoomwatt validate: 125 published figures")
    assert any(line.startswith("D1 ") and "denoising speed" in line for line in lines)
    assert "S2 nvidia-rtx-4090 throughput 38.02 images/s: pipeline lcm-sd15" in text
    assert "targets (held out, published set):" in text and "latency median |error| <= 20%" in text
    assert "no host check recorded: run zoomwatt measure --validate" in text
    assert any(line.startswith("latency  all") for line in lines)


def test_json_through_the_command(result, capsys, monkeypatch):
    monkeypatch.setattr(validate_command, "compute", lambda args: result)
    assert main(["validate", "--set", "all", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["set"] == "all" and len(data["cases"]) == 125
    first = data["cases"][0]
    assert {"id", "device", "predicted", "published", "unit", "error_pct", "held_out"} <= set(first)
    assert data["host_check"]["recorded"] is False


def test_host_set_end_to_end(tmp_path, capsys):
    assert main(["validate", "--set", "host", "--measurements", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no host check recorded: run zoomwatt measure --validate" in out
    assert "published figures" not in out


def test_predict_shows_each_devices_evidence(capsys):
    assert main(["predict", "--hw", "apple-a14,jetson-orin-nano", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    evidence = {p["hardware"]: p["evidence"] for p in data["predictions"]}
    phone = load_heldout()["latency"]["phone"]
    median, cases = phone["median_abs_error_pct"], phone["cases"]
    want = f"held-out median {median:.0f}% over {cases} published figures (phone)"
    assert evidence["apple-a14"]["text"] == want and evidence["apple-a14"]["published_figures"] > 0
    assert evidence["jetson-orin-nano"]["text"] == NO_FIGURE  # embedded: none published
    assert NO_FIGURE == "no published figure for this class"
    assert main(["predict", "--hw", "apple-a14,jetson-orin-nano"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2].rstrip().endswith("evidence")
    assert any(line.startswith("apple-a14") and line.rstrip().endswith(want) for line in table)
