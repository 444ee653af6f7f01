"""The workload specification: checked once, when made, with limits; the one way in to
``characterize`` (keywords still work), and the CLI's bad values as one error line."""

from __future__ import annotations

import dataclasses

import pytest

from zoomwatt.cli.main import main
from zoomwatt.errors import InputError
from zoomwatt.workload import WorkloadSpec, characterize


def test_defaults_and_derived_settings():
    spec = WorkloadSpec()
    assert (spec.pipeline, spec.size, spec.steps, spec.cfg, spec.dtype) == (
        "sd2-inpaint", 512, 20, True, "fp16",
    )  # fmt: skip
    assert (spec.every, spec.fps, spec.unet_batch, spec.text_calls_per_prompt) == (30, 30.0, 2, 2)
    assert spec.resolved_border_px == 128 and spec.resolved_activation_dtype == "fp16"
    assert WorkloadSpec(dtype="int4").resolved_activation_dtype == "int8"
    assert WorkloadSpec(vae="taesd").vae_arch == "taesd"
    assert WorkloadSpec(cfg=False).unet_batch == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.steps = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settings", "argument", "expected"),
    [
        ({"steps": 1001}, "steps", "at most 1000"),
        ({"steps": 100_000_000}, "steps", "at most 1000"),
        ({"every": 3601}, "every", "at most 3600"),
        ({"fps": 1e300}, "fps", "a frame rate from 1 to 240"),
        ({"fps": 241.0}, "fps", "a frame rate from 1 to 240"),
        ({"fps": 0.5}, "fps", "a frame rate from 1 to 240"),
        ({"fps": float("inf")}, "fps", "a positive number"),
        ({"size": 8256}, "size", "at most 8192"),
        ({"steps": True}, "steps", "an integer >= 1"),
    ],
)
def test_limits(settings, argument, expected):
    with pytest.raises(InputError) as info:
        WorkloadSpec(**settings)
    assert info.value.argument == argument and expected in str(info.value)
    with pytest.raises(InputError):  # and a changed copy is checked again
        WorkloadSpec().replace(**settings)


def test_limits_themselves_are_accepted():
    WorkloadSpec(steps=1000, every=3600, fps=240.0)
    WorkloadSpec(steps=1, every=1, fps=1.0)


def test_characterize_takes_a_spec_or_its_keywords():
    spec = WorkloadSpec(size=64, steps=3, cfg=False, every=4)
    by_spec = characterize(spec)
    assert by_spec.to_dict(layers=True) == characterize(size=64, steps=3, cfg=False,
                                                        every=4).to_dict(layers=True)  # fmt: skip
    changed = characterize(spec, steps=5)
    assert changed.steps == 5 and changed.size == 64
    with pytest.raises(InputError, match=r"^spec="):
        characterize("sd2-inpaint")  # the old positional form is refused, not misread


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["analyze", "--steps", "100000000"], "steps=100000000: expected at most 1000"),
        (["analyze", "--every", "100000"], "every=100000: expected at most 3600"),
        (["predict", "--hw", "all", "--fps", "1e300"], "fps=1e+300: expected a frame rate"),
        (["predict", "--hw", "rpi5", "--steps", "0"], "steps=0: expected an integer >= 1"),
    ],
)
def test_cli_bad_values_are_one_line(argv, text, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1
