"""Predicted vs measured per lever, on the tiny pipeline (figures are not the full model's: the
prediction is of the full-size workload; this checks the mechanics and the result's shape)."""

from __future__ import annotations

import json

import pytest

from zoomwatt.measurement import lever_check
from zoomwatt.pipeline.backends.levers import parse_levers


@pytest.fixture(scope="module")
def tiny_check(tiny_sd2_dir):
    from diffusers import StableDiffusionInpaintPipeline

    from zoomwatt.hardware import host_calibration, load_profile

    pipe = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)
    mp = pytest.MonkeyPatch()  # no calibration in tests: a shipped CPU profile stands in
    mp.setattr(host_calibration, "load_host_profile", lambda **_: load_profile("rpi5"))
    options = lever_check.LeverCheckOptions(
        levers=parse_levers("no-cfg,every=16,deepcache=2,2:4"),
        size=64,
        steps=2,
        rounds=1,
        recalibrate=False,
    )
    try:
        yield lever_check.check_levers(options, pipeline=pipe)
    finally:
        mp.undo()


def test_every_lever_is_listed_and_the_unrunnable_one_says_why(tiny_check):
    names = [r.name for r in tiny_check.levers]
    assert names == ["no-cfg", "every=16", "deepcache=2", "2:4"]
    sparse = tiny_check.levers[-1]
    assert sparse.status.startswith("not measurable here: ") and sparse.measured_speedup is None
    assert sparse.predicted_speedup == pytest.approx(1.0, rel=1e-9)  # no sparse peak on rpi5
    for row in tiny_check.levers[:3]:
        assert row.measured_speedup > 0 and row.predicted_speedup > 0
        # error_pct is predicted / measured - 1, computed from the two figures shown
        assert row.error_pct == pytest.approx(
            (row.predicted_speedup / row.measured_speedup - 1) * 100, rel=1e-12
        )
        assert row.status in ("within target", "outside target")
        assert "random weights" in row.quality
    assert tiny_check.combined.levers == ("no-cfg", "every=16", "deepcache=2")


def test_predictions_follow_the_traced_workload(tiny_check):
    by = {r.name: r for r in tiny_check.levers}
    # every=16 against N=8: the keyframe is shared by twice the frames; frame work is per frame
    assert by["every=16"].predicted_keyframe_s == pytest.approx(
        tiny_check.baseline.predicted_keyframe_s, rel=1e-12
    )
    assert by["every=16"].predicted_speedup == pytest.approx(2.0, rel=0.05)
    # deepcache=2 at 2 steps: 1 full + 1 shallow UNet call, so faster than the baseline
    assert 1.0 < by["deepcache=2"].predicted_speedup < 2.0
    assert by["no-cfg"].predicted_speedup > 1.0


def test_json_and_saved_result(tiny_check, tmp_path):
    from zoomwatt.cli.measure_levers import render, to_json

    data = to_json(tiny_check)
    json.dumps(data)  # JSON-able
    row = data["levers"][0]
    assert {"name", "predicted_speedup", "measured_speedup", "error_pct", "status"} <= set(row)
    assert "keyframe_error_pct" in data["combined"]
    path = lever_check.save_lever_check(tiny_check, tmp_path)
    back = lever_check.load_lever_check(tmp_path)
    assert path.exists() and back.levers[0].name == "no-cfg"
    text = render(tiny_check)
    assert "not measurable here" in text and "within 15%" in text


def test_plan_levers_scale_to_the_run():
    from zoomwatt.measurement.lever_check import LeverCheckOptions, levers_for_run

    workload = {"resolution_px": 512, "steps": 20, "every": 30}
    run = LeverCheckOptions(levers=parse_levers("no-cfg"), size=128, steps=4, frames_per_keyframe=8)
    out = levers_for_run(parse_levers("resolution=256,steps=5,every=120,no-cfg"), workload, run)
    # 128 x 256/512 = 64 px; 4 x 5/20 = 1 step; 8 x 120/30 = 32 frames per keyframe
    assert [lv.text() for lv in out] == ["resolution=64", "steps=1", "every=32", "no-cfg"]


