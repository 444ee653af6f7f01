"""Per-keyframe seeds and prompt schedules."""

from __future__ import annotations

import pytest

from zoomwatt.errors import InputError
from zoomwatt.pipeline.prompts import PromptSchedule, load_schedule
from zoomwatt.pipeline.seeds import keyframe_seed


def test_keyframe_seeds_distinct_and_reproducible():
    seeds = [keyframe_seed(42, i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert seeds == [keyframe_seed(42, i) for i in range(1000)]
    assert keyframe_seed(43, 0) != keyframe_seed(42, 0)
    # SeedSequence is a documented, stable hash: pin one value against silent changes.
    assert keyframe_seed(0, 0) == keyframe_seed(0, 0) == 3757552657


def write(tmp_path, text):
    path = tmp_path / "prompts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_schedule_in_seconds_uses_fps(tmp_path):
    path = write(tmp_path, '# start, prompt\n0, a forest\n2.5, "a city, at night"\n')
    schedule = load_schedule(path, "seconds")
    # N = 30 at 30 fps: keyframe i fills the frame at i*30/30 = i seconds.
    prompts = [schedule.prompt_for(i, 5, 30, 30.0) for i in range(5)]
    assert prompts == ["a forest"] * 3 + ["a city, at night"] * 2  # 3 s >= 2.5 s
    # At 60 fps the same keyframes come twice as fast: keyframe i at i/2 s; 2.5 s -> i >= 5.
    assert schedule.prompt_for(4, 8, 30, 60.0) == "a forest"
    assert schedule.prompt_for(5, 8, 30, 60.0) == "a city, at night"
    # Zoom in: keyframe 4 of 5 is shown first (0 s), keyframe 0 last (4 s).
    assert schedule.prompt_for(4, 5, 30, 30.0, zoom_in=True) == "a forest"
    assert schedule.prompt_for(0, 5, 30, 30.0, zoom_in=True) == "a city, at night"


def test_schedule_in_keyframes(tmp_path):
    schedule = load_schedule(write(tmp_path, "0,a\n3,b\n"), "keyframes")
    assert [schedule.prompt_for(i, 5, 30, 30.0) for i in range(5)] == ["a", "a", "a", "b", "b"]


def test_default_prompt_covers_the_start(tmp_path):
    schedule = load_schedule(write(tmp_path, "2,b\n"), "keyframes", default_prompt="a")
    assert [schedule.prompt_for(i, 4, 30, 30.0) for i in range(4)] == ["a", "a", "b", "b"]


def test_single_prompt():
    assert PromptSchedule.single("x").prompt_for(9, 10, 30, 30.0) == "x"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "at least one"),
        ("# only a comment\n\n", "at least one"),
        ("0,a\n5,b\n3,c\n", "increasing order"),
        ("0,a\n0,b\n", "increasing order"),
        ("zero,a\n", "a number"),
        ("-1,a\n", ">= 0"),
        ("0,\n", "non-empty prompt"),
        ("0\n", "'start, prompt'"),
        ("1,a\n", "first row starting at 0"),
    ],
)
def test_bad_schedules(tmp_path, text, fragment):
    with pytest.raises(InputError) as info:
        load_schedule(write(tmp_path, text), "seconds")
    assert info.value.argument == "prompts"
    assert fragment in str(info.value)


def test_keyframe_schedule_needs_whole_indices(tmp_path):
    with pytest.raises(InputError, match="whole keyframe index"):
        load_schedule(write(tmp_path, "0,a\n1.5,b\n"), "keyframes")


def test_missing_schedule_file(tmp_path):
    with pytest.raises(InputError, match="readable text file"):
        load_schedule(tmp_path / "nope.csv")
