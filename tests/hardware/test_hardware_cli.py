"""``zoomwatt hardware list|show|calibrate``."""

from __future__ import annotations

import argparse
import json

import pytest

from zoomwatt.cli import hardware_command
from zoomwatt.errors import InputError
from zoomwatt.hardware import shipped_profile_names


def run(argv, capsys):
    parser = argparse.ArgumentParser(prog="zoomwatt")
    sub = parser.add_subparsers(dest="command")
    hardware_command.add_parser(sub)
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    return capsys.readouterr().out


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path / "cache"))


def test_list(capsys):
    out = run(["hardware", "list"], capsys)
    for name in shipped_profile_names():
        assert name in out
    assert "989.5 TFLOP/s" in out  # H100 fp16 dense
    assert "host: not calibrated yet" in out


def test_list_json(capsys):
    data = json.loads(run(["hardware", "list", "--format", "json"], capsys))
    names = [p["name"] for p in data["profiles"]]
    assert names == shipped_profile_names()
    assert data["host"] is None


def test_show(capsys):
    out = run(["hardware", "show", "jetson-orin-nano"], capsys)
    assert "memory.bandwidth" in out and "68 GB/s" in out
    assert "source: NVIDIA Jetson Orin Nano datasheet" in out
    assert "estimate:" in out


def test_show_json(capsys):
    data = json.loads(run(["hardware", "show", "h100-sxm", "--format", "json"], capsys))
    fields = {f["field"]: f for f in data["fields"]}
    assert fields["memory.bandwidth"]["si"] == pytest.approx(3.35e12)
    assert "source" in fields["memory.bandwidth"]
    assert "estimate" in fields["energy.mac.fp16"]


def test_show_unknown(capsys):
    with pytest.raises(InputError, match="tpu"):
        run(["hardware", "show", "tpu"], capsys)


def test_calibrate_with_a_fake_probe(capsys, monkeypatch):
    from test_host_calibration import FakeProbe

    import zoomwatt.hardware.host_calibration as host_calibration

    monkeypatch.setattr(host_calibration, "make_probe", lambda device="auto": FakeProbe())
    out = run(["hardware", "calibrate"], capsys)
    assert "cached in" in out and "Fake CPU" in out
    out = run(["hardware", "list"], capsys)
    assert "host" in out and "not calibrated" not in out
