"""``validate`` and ``zoomwatt measure`` on the tiny SD2 pipeline: the JSON schema, the files
the report reads, the warm-up keyframe excluded."""

from __future__ import annotations

import json

import pytest

from zoomwatt.cli.main import main
from zoomwatt.errors import InputError
from zoomwatt.measurement import (
    NullEnergyMeter,
    ValidateOptions,
    load_result,
    save_result,
    validate,
)

TINY = dict(
    size=64,
    steps=1,
    keyframes=3,
    warmup_keyframes=1,
    frames_per_keyframe=2,
    text_repeats=1,
    energy=False,
    calibration_plan="tiny",
    device="cpu",
)


@pytest.fixture(scope="module")
def tiny_result(tiny_sd2_dir, tmp_path_factory):
    import os

    from diffusers import StableDiffusionInpaintPipeline

    old = os.environ.get("ZOOMWATT_CACHE_DIR")
    os.environ["ZOOMWATT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        pipe = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)
        return validate(
            ValidateOptions(**TINY), pipeline=pipe, meter=NullEnergyMeter("test: no counter")
        )
    finally:
        if old is None:
            del os.environ["ZOOMWATT_CACHE_DIR"]
        else:
            os.environ["ZOOMWATT_CACHE_DIR"] = old


def test_validate_json_schema(tiny_result):
    from zoomwatt.cli.measure_command import to_json

    data = json.loads(json.dumps(to_json(tiny_result)))
    assert data["device"] and data["kind"] == "validate"
    names = [s["name"] for s in data["stages"]]
    assert names[:4] == ["text_encoder", "vae_encoder", "unet", "vae_decoder"]
    for stage in data["stages"]:
        for key in ("name", "predicted_latency_s", "measured_latency_s", "error_pct"):
            assert key in stage
    unet = next(s for s in data["stages"] if s["name"] == "unet")
    assert unet["measured_latency_s"] > 0 and unet["predicted_latency_s"] > 0
    assert unet["error_pct"] == pytest.approx(
        100
        * (unet["predicted_latency_s"] - unet["measured_latency_s"])
        / unet["measured_latency_s"]
    )
    # 2 measured keyframes x 1 DDIM step: 2 UNet calls, the warm-up keyframe's call excluded
    assert len(unet["per_call"]["samples_s"]) == 2
    assert len(unet["per_call"]["warmup_s"]) == 1
    assert data["keyframe"]["predicted_latency_s"] > 0
    assert data["energy_note"] == "not measured: test: no counter"
    assert "measured_energy_j" not in unet  # only where measured


def test_results_are_kept_for_the_report(tiny_result, tmp_path):
    path = save_result(tiny_result, tmp_path)
    assert path.is_file() and (tmp_path / "latest.json").is_file()
    again = load_result(tmp_path)
    assert again.to_dict() == json.loads(json.dumps(tiny_result.to_dict()))


def test_missing_measurement_file_says_how_to_make_one(tmp_path):
    with pytest.raises(InputError, match="zoomwatt measure --validate"):
        load_result(tmp_path / "nothing")


@pytest.mark.parametrize(
    "change, argument",
    [({"size": 100}, "size"), ({"keyframes": 1}, "keyframes"), ({"steps": 0}, "steps")],
)
def test_bad_options_name_the_argument(change, argument):
    with pytest.raises(InputError, match=f"^{argument}="):
        validate(ValidateOptions(**{**TINY, **change}))


def test_measure_cli_json_and_files(tiny_result, tmp_path, monkeypatch, capsys):
    import zoomwatt.measurement.validation as validate_module

    monkeypatch.setattr(validate_module, "validate", lambda options, progress=None: tiny_result)
    results = tmp_path / "results"
    code = main(["measure", "--validate", "--format", "json", "--results", str(results)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert {"stages", "device"} <= set(data)
    assert (results / "latest.json").is_file()
    code = main(["measure", "--validate", "--no-save", "--quiet"])
    out = capsys.readouterr().out
    assert "predicted" in out and "unet" in out and "not measured" in out


def test_measure_recalibrates_unless_told_to_keep(tiny_result, monkeypatch):
    import zoomwatt.measurement.validation as validate_module

    seen = []

    def fake(options, progress=None):
        seen.append(options.recalibrate)
        return tiny_result

    monkeypatch.setattr(validate_module, "validate", fake)
    assert main(["measure", "--validate", "--no-save", "--quiet"]) == 0
    assert main(["measure", "--validate", "--no-save", "--quiet", "--keep-calibration"]) == 0
    assert seen == [True, False]
