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
from zoomwatt.pipeline.allocator import has_mallopt

TINY = dict(
    size=64,
    steps=1,
    keyframes=3,
    warmup_keyframes=1,
    frames_per_keyframe=2,
    energy=False,
    rounds=2,
    min_clean=1,
    max_rounds=3,
    max_calibrations=2,
    settle_s=0,
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
    from zoomwatt.measurement.host_check import STATUSES, VERDICTS

    data = json.loads(json.dumps(to_json(tiny_result)))
    assert data["device"] and data["kind"] == "validate"
    names = [s["name"] for s in data["stages"]]
    assert names[:4] == ["text_encoder", "vae_encoder", "unet", "vae_decoder"]
    for stage in data["stages"]:
        for key in ("name", "predicted_latency_s", "measured_latency_s", "error_pct"):
            assert key in stage
    unet = next(s for s in data["stages"] if s["name"] == "unet")
    assert unet["measured_latency_s"] > 0
    # 1 DDIM step: 1 UNet call per keyframe (batch 2 with CFG), replayed once per round
    assert unet["calls_per_keyframe"] == 1
    check = data["host_check"]
    assert check["verdict"] in VERDICTS and check["headline"] in data["notes"]
    assert check["cpu_model"] and check["dtype"] == "fp32" and check["size"] == 64
    for stage in check["stages"]:
        assert stage["status"] in STATUSES
        assert stage["predicted_s"] > 0  # every model stage has a prediction
        # rounds 2, max_rounds 3: two samples, a third only where a stage had no clean one
        assert 2 <= len(stage["samples"]) <= 3
        assert all(x["measured_s"] > 0 for x in stage["samples"])
        # a stage that was not comparable shows no model error, here or in the stage table
        comparable = stage["status"] in ("ok", "outside_target")
        assert (stage["error_pct"] is not None) == comparable
        row = next(s for s in data["stages"] if s["name"] == stage["name"])
        assert (row["error_pct"] is not None) == comparable
    if unet["error_pct"] is not None:
        assert unet["error_pct"] == pytest.approx(
            100
            * (unet["predicted_latency_s"] - unet["measured_latency_s"])
            / unet["measured_latency_s"]
        )
    # the bf16 note is there on a CPU, native or not
    assert any(note.startswith("bf16: ") for note in check["dtype_notes"])
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
    [
        ({"size": 100}, "size"),
        ({"keyframes": 1}, "keyframes"),
        ({"steps": 0}, "steps"),
        ({"retain_memory": "yes"}, "retain_memory"),
    ],
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
    assert {"stages", "device", "host_check"} <= set(data)
    assert (results / "latest.json").is_file()
    from zoomwatt.measurement.host_check import load_host_check

    assert load_host_check(results).to_dict() == data["host_check"]
    code = main(["measure", "--validate", "--no-save", "--quiet"])
    out = capsys.readouterr().out
    assert "predicted" in out and "unet" in out and "not measured" in out
    assert "host check (" in out and tiny_result.host_check.headline in out


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


def test_measure_retain_memory_reaches_the_check(tiny_result, monkeypatch):
    import zoomwatt.measurement.validation as validate_module

    seen = []

    def fake(options, progress=None):
        seen.append(options.retain_memory)
        return tiny_result

    monkeypatch.setattr(validate_module, "validate", fake)
    assert main(["measure", "--validate", "--no-save", "--quiet"]) == 0
    assert main(["measure", "--validate", "--no-save", "--quiet", "--retain-memory"]) == 0
    assert seen == [False, True]
    # the lever check takes it as a lever, and a plain measurement has no prediction to hold
    for other in (["--levers", "no-cfg", "--validate"], []):
        assert main(["measure", "--retain-memory", "--no-save", "--quiet", *other]) == 2


@pytest.mark.skipif(not has_mallopt(), reason="needs glibc's mallopt")
def test_a_retained_memory_check_measures_and_predicts_with_freed_memory_kept(
    tiny_sd2_dir, tmp_path, monkeypatch
):
    """The allocator is set for the zoom and the rounds and set back after; the prediction
    leaves out the fresh buffers' page faults (perfmodel/device_params.py) and says so."""
    from diffusers import StableDiffusionInpaintPipeline

    import zoomwatt.measurement.validation as validate_module
    from zoomwatt.perfmodel import workload_adapter
    from zoomwatt.pipeline import allocator

    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path))
    calls: list[str] = []
    kept = allocator.AllocatorSetting(True, True, "kept")
    monkeypatch.setattr(allocator, "retain_freed_memory", lambda: calls.append("retain") or kept)
    monkeypatch.setattr(allocator, "release_freed_memory", lambda: calls.append("release"))
    predicted_with: list[bool] = []
    real = workload_adapter.DeviceOptions.predict_options

    def spy(self, spec):
        predicted_with.append(self.retained_memory)
        return real(self, spec)

    monkeypatch.setattr(workload_adapter.DeviceOptions, "predict_options", spy)
    pipe = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)
    one_round = dict(rounds=1, min_clean=1, max_rounds=1, max_calibrations=1)
    result = validate(
        ValidateOptions(**{**TINY, **one_round}, retain_memory=True),
        pipeline=pipe,
        meter=NullEnergyMeter("test: no counter"),
    )
    assert calls == ["retain", "release"]
    assert predicted_with and all(predicted_with)
    assert result.settings["allocator"] == "retained"
    assert validate_module.RETAINED_NOTE in result.notes


def test_measure_rounds_and_retries(tiny_result, monkeypatch, capsys):
    import zoomwatt.measurement.validation as validate_module

    seen = []

    def fake(options, progress=None):
        seen.append((options.rounds, options.min_clean, options.max_rounds))
        return tiny_result

    monkeypatch.setattr(validate_module, "validate", fake)
    assert main(["measure", "--validate", "--no-save", "--quiet", "--rounds", "5"]) == 0
    assert main(["measure", "--no-save", "--quiet"]) == 0  # no --validate: one round, no retry
    assert seen == [(5, 2, 10), (1, 1, 1)]
    assert main(["measure", "--validate", "--no-save", "--quiet", "--rounds", "0"]) == 2
    assert "--rounds=0: expected an integer >= 1" in capsys.readouterr().err


def test_stage_replay_calls_the_module_on_the_zoom_inputs():
    import torch

    from zoomwatt.measurement.stage_replay import CallInputs, timed_window

    seen = []

    class Model(torch.nn.Module):
        def forward(self, x, scale=1.0):
            seen.append((float(x.sum()), scale))
            return x * scale

    model = Model()
    inputs = CallInputs({"unet": model})
    inputs.attach()
    for i in range(3):  # 3 calls, as a zoom's keyframe with 3 steps
        model(torch.full((2,), float(i)), scale=0.5)
    inputs.detach()
    model(torch.ones(2))  # after detach: not kept
    assert len(inputs.calls["unet"]) == 3
    last = inputs.last("unet", 2)
    seen.clear()
    window = timed_window(lambda: [model(*a, **k) for a, k in last], threads=1, sync=lambda: None)
    # the last two calls again: x = [1, 1] and [2, 2] (sums 2 and 4), scale 0.5
    assert seen == [(2.0, 0.5), (4.0, 0.5)]
    assert window.seconds > 0 and window.cpu_share is not None
    with pytest.raises(InputError, match="calls of unet"):
        inputs.last("unet", 4)
