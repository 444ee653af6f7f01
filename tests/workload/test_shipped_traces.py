"""The workload cache entries shipped with the package (scripts/record_traces.py writes them):
the default commands find every entry they need there, with no tracing, and what is shipped is
what a fresh trace gives. When one of these fails after a change to the tracer, the formulas,
a config or the version, run ``.venv/bin/python scripts/record_traces.py``."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoomwatt.workload import trace_cache

ROOT = Path(__file__).resolve().parents[2]
RECORD = "\n(re-record them: .venv/bin/python scripts/record_traces.py)"


def _record_module():
    path = ROOT / "scripts" / "record_traces.py"
    spec = importlib.util.spec_from_file_location("record_traces", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shipped() -> list[Path]:
    return sorted(trace_cache.SHIPPED_DIR.glob("*.json.gz"))


def _entry(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _skip_unless_same_libraries() -> None:
    recorded = _entry(_shipped()[0])["key"]["libraries"]
    if recorded != trace_cache.library_versions():
        pytest.skip(f"shipped traces are of {recorded}, this environment has "
                    f"{trace_cache.library_versions()}: they do not apply here")  # fmt: skip


def test_setup_installs_the_library_versions_the_traces_were_recorded_with():
    """scripts/constraints.txt pins what a fresh set-up installs; re-recorded traces with other
    versions must move it too, or every fresh set-up would trace afresh and skip these tests."""
    recorded = _entry(_shipped()[0])["key"]["libraries"]
    lines = (ROOT / "scripts" / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pinned = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    assert pinned == {k: v for k, v in recorded.items() if k != "torch"}
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert f"TORCH_VERSION:-{recorded['torch'].split('+')[0]}" in setup


def test_shipped_entries_exist_and_are_small():
    files = _shipped()
    assert len(files) >= 7, "one set of entries per built-in pipeline at least" + RECORD
    assert sum(f.stat().st_size for f in files) < 2_000_000  # compressed; ~0.1 MB at recording


_LOOKUPS = r"""
import importlib.util, json, sys
from zoomwatt.workload import characterize_pipeline, trace_cache

looked_up, read = [], trace_cache._read_entry

def spy(path, key, *, compressed):
    payload = read(path, key, compressed=compressed)
    if compressed:
        looked_up.append([path.name, payload is not None, f"{key.get('stage')} {key.get('arch')}"])
    return payload

def no_tracing(*args, **kwargs):
    raise RuntimeError("a default command traced a model")

trace_cache._read_entry = spy
characterize_pipeline._trace = characterize_pipeline._model = no_tracing
spec = importlib.util.spec_from_file_location("record_traces", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.run_commands()
print(json.dumps(looked_up))
"""


def test_default_commands_read_shipped_entries_without_tracing(empty_cache):
    """In a fresh interpreter (this one holds in-process caches of earlier tests), the commands
    scripts/record_traces.py ships find every entry in the package, and every shipped entry is
    read by one of them (none stale)."""
    _skip_unless_same_libraries()
    done = subprocess.run(
        [sys.executable, "-c", _LOOKUPS, str(ROOT / "scripts" / "record_traces.py")],
        env=os.environ | {"ZOOMWATT_CACHE_DIR": str(empty_cache)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:] + RECORD
    looked_up = json.loads(done.stdout.splitlines()[-1])
    missing = [what for _, found, what in looked_up if not found]
    assert not missing, f"not shipped: {missing}{RECORD}"
    assert sorted({name for name, _, _ in looked_up}) == [f.name for f in _shipped()], RECORD
    assert not (empty_cache / trace_cache.SUBDIR).exists()  # nothing traced or written


def test_shipped_entry_equals_a_fresh_trace(empty_cache, monkeypatch):
    """The default analyze traced now (shipped entries off) writes, byte for byte, the entries
    that ship: the same code path and JSON's exact float repr, so exact equality is right."""
    _skip_unless_same_libraries()
    monkeypatch.setattr(trace_cache, "SHIPPED_DIR", empty_cache.parent / "none")
    _record_module().run_commands([("analyze", "--pipeline", "sd2-inpaint")])
    fresh = sorted((empty_cache / trace_cache.SUBDIR).glob("*.json"))
    assert len(fresh) == 5  # text encoder, VAE encoder, UNet, VAE decoder, text-layer params
    for path in fresh:
        shipped = Path(trace_cache.__file__).parent / "data" / "traces" / f"{path.name}.gz"
        assert shipped.exists(), f"{path.name} not shipped{RECORD}"
        assert gzip.decompress(shipped.read_bytes()) == path.read_bytes(), RECORD


def test_a_damaged_shipped_entry_is_traced_again(empty_cache, monkeypatch, tmp_path):
    """A shipped file that is damaged is ignored like any bad cache entry, never an error."""
    ship = tmp_path / "ship"
    ship.mkdir()
    key = trace_cache.base_key() | {"kind": "test"}
    name = trace_cache.entry_path("t", key).name
    (ship / f"{name}.gz").write_bytes(b"not gzip")
    monkeypatch.setattr(trace_cache, "SHIPPED_DIR", ship)
    assert trace_cache.load_entry("t", key) is None
    good = gzip.compress(json.dumps({"key": key, "payload": 7}).encode())
    (ship / f"{name}.gz").write_bytes(good)
    assert trace_cache.load_entry("t", key) == 7
    other = key | {"kind": "other"}  # a file under the right name holding another key
    (ship / f"{trace_cache.entry_path('t', other).name}.gz").write_bytes(good)
    assert trace_cache.load_entry("t", other) is None
