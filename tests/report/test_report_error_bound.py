"""The report's "meets targets" honours the error bound (it used to search with no bound, so
rows with -0.3 dB of noise, as large as the signal, were marked as meeting a -20 dB bound)."""

from __future__ import annotations

import pytest

from zoomwatt.errors import InputError
from zoomwatt.reporting.report_data import ReportOptions, _optimizer


def _lossy_meeting(result, bound):
    return [
        c
        for c in result.pareto
        if c.meets_targets and c.error_db is not None and c.error_db > bound
    ]


def test_report_front_meets_only_within_the_bound():
    result, note = _optimizer(ReportOptions(fps=10.0))
    assert note is None and result.max_error_db == -20.0
    assert _lossy_meeting(result, -20.0) == []
    assert all(c.error_db is None or c.error_db <= -20.0 for c in result.pareto)
    # without a bound (what the report did before) such rows exist: the test can fail
    loose, _ = _optimizer(ReportOptions(fps=10.0, max_error_db=None))
    assert _lossy_meeting(loose, -20.0)


def test_bad_bound_is_refused():
    with pytest.raises(InputError, match="max_error_db"):
        ReportOptions(max_error_db=5.0).check()
