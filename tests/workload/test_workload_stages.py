"""The one stage vocabulary: what each stage is, for every layer that speaks of stages."""

from __future__ import annotations

import json

import pytest

from zoomwatt.errors import InputError
from zoomwatt.workload import ALL_STAGES, MODEL_STAGES, StageName, characterize


def test_each_stage_says_what_it_is():
    assert [s for s in ALL_STAGES if s.per_frame] == [StageName.FRAME_OPS]
    assert [s for s in ALL_STAGES if s.per_step] == [StageName.UNET]
    assert tuple(s for s in ALL_STAGES if s.is_model) == MODEL_STAGES
    assert [s.display for s in MODEL_STAGES] == [
        "text encoder", "VAE encoder", "UNet", "VAE decoder",
    ]  # fmt: skip
    assert [s.component for s in ALL_STAGES] == ["text_encoder", "vae", "unet", "vae", None]


def test_backend_timing_names_map_to_stages():
    assert StageName.from_timing("denoise") is StageName.UNET
    assert StageName.from_timing("inpaint") is None
    assert StageName.parse("denoise") is StageName.UNET
    assert StageName.parse("vae_decoder") is StageName.VAE_DECODER
    with pytest.raises(InputError, match=r"^stage='vae'"):
        StageName.parse("vae")


def test_a_stage_is_its_text_everywhere():
    assert json.dumps({StageName.UNET: StageName.UNET}) == '{"unet": "unet"}'
    assert f"{StageName.VAE_ENCODER}" == "vae_encoder" == str(StageName.VAE_ENCODER)
    assert {"unet": 1}[StageName.UNET] == 1


def test_the_workload_speaks_the_vocabulary():
    report = characterize(size=64, steps=2, every=2)
    assert [s.name for s in report.stages] == list(ALL_STAGES)
    assert all(isinstance(s.name, StageName) for s in report.stages)
