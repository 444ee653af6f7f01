"""Shared fixtures. Tests never reach the network: the Hugging Face hub is switched off."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import pytest


@pytest.fixture(scope="session")
def tiny_sd2_dir(tmp_path_factory):
    """A tiny randomly initialised SD2-architecture inpainting pipeline saved with
    safetensors, built once per test session."""
    from zoomwatt.archs.tiny import write_tiny_sd2_inpaint

    return write_tiny_sd2_inpaint(tmp_path_factory.mktemp("tiny-sd2"), seed=0)
