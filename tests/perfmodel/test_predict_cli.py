"""``zoomwatt predict`` on hand-built SD-shaped stages (the tracer is not used here)."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest
from perf_helpers import sd_like_stages

from zoomwatt.cli import predict_command
from zoomwatt.errors import InputError
from zoomwatt.hardware import shipped_profile_names
from zoomwatt.perfmodel import Workload, workload_adapter


@pytest.fixture(autouse=True)
def fake_workload(monkeypatch):
    """The road's first half (characterize, then stages) replaced by hand-built stages."""
    seen = {}

    def load(spec, *, cache=True):
        seen.update(dataclasses.asdict(spec))
        return Workload(spec, None, tuple(sd_like_stages(spec.dtype)))

    monkeypatch.setattr(workload_adapter, "load_workload", load)
    return seen


def run(argv, capsys):
    parser = argparse.ArgumentParser(prog="zoomwatt")
    sub = parser.add_subparsers(dest="command")
    predict_command.add_parser(sub)
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    return capsys.readouterr().out


def test_all_devices_table(capsys):
    out = run(["predict", "--hw", "all"], capsys)
    for name in shipped_profile_names():
        assert name in out
    for column in ("keyframe", "max fps", "30fps?", "N@30", "AI W", "non-AI W", "J/frame", "fps/W"):
        assert column in out
    h100 = next(line for line in out.splitlines() if line.startswith("h100-sxm"))
    assert " yes " in h100 and "n/a" in h100


def test_all_devices_json(capsys, fake_workload):
    argv = ["predict", "--hw", "all", "--format", "json", "--every", "10", "--no-cfg"]
    data = json.loads(run(argv, capsys))
    assert fake_workload["every"] == 10 and fake_workload["cfg"] is False
    assert len(data["predictions"]) == len(shipped_profile_names())
    for p in data["predictions"]:
        assert p["frames_per_keyframe"] == 10


def test_single_device(capsys):
    out = run(["predict", "--hw", "jetson-orin-nano", "--battery-wh", "50"], capsys)
    assert "unet" in out and "vae_decoder" in out
    assert "(50 Wh)" in out
    assert "non-AI" in out


def test_single_device_json_fields(capsys):
    data = json.loads(run(["predict", "--hw", "h100-sxm", "--format", "json"], capsys))
    for key in (
        "per_stage",
        "keyframe_latency_s",
        "output_fps",
        "avg_power_w",
        "energy_per_frame_j",
        "fps_per_watt",
        "battery_hours",
        "fits_in_memory",
    ):
        assert key in data
    assert data["battery_hours"] is None
    assert {s["name"] for s in data["per_stage"]} >= {"unet", "vae_encoder", "frame_ops"}


def test_fp32_is_unsupported_on_npus(capsys):
    out = run(["predict", "--hw", "all", "--dtype", "fp32"], capsys)
    assert "snapdragon-8gen3: fp32 not supported" in out


def test_fp32_on_one_npu_is_an_error(capsys):
    with pytest.raises(InputError, match="fp32 not supported"):
        run(["predict", "--hw", "apple-a17-pro", "--dtype", "fp32"], capsys)


def test_non_ai_override(capsys):
    argv = [
        "predict",
        "--hw",
        "rpi5",
        "--format",
        "json",
        "--non-ai",
        "display=0",
        "--non-ai",
        "camera_isp=0",
    ]
    data = json.loads(run(argv, capsys))
    # rpi5: video encode 1.5 W (profile) + DRAM 0.05 W (embedded default)
    assert data["non_ai_power_w"] == pytest.approx(1.55)


@pytest.mark.parametrize(
    "argv",
    [
        ["--hw", "rpi5", "--non-ai", "speaker=1"],
        ["--hw", "rpi5", "--non-ai", "display"],
        ["--hw", "rpi5", "--every", "0"],
        ["--hw", "rpi5", "--fps", "0"],
        ["--hw", "nope"],
    ],
)
def test_bad_arguments(argv, capsys):
    with pytest.raises(InputError):
        run(["predict", *argv], capsys)
