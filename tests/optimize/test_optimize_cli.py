"""``zoomwatt optimize`` on the command line."""

from __future__ import annotations

import json

from zoomwatt.cli.main import main


def test_answer_on_one_screen(orin_result, capsys):
    assert main(["optimize", "--hw", "jetson-orin-nano", "--target-fps", "30"]) == 0
    out = capsys.readouterr().out
    assert "To reach 30 fps you must give up:" in out
    assert "Pareto front" in out
    assert "baseline: 512 px" in out
    assert len(out.splitlines()) <= 40


def test_json_and_studies(orin_result, capsys):
    assert main(["optimize", "--hw", "jetson-orin-nano", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hardware"] == "jetson-orin-nano"
    assert data["max_error_db"] == -20.0
    for study, text in (
        ("offchip", "ROMANet sanity check"),
        ("frequency", "layer-wise"),
        ("sharing", "512 bits -> 160 bits"),
    ):
        assert main(["optimize", "--hw", "jetson-orin-nano", "--study", study]) == 0
        assert text in capsys.readouterr().out


def test_bad_error_limit(capsys):
    assert main(["optimize", "--hw", "jetson-orin-nano", "--max-error-db", "30"]) == 2
    assert "--max-error-db=30.0: expected" in capsys.readouterr().err


def test_stack_option(capsys):
    argv = ["optimize", "--hw", "nvidia-a100-sxm4-80gb", "--target-fps", "1", "--format", "json"]
    assert main([*argv, "--stack", "compile"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["space"]["stack"] == ["eager", "compile"]  # the default stack always tried
    assert main(["optimize", "--hw", "jetson-orin-nano", "--stack", "openvino"]) == 2
    err = capsys.readouterr().err
    assert "--stack='openvino': expected values among ['eager']" in err
    # openvino-int8 prices openvino's w8a16 point; it is not searched as a stack: one line says so
    assert main(["optimize", "--hw", "host", "--stack", "openvino-int8"]) == 2
    err = capsys.readouterr().err
    assert "openvino-int8 prices openvino's w8a16 point" in err
    assert "pass --stack openvino" in err