def test_report_section_shows_every_lever_and_the_plan(tiny_check, tmp_path):
    import dataclasses

    from zoomwatt.reporting.levers_section import collect_levers, levers_html

    assert levers_html(None, "no lever measurement yet") == ""  # shown only when saved
    lever_check.save_lever_check(tiny_check, tmp_path)
    result, note = collect_levers(tmp_path)
    assert note is None
    plan = {
        "label": "256px no-CFG",
        "pick": "best",
        "device": {"hardware": "jetson-orin-nano"},
        "stack": "eager",
        "made_by": "zoomwatt optimize --hw jetson-orin-nano",
        "levers": [{"name": "no-cfg", "value": True}],
        "predicted": {"output_fps": 10.5, "energy_per_frame_j": 0.5},
    }
    page = levers_html(dataclasses.replace(result, plan=plan), None)
    assert "What each lever bought here" in page and "<svg" in page
    for name in ("no-cfg", "every=16", "deepcache=2", "2:4", "combined"):
        assert f"<td>{name}</td>" in page
    assert "not measurable here" in page and "256px no-CFG" in page
    assert collect_levers(tmp_path / "none")[0] is None


def test_the_combined_plan_is_judged_on_its_keyframe_latency(tiny_check):
    c = tiny_check.combined
    error = (c.predicted_keyframe_s / c.measured_keyframe_s - 1) * 100
    assert tiny_check.combined_keyframe_error_pct == pytest.approx(error, rel=1e-12)
    within = abs(error) <= lever_check.COMBINED_TARGET_PCT
    assert c.status == ("within target" if within else "outside target")


def test_openvino_lever_predicts_on_its_stack_without_eager_conv_kernels(monkeypatch):
    from zoomwatt.hardware import load_profile
    from zoomwatt.measurement import conv_kernels
    from zoomwatt.measurement.lever_workload import lever_stack, predict_levers
    from zoomwatt.pipeline.backends.levers import parse_levers
    from zoomwatt.workload.spec import WorkloadSpec

    assert lever_stack(parse_levers("openvino,taesd")) == "openvino"
    assert lever_stack(parse_levers("compile")) == "compile"
    assert lever_stack(parse_levers("taesd")) is None  # the profile's default stack
    profile = load_profile("intel-meteorlake-npu")  # a shipped profile that lists openvino
    base = WorkloadSpec(size=128, steps=2, cfg=False, dtype="fp16", every=8)  # an NPU's dtype
    ov = parse_levers("openvino")
    # which kernel eager PyTorch picks depends on the CPU (fp16 convs go to oneDNN where the CPU
    # has AVX512-FP16, to the native kernel elsewhere): here every conv is native, on any CPU
    monkeypatch.setattr(conv_kernels, "cpu_backend", lambda call, dtype="fp32": conv_kernels.NATIVE)
    # eager PyTorch's conv kernel choice (im2col for small batch-1 convs) is not OpenVINO's:
    # with host_kernels the openvino prediction is the same as without (exactly: one path)
    assert predict_levers(base, ov, profile, True) == predict_levers(base, ov, profile, False)
    assert predict_levers(base, (), profile, True) != predict_levers(base, (), profile, False)


class _FakeMeter:
    """An energy counter that reads 10 J for every baseline period and 5 J for any other."""

    available, name, reason = True, "fake counter", None

    def begin(self, window):
        self.window = window

    def end(self, window):
        from zoomwatt.measurement.energy_meter import EnergyReading

        return EnergyReading(window, 0.0, 10.0 if window == "baseline" else 5.0)


def test_energy_per_lever_where_a_counter_reads(tiny_sd2_dir, monkeypatch):
    from diffusers import StableDiffusionInpaintPipeline

    from zoomwatt.cli.measure_levers import render, to_json
    from zoomwatt.hardware import host_calibration, load_profile

    pipe = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)
    monkeypatch.setattr(host_calibration, "load_host_profile", lambda **_: load_profile("rpi5"))
    options = lever_check.LeverCheckOptions(
        levers=parse_levers("every=16,2:4"), size=64, steps=1, rounds=1, recalibrate=False
    )
    result = lever_check.check_levers(options, pipeline=pipe, meter=_FakeMeter())
    assert result.energy_meter == "fake counter"
    assert result.baseline.measured_energy_per_frame_j == pytest.approx(10 / 8)  # N = 8
    every, sparse = result.levers
    assert every.measured_energy_per_frame_j == pytest.approx(5 / 16)  # N = 16
    assert every.measured_energy_saving == pytest.approx((10 / 8) / (5 / 16))  # = 4.0
    # every=16 shares the keyframe by twice the frames: the model's saving is about 2x
    assert every.predicted_energy_saving == pytest.approx(2.0, rel=0.05)
    assert every.energy_error_pct == pytest.approx(
        (every.predicted_energy_saving / every.measured_energy_saving - 1) * 100, rel=1e-12
    )
    assert every.energy_status == "measured"
    assert sparse.energy_status.startswith("not measurable here: ")  # 2:4 cannot run here
    text = render(result)
    assert "energy (fake counter):" in text
    assert to_json(result)["levers"][0]["measured_energy_saving"] == pytest.approx(4.0)


