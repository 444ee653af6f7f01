"""``zoomwatt predict --hw all`` on the real traced workload (slow: traces SD2 on meta)."""

from __future__ import annotations

import pytest

from zoomwatt.cli.main import main

pytestmark = pytest.mark.slow


def test_predict_all_on_the_traced_workload(capsys):
    assert main(["predict", "--hw", "all"]) == 0
    out = capsys.readouterr().out
    h100 = next(line for line in out.splitlines() if line.startswith("h100-sxm"))
    assert " yes " in h100  # the H100 reaches 30 fps with 1 keyframe in 30
