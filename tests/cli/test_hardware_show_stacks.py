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
