"""The non-AI power budget: class defaults, profile overrides, user overrides."""

from __future__ import annotations

import pytest

from zoomwatt.errors import InputError
from zoomwatt.hardware import NON_AI_BLOCKS, load_profile
from zoomwatt.perfmodel import non_ai_budget
from zoomwatt.perfmodel.non_ai_budget import DEFAULTS


def test_phone_defaults_have_sources():
    budget = non_ai_budget(load_profile("snapdragon-8gen3"))
    assert [b.name for b in budget.blocks] == list(NON_AI_BLOCKS)
    # 0.8 camera + 0.25 encode + 1.0 display + 0.05 DRAM = 2.1 W
    assert budget.power_w == pytest.approx(2.1)
    assert all(b.source for b in budget.blocks)


def test_profile_and_user_overrides():
    nano = load_profile("jetson-orin-nano")  # no hardware encoder: its profile says 1.5 W
    budget = non_ai_budget(nano)
    assert budget.as_dict()["video_encode"]["power_w"] == 1.5
    assert "profile jetson-orin-nano" in budget.as_dict()["video_encode"]["source"]
    user = non_ai_budget(nano, {"display": 0.0})
    # 0.5 camera + 1.5 encode + 0 display + 0.05 DRAM = 2.05 W
    assert user.power_w == pytest.approx(2.05)
    assert user.as_dict()["display"]["source"] == "set by the user"


def test_every_class_has_every_block():
    for blocks in DEFAULTS.values():
        assert set(blocks) == set(NON_AI_BLOCKS)


@pytest.mark.parametrize("overrides", [{"speaker": 1.0}, {"display": -1.0}])
def test_bad_overrides(overrides):
    with pytest.raises(InputError):
        non_ai_budget(load_profile("rpi5"), overrides)
