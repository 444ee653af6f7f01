"""The optimizer's per-call costs on disk (optimizer.cost_cache): a warm run gives the same
result as a fresh one, a damaged or planted entry is computed again, --no-cache touches nothing,
and a changed device is a new entry."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zoomwatt.hardware import load_profile
from zoomwatt.optimizer import cost_cache
from zoomwatt.optimizer.search import OptimizeOptions, explore


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path))
    return tmp_path / cost_cache.SUBDIR


def _figures(result):
    d = result.to_dict()
    d.pop("seconds")
    return d


OPTIONS = OptimizeOptions(studies=False)


def test_a_warm_run_reads_the_entry_and_gives_the_same_result(cache):
    fresh = explore("jetson-orin-nano", OPTIONS)
    entries = sorted(cache.glob("costs-*.npz"))
    assert len(entries) == 1
    warm = explore("jetson-orin-nano", OPTIONS)
    # the same float64 arrays, written and read back: equal, not only close
    assert _figures(warm) == _figures(fresh)
    uncached = explore("jetson-orin-nano", OPTIONS, cache=False)
    assert _figures(uncached) == _figures(fresh)
    assert sorted(cache.glob("costs-*.npz")) == entries


def test_no_cache_writes_nothing(cache):
    explore("jetson-orin-nano", OPTIONS, cache=False)
    assert not cache.exists()


@pytest.mark.parametrize("damage", [b"", b"not a zip", b"PK\x03\x04 planted"])
def test_a_damaged_entry_is_computed_again(cache, damage):
    fresh = explore("jetson-orin-nano", OPTIONS)
    (entry,) = cache.glob("costs-*.npz")
    entry.write_bytes(damage)
    assert _figures(explore("jetson-orin-nano", OPTIONS)) == _figures(fresh)


def test_an_entry_with_other_shapes_or_negative_costs_is_ignored(cache):
    key = "0" * 32
    shapes = {"time_s": (2, 3)}
    arrays = {name: np.ones((2, 3)) for name in cost_cache.ARRAYS}
    cost_cache.save_costs(key, arrays)
    assert cost_cache.load_costs(key, shapes) is not None
    assert cost_cache.load_costs(key, {"time_s": (3, 2)}) is None
    arrays["time_s"][0, 0] = -1.0
    cost_cache.save_costs(key, arrays)
    assert cost_cache.load_costs(key, shapes) is None


def test_another_device_or_a_changed_parameter_is_another_entry():
    from zoomwatt.optimizer.search import _Device

    device = _Device.of(load_profile("jetson-orin-nano"))
    grid = {"structure": [[512, True, "default"]]}
    key = cost_cache.cost_key("sd2-inpaint", grid, [device.params], device.points)
    faster = dataclasses.replace(device.params, bandwidth_bytes_per_s=2e11)
    assert cost_cache.cost_key("sd2-inpaint", grid, [faster], device.points) != key
    other = _Device.of(load_profile("jetson-orin-nx"))
    assert cost_cache.cost_key("sd2-inpaint", grid, [other.params], other.points) != key
    assert cost_cache.cost_key("sd2-inpaint", grid, [device.params], device.points) == key
    # a second stack searched is another entry
    two = [device.params, faster]
    assert cost_cache.cost_key("sd2-inpaint", grid, two, device.points) != key


def test_the_key_covers_the_architecture_configs_and_the_cost_model():
    files = cost_cache.source_files()
    # the traced UNet's config: an edited config must not read costs made from the old one
    assert "archs/sd2_inpaint_unet.json" in files
    assert "perfmodel/roofline.py" in files and "optimizer/search.py" in files
    assert not any("__pycache__" in f for f in files)
