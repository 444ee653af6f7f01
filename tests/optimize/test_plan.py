"""The plan file: written by `optimize --plan-out`, read strictly, applied by zoom and measure."""

from __future__ import annotations

import json

import pytest

from zoomwatt.errors import InputError
from zoomwatt.optimizer.plan import (
    PREDICTED_FIELDS,
    levers_of,
    make_plan,
    pick_candidate,
    read_plan,
    write_plan,
)
from zoomwatt.optimizer.search import baseline_knobs


def test_levers_of_knobs_names_every_change():
    base = baseline_knobs("15W")
    knobs = base | {
        "resolution_px": 256,
        "cfg": False,
        "vae": "taesd",
        "steps": 5,
        "every": 120,
        "quant": "w8a8",
        "sparsity": "2:4",
        "share_bits": 4,
        "stack": "openvino",
        "operating_point": "7W",
        "layerwise_frequency": True,
    }
    texts = [lv.text() for lv in levers_of(knobs, base)]
    assert texts == [
        "resolution=256",
        "no-cfg",
        "taesd",
        "steps=5",
        "every=120",
        "int8-dynamic",
        "2:4",
        "share=4",
        "openvino",
        "operating-point=7W",
        "layer-dfs",
    ]
    assert levers_of(base, base) == ()  # the baseline: no lever
    # a stack without a lever of this package (Core ML) is the plan's stack, not a lever
    assert levers_of(base | {"stack": "coreml"}, base) == ()


def test_plan_round_trip_and_picks(orin_result, tmp_path):
    plan = make_plan(orin_result, "least-change")
    assert plan.label == orin_result.least_change.label
    assert plan.stack == orin_result.least_change.knobs["stack"]
    assert plan.predicted["output_fps"] == orin_result.least_change.output_fps
    assert plan.baseline_predicted["output_fps"] == orin_result.baseline.output_fps
    path = write_plan(plan, tmp_path / "p.json")
    back = read_plan(path)
    assert back.to_dict() == plan.to_dict()
    assert pick_candidate(orin_result, "fastest") == orin_result.fastest
    label = orin_result.pareto[0].label
    assert pick_candidate(orin_result, label).label == label
    with pytest.raises(InputError, match="--pick"):
        pick_candidate(orin_result, "no such point")


def _plan_data(orin_result) -> dict:
    return make_plan(orin_result, "best").to_dict()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("levers"), "plan levers"),
        (lambda d: d.update(extra=1), "plan extra"),
        (lambda d: d.update(schema_version=2), "plan schema_version"),
        (lambda d: d["workload"].update(steps="20"), "plan workload.steps"),
        (lambda d: d["workload"].pop("every"), "plan workload.every"),
        (lambda d: d["levers"].append({"name": "warp", "value": 1}), "plan levers["),
        (lambda d: d["levers"].append({"name": "steps", "value": 0}), "plan levers["),
        (lambda d: d["predicted"].update(output_fps=True), "plan predicted.output_fps"),
        (lambda d: d["device"].pop("hardware"), "plan device.hardware"),
    ],
)
def test_bad_plan_is_one_error_naming_the_field(orin_result, tmp_path, change, field):
    data = _plan_data(orin_result)
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        read_plan(path)
    assert err.value.argument.startswith(field)
    assert "\n" not in str(err.value)


def test_unreadable_plan_files(tmp_path):
    with pytest.raises(InputError, match="--plan"):
        read_plan(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputError, match="a JSON plan file"):
        read_plan(tmp_path / "x.json")


def test_optimize_cli_writes_the_plan_and_prints_how_to_apply_it(tmp_path, capsys):
    from zoomwatt.cli.main import main

    out = tmp_path / "plan.json"
    assert (
        main(
            [
                "optimize",
                "--hw",
                "jetson-orin-nano",
                "--target-fps",
                "10",
                "--plan-out",
                str(out),
                "--pick",
                "least-change",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert f"zoomwatt measure --plan {out} --validate" in text
    assert f"zoomwatt zoom --backend sd2 --plan {out}" in text
    plan = read_plan(out)
    assert plan.pick == "least-change" and plan.hardware == "jetson-orin-nano"
    assert plan.stack == "eager" and plan.workload["target_fps"] == 10.0
    assert plan.levers  # 10 fps on the Orin needs give-ups


def test_measure_plan_names_levers_it_cannot_run(tmp_path, capsys):
    """Without --skip-unavailable a plan lever this CPU cannot run stops the run, named."""
    from zoomwatt.cli.main import main
    from zoomwatt.optimizer.plan import Plan
    from zoomwatt.pipeline.backends.levers import Lever

    plan = Plan(
        "x",
        "best",
        "host",
        "this machine",
        "eager",
        {
            "pipeline": "sd2-inpaint",
            "resolution_px": 512,
            "steps": 20,
            "cfg": True,
            "vae": "default",
            "every": 30,
            "baseline_quant": "fp16",
            "target_fps": 30.0,
        },
        (Lever("no-cfg", True), Lever("2:4", True)),
        dict.fromkeys(PREDICTED_FIELDS, 1.0),
        dict.fromkeys(PREDICTED_FIELDS, 1.0),
        None,
        True,
        "test",
        "2026-12-01",
    )
    path = write_plan(plan, tmp_path / "p.json")
    assert main(["measure", "--plan", str(path), "--no-save", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "2:4" in err and "sparse tensor cores" in err and "--skip-unavailable" in err
