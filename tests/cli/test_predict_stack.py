"""`zoomwatt predict --stack`: every figure names the software stack it stands for."""

from __future__ import annotations

import json

from zoomwatt.cli.main import main


def test_table_and_json_name_the_stack(capsys):
    assert main(["predict", "--hw", "h100-sxm,rpi5"]) == 0
    out = capsys.readouterr().out
    assert "stack" in out.splitlines()[2]  # the header
    assert main(["predict", "--hw", "h100-sxm", "--stack", "compile", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stack"] == "compile" and data["settings"]["stack"] == "compile"


def test_compile_is_faster_than_eager_on_an_h100(capsys):
    latency = {}
    for stack in ("eager", "compile"):
        assert main(["predict", "--hw", "h100-sxm", "--stack", stack, "--format", "json"]) == 0
        latency[stack] = json.loads(capsys.readouterr().out)["keyframe_latency_s"]
    assert latency["compile"] < latency["eager"]  # fused pointwise chains, fewer launches


def test_a_stack_the_device_lacks_is_one_line(capsys):
    assert main(["predict", "--hw", "rpi5", "--stack", "tensorrt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stack='tensorrt': expected a stack rpi5 has: eager" in err[0]
