"""Fixtures of the optimize tests: the stage cache goes to a temporary folder, and the
Jetson Orin Nano search runs once per session."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _stage_cache(tmp_path_factory):
    old = os.environ.get("ZOOMWATT_CACHE_DIR")
    os.environ["ZOOMWATT_CACHE_DIR"] = str(tmp_path_factory.mktemp("zoomwatt-cache"))
    yield
    if old is None:
        os.environ.pop("ZOOMWATT_CACHE_DIR", None)
    else:
        os.environ["ZOOMWATT_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def orin_result():
    from zoomwatt.optimize import OptimizeOptions, explore

    return explore("jetson-orin-nano", OptimizeOptions(target_fps=30.0))


@pytest.fixture(scope="session")
def tiny_unet(tiny_sd2_dir):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(tiny_sd2_dir / "unet").eval()
