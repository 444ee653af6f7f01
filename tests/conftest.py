"""Shared fixtures. Tests never reach the network: the Hugging Face hub is switched off; and
they never touch the user's cache folder: one temporary cache serves the whole session."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import pytest


@pytest.fixture(scope="session", autouse=True)
def _session_cache_dir(tmp_path_factory):
    old = os.environ.get("ZOOMWATT_CACHE_DIR")
    os.environ["ZOOMWATT_CACHE_DIR"] = str(tmp_path_factory.mktemp("zoomwatt-cache"))
    yield
    if old is None:
        os.environ.pop("ZOOMWATT_CACHE_DIR", None)
    else:
        os.environ["ZOOMWATT_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A test that changes torch's thread count leaves it as it found it: PyTorch's conv
    kernel choice, which some tests state, depends on it."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sd2_dir(tmp_path_factory):
    """A tiny randomly initialised SD2-architecture inpainting pipeline saved with
    safetensors, built once per test session."""
    from zoomwatt.archs.tiny import write_tiny_sd2_inpaint

    return write_tiny_sd2_inpaint(tmp_path_factory.mktemp("tiny-sd2"), seed=0)
