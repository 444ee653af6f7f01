"""glibc's malloc thresholds pinned for a measurement (hardware/malloc_thresholds.py)."""

from __future__ import annotations

import platform

import pytest

from zoomwatt.hardware import malloc_thresholds


def test_the_thresholds_are_where_glibcs_dynamic_rule_ends():
    assert malloc_thresholds.MMAP_THRESHOLD_BYTES == 32 * 1024 * 1024  # 33554432
    assert malloc_thresholds.TRIM_THRESHOLD_BYTES == 64 * 1024 * 1024  # twice it


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc"
)
def test_glibc_takes_them():
    pin = malloc_thresholds.pin_malloc_thresholds()
    assert pin.pinned
    assert pin.note == "glibc malloc thresholds pinned at 32 MiB (mmap) and 64 MiB (trim)"


def test_off_glibc_nothing_is_pinned_and_the_note_says_why(monkeypatch):
    monkeypatch.setattr(malloc_thresholds, "_glibc", lambda: None)
    pin = malloc_thresholds.pin_malloc_thresholds()
    assert not pin.pinned
    assert pin.note == "malloc thresholds left as they are: not glibc"


def test_a_refused_mallopt_is_not_called_pinned(monkeypatch):
    class Refuses:
        def mallopt(self, _param, _value):
            return 0  # glibc's answer to a value it does not take

    monkeypatch.setattr(malloc_thresholds, "_glibc", lambda: Refuses())
    assert malloc_thresholds.pin_malloc_thresholds().note.endswith("glibc refused mallopt")
