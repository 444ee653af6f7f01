"""``--no-cache`` on analyze, predict and optimize: the same output, and the cache untouched."""

from __future__ import annotations

import pytest

from zoomwatt.cli.main import main


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(folder))
    return folder


def _out(argv, capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_analyze_no_cache_same_output_and_cache_untouched(capsys, cache_in_tmp):
    argv = ["analyze", "--size", "128", "--format", "csv", "--layers"]
    uncached = _out([*argv, "--no-cache"], capsys)
    assert not (cache_in_tmp / "workload").exists()  # profiles parsed may be kept in yaml/
    assert _out(argv, capsys) == uncached  # cold: traced, then written
    assert (cache_in_tmp / "workload").is_dir()
    assert _out(argv, capsys) == uncached  # warm: read back
    table = ["analyze", "--size", "128"]
    assert _out(table, capsys) == _out([*table, "--no-cache"], capsys)


def test_predict_no_cache_same_output(capsys, cache_in_tmp):
    argv = ["predict", "--hw", "all", "--size", "128", "--format", "json"]
    uncached = _out([*argv, "--no-cache"], capsys)
    assert not (cache_in_tmp / "workload").exists()  # profiles parsed may be kept in yaml/
    assert _out(argv, capsys) == uncached
    assert _out(argv, capsys) == uncached


class _Stop(Exception):
    pass


def test_optimize_no_cache_reaches_the_search(monkeypatch):
    import zoomwatt.optimizer as optimize

    seen = []

    def fake_explore(hardware, options, *, cache=True):
        seen.append(cache)
        raise _Stop

    monkeypatch.setattr(optimize, "explore", fake_explore)
    for extra, cache in ((["--no-cache"], False), ([], True)):
        with pytest.raises(_Stop):
            main(["optimize", "--hw", "jetson-orin-nano", *extra])
        assert seen.pop() is cache


def test_explore_same_result_without_cache(cache_in_tmp):
    from zoomwatt.optimizer import OptimizeOptions, SearchSpace, explore

    space = SearchSpace(resolution_px=(256,), vae=("default",), cfg=(True,), steps=(10,))
    options = OptimizeOptions(space=space, studies=False)
    uncached = explore("jetson-orin-nano", options, cache=False).to_dict()
    assert not (cache_in_tmp / "workload").exists()  # profiles parsed may be kept in yaml/
    for _ in range(2):  # cold (traced and written), then warm (read back)
        cached = explore("jetson-orin-nano", options).to_dict()
        assert cached.pop("seconds") >= 0 and uncached.pop("seconds", 0) >= 0
        assert cached == uncached
