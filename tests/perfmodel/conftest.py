"""Fixtures of the perfmodel tests."""

from __future__ import annotations

import pytest
from perf_helpers import toy_profile


@pytest.fixture
def toy():
    return toy_profile()
