"""How a point's error is had: one measured choice, a combination measured applied together, or
measured parts added as independent noises (optimizer.error_table) -- and that the optimizer's
front says which."""

from __future__ import annotations

import math

import pytest

from zoomwatt.optimizer.error_table import ErrorTable, combination_key

TABLE = ErrorTable({"w8a8": -30.0, "2:4": -20.0}, {}, {"2:4+w8a8": -18.0})


def test_a_combination_measured_together_is_taken_as_measured():
    assert combination_key(["w8a8", "2:4"]) == "2:4+w8a8"  # sorted parts
    assert TABLE.error_db(["w8a8", "2:4"]) == -18.0
    assert TABLE.basis(["w8a8", "2:4"]) == "measured"


def test_other_combinations_add_their_parts_as_independent_noises():
    table = ErrorTable({"w8a8": -30.0, "2:4": -20.0}, {})
    # 10 log10(10^-3 + 10^-2) = 10 log10(0.011) = -19.586 dB
    assert table.error_db(["w8a8", "2:4"]) == pytest.approx(10 * math.log10(0.011), abs=1e-12)
    assert table.basis(["w8a8", "2:4"]) == "parts added"
    assert table.basis(["w8a8"]) == "measured"
    assert table.basis([]) is None


def test_the_front_says_how_each_error_was_had():
    from zoomwatt.api import optimize
    from zoomwatt.optimizer.error_table import shipped_error_table

    combined = shipped_error_table().combined_db
    result = optimize(hw="jetson-orin-nano")
    assert any(point.lossy for point in result.pareto)  # the front has lossy points to judge
    for point in result.pareto:
        if point.error_db is None:
            assert point.error_basis is None and not point.lossy
        else:
            together = len(point.lossy) == 1 or combination_key(point.lossy) in combined
            assert point.error_basis == ("measured" if together else "parts added"), point.label


def test_a_combination_with_a_noiseless_part_only_is_minus_infinity():
    table = ErrorTable({"fp16": -math.inf}, {})
    assert table.error_db(["fp16"]) == -math.inf
    assert table.error_db([]) is None