def test_energy_says_why_without_a_counter(tiny_check):
    from zoomwatt.cli.measure_levers import render

    if tiny_check.baseline.energy_status == "measured":
        pytest.skip("this machine has an energy counter")
    assert tiny_check.energy_meter.startswith("not measurable here: ")
    for row in (tiny_check.baseline, *tiny_check.levers):
        assert row.energy_status.startswith("not measurable here: ")
        assert row.measured_energy_saving is None
    assert row.predicted_energy_saving is not None or row.predicted_speedup is None
    assert f"energy: {tiny_check.energy_meter}" in " ".join(render(tiny_check).split())


def test_machine_drift_against_the_calibration_speed():
    cal = {"reference_kernel": {"before_ops_per_s": 200e9, "after_ops_per_s": 210e9}}
    # calibration's own move: (210 - 200) / 200 = +5%; its median speed 205e9
    assert lever_check.machine_drift_pct(cal, []) == pytest.approx(5.0)
    # after the rounds 205 (0%) and 164 GOP/s: (164 - 205) / 205 = -20%, the worst
    assert lever_check.machine_drift_pct(cal, [205e9, 164e9]) == pytest.approx(-20.0)
    assert lever_check.machine_drift_pct(None, [164e9]) is None  # not calibrated here
    assert lever_check.machine_drift_pct({"reference_kernel": {}}, [1e9]) is None


KEY = "stream_ops_per_s"  # the streaming kernel; the fresh-page one is judged alike


def test_memory_drift_is_the_median_streaming_reading_against_calibrations_mean():
    kernel = {"before_ops_per_s": 2e11, "before_stream_ops_per_s": 100e9,
              "after_ops_per_s": 2e11, "after_stream_ops_per_s": 140e9}  # fmt: skip
    cal = {"reference_kernel": kernel}  # calibration's mean: (100 + 140) / 2 = 120 GOP/s
    # rounds 150, 90 and 180 GOP/s: median 150; (150 - 120) / 120 = +25%
    assert lever_check.median_drift_pct(cal, [150e9, 90e9, 180e9], KEY) == pytest.approx(25.0)
    assert lever_check.median_drift_pct(cal, [None], KEY) is None  # not read after the rounds
    assert lever_check.median_drift_pct({"reference_kernel": {}}, [150e9], KEY) is None


def test_a_shipped_profile_is_not_watched(tiny_check):
    # the tiny check runs on a shipped profile (no calibration here): nothing to watch
    assert tiny_check.reference_drift_pct is None
    assert tiny_check.combined.status in ("within target", "outside target")


@pytest.mark.parametrize(
    ("reading", "kernel"),
    [
        # the matmul at 150 GOP/s: (150 - 200) / 200 = -25%; no streaming kernel read
        ({"ops_per_s": 1.5e11, "stream_ops_per_s": None}, "reference kernel -25%"),
        # the matmul steady; the streaming kernel at 90 against 120: (90 - 120) / 120 = -25%
        ({"ops_per_s": 2e11, "stream_ops_per_s": 0.9e11}, "streaming reference kernel -25%"),
        # both steady; fresh pages faulted in at 7.5 GB/s against 5: (7.5 - 5) / 5 = +50%
        (
            {"ops_per_s": 2e11, "stream_ops_per_s": 1.2e11, "fault_bytes_per_s": 7.5e9},
            "fresh-page reference kernel +50%",
        ),
    ],
)
def test_a_moved_machine_makes_the_combined_latency_not_comparable(
    tiny_sd2_dir, monkeypatch, reading, kernel
):
    import dataclasses

    from diffusers import StableDiffusionInpaintPipeline

    from zoomwatt.hardware import host_calibration, load_profile

    ref = {"kernel": "fp32 512x512x512 matmul", "stream_kernel": "fp32 linear",
           "before_ops_per_s": 2e11, "after_ops_per_s": 2e11,
           "before_stream_ops_per_s": 1.2e11, "after_stream_ops_per_s": 1.2e11,
           "fault_kernel": "a fresh 64 MiB buffer", "before_fault_bytes_per_s": 5e9,
           "after_fault_bytes_per_s": 5e9}  # fmt: skip
    profile = dataclasses.replace(load_profile("rpi5"), calibration={"reference_kernel": ref})
    monkeypatch.setattr(host_calibration, "load_host_profile", lambda **_: profile)
    monkeypatch.setattr(lever_check, "_reference_fn", lambda *_: lambda: reading)
    pipe = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)
    options = lever_check.LeverCheckOptions(
        levers=parse_levers("every=16,no-cfg"), size=64, steps=1, rounds=1, recalibrate=False
    )
    result = lever_check.check_levers(options, pipeline=pipe)
    assert result.combined.status == (
        f"not comparable: machine speed moved ({kernel} from its calibration speed)"
    )
    assert result.levers[0].status in ("within target", "outside target")  # ratios: judged
    matmul_gops = reading["ops_per_s"] / 1e9
    assert any(f"after each round {matmul_gops:.0f} GOP/s" in n for n in result.notes)


