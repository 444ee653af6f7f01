"""The workload cache on disk: the same report with and without it, validated on reading,
written atomically, keyed by everything a trace depends on."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
import threading

import pytest

from zoomwatt.cli.analyze_command import render_csv, render_table
from zoomwatt.workload import (
    WorkloadSpec,
    characterize,
    characterize_pipeline,
    check_article,
    trace_cache,
)

SMALL = {"size": 64, "steps": 3, "every": 4}


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    """An empty user cache, and the package's shipped entries switched off: these tests are of
    the user's cache (tests/workload/test_shipped_traces.py tests the shipped entries)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(folder))
    monkeypatch.setattr(trace_cache, "SHIPPED_DIR", tmp_path / "no-shipped-entries")
    return folder


def _entries(folder, suffix=".json"):
    workload = folder / "workload"
    return sorted(p for p in workload.iterdir() if p.name.endswith(suffix))


def assert_identical(a, b, path="report"):
    """Equal and of the same type, field by field, down to every record's last float."""
    assert type(a) is type(b), (path, type(a), type(b))
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_identical(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            assert_identical(a[k], b[k], f"{path}[{k!r}]")
    else:
        assert a == b, (path, a, b)


OPTION_SETS = [
    {},  # sd2-inpaint, 512x512, fp16, 20 steps, CFG: what analyze and predict run
    {"pipeline": "sd15-inpaint", "vae": "taesd", "size": 128, "dtype": "int4", "cfg": False,
     "attention": "matmul", "prompt_every": 4.0, "border_px": 20, "every": 7, "fps": 24.0},
    {"size": 192, "dtype": "fp32", "activation_dtype": "int8"},
]  # fmt: skip


@pytest.mark.parametrize("options", OPTION_SETS, ids=["default", "sd15-taesd-int4", "fp32-a8"])
def test_same_report_with_and_without_the_cache(options, cache_in_tmp, monkeypatch):
    fresh = characterize(**options, cache=False)
    assert not cache_in_tmp.exists()  # cache=False reads and writes nothing
    first = characterize(**options)  # cold: traced, then written
    assert len(_entries(cache_in_tmp)) == 4
    check_article(first)
    with monkeypatch.context() as m:
        m.setattr(characterize_pipeline, "_trace", None)  # read back: nothing traced or built
        m.setattr(characterize_pipeline, "_model", None)
        again = characterize(**options)
        checks = check_article(again)
    # JSON keeps ints as ints and writes floats as their shortest repr, which reads back as
    # the very same float: every field of every record is equal, and of the same type.
    for report in (first, again):
        assert_identical(fresh, report)
        assert json.dumps(fresh.to_dict(layers=True)) == json.dumps(report.to_dict(layers=True))
        assert render_csv(fresh, layers=True) == render_csv(report, layers=True)
    fresh_checks = check_article(fresh, cache=False)
    assert_identical(fresh_checks, checks)
    assert render_table(fresh, fresh_checks, layers=True) == render_table(again, checks, True)


def _fill(folder):
    report = characterize(**SMALL)
    check_article(report)
    return report, _entries(folder)


def _bad_contents(good: str):
    entry = json.loads(good)
    payload = entry["payload"]

    def changed(fn):
        e = json.loads(good)
        fn(e)
        return json.dumps(e)

    yield b""
    yield good[: len(good) // 2].encode()  # truncated
    yield b"{not json"
    yield b"\xff\xfe\x00garbage"
    yield ("[" * 100_000).encode()  # nested too deep for the parser
    yield pickle.dumps(entry)  # never unpickled
    yield b"null"
    yield json.dumps([entry]).encode()
    yield changed(lambda e: e.pop("payload")).encode()
    yield changed(lambda e: e["key"].update(zoomwatt="0.0.0")).encode()  # another key
    if isinstance(payload, dict):  # a trace
        yield changed(lambda e: e["payload"].update(records=[])).encode()
        yield changed(lambda e: e["payload"]["records"][0].__setitem__(3, "12")).encode()
        yield changed(lambda e: e["payload"]["records"][0].__setitem__(3, True)).encode()
        yield changed(lambda e: e["payload"]["records"][0].__setitem__(4, -1)).encode()
        yield changed(lambda e: e["payload"]["records"][0].__setitem__(5, None)).encode()
        yield changed(lambda e: e["payload"]["records"][0].__setitem__(2, "magic")).encode()
        yield changed(lambda e: e["payload"]["records"][0].__setitem__(2, [1])).encode()
        yield changed(lambda e: e["payload"]["records"][0].__setitem__(8, "fp64")).encode()
        yield changed(lambda e: e["payload"]["records"][0].pop()).encode()
        yield changed(lambda e: e["payload"].update(output_shape=[1, "a"])).encode()
        yield changed(lambda e: e["payload"].update(params=1.5)).encode()
        yield changed(lambda e: e["payload"].pop("model_class")).encode()
        yield changed(lambda e: e["payload"].update(peak_activation_bytes=1e400)).encode()
        yield good.replace('"records":[', '"records":{"a":').encode()
    else:  # the text encoder's layer count
        yield changed(lambda e: e.update(payload=-3)).encode()
        yield changed(lambda e: e.update(payload="340")).encode()


def test_damaged_or_planted_entries_are_recomputed_silently(cache_in_tmp, caplog):
    reference, entries = _fill(cache_in_tmp)
    checks = check_article(reference, cache=False)
    assert len(entries) == 5  # 4 traces + the text encoder's layer count
    for path in entries:
        good = path.read_text()
        for bad in _bad_contents(good):
            path.write_bytes(bad)
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                report = characterize(**SMALL)
                again = check_article(report)
            assert_identical(reference, report)
            assert_identical(checks, again)
            assert not caplog.records, [r.getMessage() for r in caplog.records]
            rewritten = json.loads(path.read_text())  # recomputed and written back, valid
            assert rewritten == json.loads(good), path.name
    assert not _entries(cache_in_tmp, ".tmp")


def test_a_changed_version_or_config_is_another_key(monkeypatch):
    args = ("unet", "sd2-inpaint", "unet", 2, 512, "fp16", "fp16", "sdpa")
    base = trace_cache.entry_path("trace", trace_cache.trace_key(*args))
    changes = {0: "vae_decoder", 1: "sd15-inpaint", 2: "vae", 3: 1, 4: 576, 5: "int8",
               6: "int8", 7: "matmul"}  # fmt: skip
    others = [trace_cache.trace_key(*args[:i], v, *args[i + 1 :]) for i, v in changes.items()]
    with monkeypatch.context() as m:
        m.setattr(trace_cache, "library_versions", lambda: {"torch": "9.9", "diffusers": None})
        others.append(trace_cache.trace_key(*args))
    with monkeypatch.context() as m:
        m.setattr(trace_cache, "source_digest", lambda: "0123")
        others.append(trace_cache.trace_key(*args))
    with monkeypatch.context() as m:
        m.setattr(trace_cache, "__version__", "99.0")
        others.append(trace_cache.trace_key(*args))
    with monkeypatch.context() as m:
        m.setattr(trace_cache, "config_digest", lambda arch, component: "another config")
        others.append(trace_cache.trace_key(*args))
    paths = {trace_cache.entry_path("trace", k) for k in others}
    assert base not in paths and len(paths) == len(others)
    assert set(trace_cache.library_versions()) == {"torch", "diffusers", "transformers"}


def test_config_digest_follows_the_content(monkeypatch):
    from zoomwatt.archs import catalog

    digest = trace_cache.config_digest("sd2-inpaint", "unet")
    assert digest != trace_cache.config_digest("sd15-inpaint", "unet")
    config = catalog.load_config("sd2-inpaint", "unet")
    trace_cache.config_digest.cache_clear()
    try:
        monkeypatch.setattr(catalog, "load_config", lambda a, c: config | {"in_channels": 4})
        assert trace_cache.config_digest("sd2-inpaint", "unet") != digest
    finally:
        trace_cache.config_digest.cache_clear()


def test_xdg_cache_home_is_respected(tmp_path, monkeypatch):
    monkeypatch.delenv("ZOOMWATT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = trace_cache.entry_path("trace", {"k": 1})
    assert path.parent == tmp_path / "xdg" / "zoomwatt" / "workload"


def test_unwritable_cache_is_skipped(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING):
        report = characterize(**SMALL)
    assert_identical(characterize(**SMALL, cache=False), report)
    assert not caplog.records


def test_interrupted_write_leaves_nothing(cache_in_tmp, monkeypatch):
    def fail(src, dst):
        raise OSError("disk full")

    from zoomwatt import atomic_write  # the one atomic writer the cache goes through

    monkeypatch.setattr(atomic_write.os, "replace", fail)
    characterize(**SMALL)
    assert not list((cache_in_tmp / "workload").iterdir())


def test_concurrent_writers_and_readers_never_see_half_a_file(cache_in_tmp):
    report = characterize(**SMALL, cache=False)
    stage = report.stage("unet")
    plan = characterize_pipeline._stage_plan(WorkloadSpec(**SMALL))
    (call,) = next(calls for calls, _, _ in plan if calls[0].stage == "unet")
    trace = characterize_pipeline._trace(call, 64, "fp16", "fp16", "sdpa")
    key = trace_cache.trace_key("unet", "sd2-inpaint", "unet", 2, 64, "fp16", "fp16", "sdpa")
    trace_cache.save_trace(key, trace, "UNet2DConditionModel")
    seen, errors = [], []

    def write():
        for _ in range(20):
            trace_cache.save_trace(key, trace, "UNet2DConditionModel")

    def read():
        for _ in range(40):
            try:
                hit = trace_cache.load_trace(key)
            except Exception as exc:  # pragma: no cover - the failure being tested
                errors.append(exc)
                return
            if hit is not None:
                seen.append(hit[0].records == tuple(stage.layers))

    threads = [threading.Thread(target=f) for f in (write, write, read, read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and seen and all(seen)
    assert len(os.listdir(cache_in_tmp / "workload")) == 1  # no temporary file left behind
