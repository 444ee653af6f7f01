"""`zoomwatt hardware show` lists a profile's software stacks and every figure's provenance
(source, estimate or fitted), the stacks' figures included."""

from __future__ import annotations

import json

import yaml

from zoomwatt.cli.main import main
from zoomwatt.hardware.loader import PROFILE_DIR


def test_stacks_and_a_fitted_figure_are_shown(tmp_path, capsys):
    data = yaml.safe_load((PROFILE_DIR / "h100-sxm.yaml").read_text())
    data["stacks"]["compile"]["kernel_overhead"] = {"value": 2, "unit": "us", "fitted": "a test"}
    path = tmp_path / "my-h100.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["hardware", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "stacks eager, compile, tensorrt (default eager)" in out
    row = next(line for line in out.splitlines() if line.startswith("stacks.compile.kernel"))
    assert "2 us" in row and "fitted: a test" in row and "None" not in row
    assert main(["hardware", "show", str(path), "--format", "json"]) == 0
    fields = {r["field"]: r for r in json.loads(capsys.readouterr().out)["fields"]}
    assert fields["stacks.compile.kernel_overhead"]["fitted"] == "a test"


def test_a_shipped_profile_shows_the_fitted_figures_predictions_use(capsys):
    """The evidence set's fitted stack figures (hardware/data/fitted_stacks.yaml) are what a
    prediction on a shipped profile uses; `hardware show` lists them with their provenance."""
    from zoomwatt.hardware import load_profile
    from zoomwatt.hardware.stacks import resolve_stack

    assert main(["hardware", "show", "nvidia-a100-sxm4-80gb"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("stacks.eager.host_issue"))
    host_issue = resolve_stack(load_profile("nvidia-a100-sxm4-80gb"), "eager").host_issue
    assert host_issue is not None and host_issue.is_fitted
    assert host_issue.as_text() in row and "fitted: eager fit" in row
    assert "fitted to published measurements (zoomwatt validate)" in out.splitlines()[-1]