def test_the_combined_run_leaves_out_a_lever_that_cannot_go_with_an_earlier_one(
    tiny_sd2_dir, monkeypatch
):
    # on a CPU with native bf16 (AVX512-BF16) the default set held int8-dynamic and bf16, and
    # the combined run crashed in torch's dynamic int8 linear; this CPU is made to have it
    from diffusers import StableDiffusionInpaintPipeline

    from zoomwatt.hardware import host_calibration, load_profile
    from zoomwatt.pipeline.backends import levers

    pipe = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)
    monkeypatch.setattr(host_calibration, "load_host_profile", lambda **_: load_profile("rpi5"))
    monkeypatch.setattr(levers, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    options = lever_check.LeverCheckOptions(
        levers=parse_levers("int8-dynamic,every=16,bf16"),
        size=64,
        steps=1,
        rounds=1,
        recalibrate=False,
    )
    result = lever_check.check_levers(options, pipeline=pipe)
    assert [r.name for r in result.levers] == ["int8-dynamic", "every=16", "bf16"]
    assert result.levers[2].measured_speedup is not None  # bf16 alone runs
    assert result.combined.levers == ("int8-dynamic", "every=16")
    assert any("combined: bf16 left out: it cannot go with int8-dynamic" in n for n in result.notes)


def test_levers_that_must_run_together_are_refused_when_they_cannot(tiny_sd2_dir, monkeypatch):
    from zoomwatt.errors import InputError
    from zoomwatt.hardware import host_calibration, load_profile
    from zoomwatt.pipeline.backends import levers

    monkeypatch.setattr(levers, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    monkeypatch.setattr(host_calibration, "load_host_profile", lambda **_: load_profile("rpi5"))
    for extra in ({"combined_only": True}, {"plan": {"schema": "zoomwatt-plan"}}):
        options = lever_check.LeverCheckOptions(
            levers=parse_levers("int8-dynamic,bf16"), size=64, steps=1, rounds=1,
            recalibrate=False, **extra,
        )  # fmt: skip
        with pytest.raises(InputError, match="int8-dynamic with bf16"):
            lever_check.check_levers(options, pipeline=object())  # refused before it runs


def test_a_retain_memory_period_is_measured_after_an_unmeasured_one_with_memory_kept(
    monkeypatch,
):
    """Its steady state in a zoom: the allocator keeps freed memory for a period that grows the
    heap, then the measured one; set back after both. Another configuration's period starts
    from a trimmed heap."""
    from contextlib import contextmanager

    from zoomwatt.pipeline.allocator import AllocatorSetting

    log: list[str] = []

    @contextmanager
    def retained():
        log.append("retain")
        yield AllocatorSetting(True, True, "kept")
        log.append("release")

    def period(config, options, meter):
        log.append(f"period {config.name}")
        return (len(log), 0.0, None, None)  # the keyframe seconds: which call this was

    monkeypatch.setattr(lever_check, "freed_memory_retained", retained)
    monkeypatch.setattr(lever_check, "release_freed_memory", lambda: log.append("trim"))
    monkeypatch.setattr(lever_check, "_period", period)
    kept = lever_check._Config("retain-memory", parse_levers("retain-memory"), {})
    base = lever_check._Config("baseline", (), {})
    assert lever_check._run_once(kept, None, None)[0] == 3  # the second period is returned
    assert lever_check._run_once(base, None, None)[0] == 6
    assert log == ["retain", "period retain-memory", "period retain-memory", "release",
                   "trim", "period baseline"]  # fmt: skip


def test_the_fault_note_gives_each_configuration_its_median_period():
    base = lever_check._Config("baseline", (), {})
    base.faulted_bytes = [2 * 2**30, 3 * 2**30, 8 * 2**30]  # median 3 GiB
    kept = lever_check._Config("retain-memory", parse_levers("retain-memory"), {})
    kept.faulted_bytes = [0, 2**29, 2**30]  # median 0.5 GiB
    unread = lever_check._Config("no-cfg", parse_levers("no-cfg"), {})  # none counted
    assert lever_check.fault_note([base, kept, unread]) == (
        "page faults per measured keyframe period (median, GiB of 4 KiB pages): "
        "baseline 3.00, retain-memory 0.50"
    )
    assert lever_check.fault_note([unread]) is None
