"""`zoomwatt validate`'s computation: every figure a case (held out, in-sample, prior) or a
reason, the error summaries (hand-computed), the targets, and the last host check read back."""

from __future__ import annotations

import pytest

from zoomwatt.errors import InputError
from zoomwatt.evidence.host_check import NOT_RECORDED, last_host_check
from zoomwatt.evidence.results import ErrorSummary
from zoomwatt.evidence.validate import check_targets, validate
from zoomwatt.measurement.results import MeasureResult, StageMeasurement, save_result


@pytest.fixture(scope="module")
def result():
    return validate("published")


def test_error_summary_hand_computed():
    s = ErrorSummary.of([10.0, -20.0, 50.0, -60.0, 100.0])
    assert s.cases == 5 and s.median_abs_error_pct == 50.0 and s.worst_abs_error_pct == 100.0
    # |errors| sorted 10 20 50 60 100: the 80th percentile at rank 0.8 x 4 = 3.2: 60 + 0.2 x 40
    assert s.p80_abs_error_pct == pytest.approx(68.0)
    assert s.within_35_pct_share == pytest.approx(2 / 5)
    # ratios 1.1, 0.8, 1.5, 0.4 (2.5x: beyond), 2.0 (exactly 2x: not beyond)
    assert s.beyond_2x_cases == 1
    assert ErrorSummary.of([]) == ErrorSummary(0, None, None, None, None, 0)


def test_targets_from_a_summary():
    good, bad = ErrorSummary.of([10.0, -15.0, 30.0]), ErrorSummary.of([-60.0, 150.0])
    summary = {"held_out": {"latency": {"all": good}, "energy": {"all": bad}}}
    met = {t.name: t.met for t in check_targets(summary)}
    assert met == {"latency median |error|": True, "latency cases within 35%": True,
                   "latency cases beyond 2x": True, "energy median |error|": False}  # fmt: skip
    # every target says what it does not show: the latency ones rest on two NPU peaks revised
    # with the set in view, the energy one on a rule chosen with its figures in view
    caveats = {t.name: t.caveat for t in check_targets(summary)}
    latency = [c for n, c in caveats.items() if n.startswith("latency")]
    assert len(latency) == 3 and all("snapdragon-8gen2" in c for c in latency)
    assert "in-sample in effect" in caveats["energy median |error|"]


def test_every_figure_is_a_case_or_a_reason(result):
    from zoomwatt.evidence import load_published

    assert [c.id for c in result.cases] == [f.id for f in load_published()]
    for c in result.cases:
        if c.predictable:
            assert c.held_out is True and c.predicted > 0 and c.error_pct is not None
            assert c.error_pct == pytest.approx(100 * (c.predicted - c.published) / c.published)
            assert c.in_sample_predicted > 0 and c.prior_predicted > 0
        else:
            assert c.predicted is None and c.error_pct is None and c.reason


def test_a_stack_without_a_fit_is_its_prior_everywhere(result):
    tensorrt = [c for c in result.cases if c.stack == "tensorrt" and c.predictable]
    assert tensorrt and all(
        c.predicted == c.in_sample_predicted == c.prior_predicted for c in tensorrt
    )
    (stack,) = [s for s in result.stacks if s.stack == "tensorrt"]
    assert not stack.fitted and stack.efficiency_multiplier is None  # one device: not fitted


def test_summary_per_class_and_overall(result):
    latency = result.summary["held_out"]["latency"]
    predicted = [c for c in result.cases if c.predictable and c.group == "latency"]
    assert latency["all"].cases == len(predicted)
    assert sum(s.cases for k, s in latency.items() if k != "all") == len(predicted)
    errors = sorted(abs(c.error_pct) for c in predicted)
    assert latency["all"].worst_abs_error_pct == errors[-1]
    energy = result.summary["held_out"]["energy"]["all"]
    assert energy.cases == sum(1 for c in result.cases if c.predictable and c.group == "energy")


def test_json_shape(result):
    data = result.to_dict()
    for case in data["cases"]:
        assert {"id", "device", "predicted", "published", "unit", "error_pct", "held_out"} <= set(
            case
        )
    assert set(data["summary"]) == {"held_out", "in_sample", "prior"}
    assert {"median_abs_error_pct", "p80_abs_error_pct", "worst_abs_error_pct"} <= set(
        data["summary"]["held_out"]["latency"]["all"]
    )
    assert data["shipped_fit_up_to_date"] is True
    assert len(data["targets"]) == 4


def test_an_unknown_set_is_refused():
    with pytest.raises(InputError, match="set='everything'"):
        validate("everything")


def test_host_check_not_recorded(tmp_path):
    check = last_host_check(tmp_path)
    assert not check.recorded and check.message == NOT_RECORDED
    assert NOT_RECORDED == "no host check recorded: run zoomwatt measure --validate"
    only_host = validate("host", measurements=tmp_path)
    assert only_host.cases == () and only_host.host_check.message == NOT_RECORDED


def _stage(name, predicted, measured):
    return StageMeasurement(name, 1.0, measured, predicted)


def test_host_check_read_back(tmp_path):
    result = MeasureResult(
        kind="validate", device="Test CPU (cpu, 2 threads)", date="2026-12-01T10:00:00+0000",
        settings={}, stages=(_stage("unet", 1.1, 1.0), _stage("vae_decoder", 0.45, 0.5)),
        keyframe=_stage("keyframe", 1.55, 1.5), energy_meter="none", energy_note=None,
        wall_s=1.0, target_error_pct=15.0,
    )  # fmt: skip
    save_result(result, tmp_path)
    check = last_host_check(tmp_path)
    # unet +10%, VAE decoder -10%: worst 10%, within the 15% target
    assert check.recorded and check.worst_error_pct == pytest.approx(10.0)
    assert check.within_target is True
    assert [s["name"] for s in check.stages] == ["unet", "vae_decoder"]
    assert "worst model stage 10%, within the 15% target" in check.message


def test_host_check_file_read_back(tmp_path):
    """What ``measure --validate`` saves (host_check.json) is what validate shows: a busy stage
    has no error, so only the compared stage is listed, and the verdict is not a model error."""
    from zoomwatt.measurement.host_check import HostCheck as Saved
    from zoomwatt.measurement.host_check import HostStageCheck, save_host_check

    def stage(name, predicted, measured, error, status):
        return HostStageCheck(name, predicted, measured, error, status, 0.9, 0.0, 0.0, 1.0, 3, 0)

    saved = Saved(
        date="2026-12-01T12:00:00+0000", device="Test CPU (cpu, 2 threads)", cpu_model="Test CPU",
        cpu_flags=None, pipeline="sd2-inpaint", size=256, steps=2, cfg=True, dtype="fp32",
        target_error_pct=15.0, verdict="busy", headline="not comparable: machine busy (48% of CPU)",
        stages=(stage("vae_encoder", 1.0, 1.03, -2.9, "ok"), stage("unet", 6.3, 9.0, None, "busy")),
        calibrations=(), dtype_notes=("bf16: not native on this CPU: not checked",),
    )  # fmt: skip
    save_host_check(saved, tmp_path)
    check = last_host_check(tmp_path)
    assert check.recorded and check.within_target is None  # busy: neither pass nor fail
    assert check.message.endswith("not comparable: machine busy (48% of CPU)")
    assert [s["name"] for s in check.stages] == ["vae_encoder"]
    assert check.worst_error_pct == pytest.approx(2.9)  # |-2.9|, the one compared stage
    assert check.notes == ("bf16: not native on this CPU: not checked",)
