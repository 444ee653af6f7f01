"""Fixtures of the optimize tests: the Jetson Orin Nano search runs once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def orin_result():
    from zoomwatt.optimizer import OptimizeOptions, explore

    return explore("jetson-orin-nano", OptimizeOptions(target_fps=30.0))


@pytest.fixture(scope="session")
def tiny_unet(tiny_sd2_dir):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(tiny_sd2_dir / "unet").eval()
