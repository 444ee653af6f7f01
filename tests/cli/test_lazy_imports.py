"""Every command answers at once: building the parser, ``--help`` and ``hardware`` import no
heavy library, and with a warm workload cache neither do ``analyze`` nor ``predict``.

Each check runs in a fresh interpreter (this test process has long imported torch) and reads
``sys.modules`` after the commands ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from zoomwatt.cli.main import COMMANDS

HEAVY = (
    "torch", "transformers", "diffusers", "cv2", "av", "matplotlib", "zeus", "scipy", "openvino",
)  # fmt: skip

_RUN = r"""
import contextlib, io, json, sys
from zoomwatt.cli.main import build_parser, main

build_parser()
for argv in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            status = main(argv)
        except SystemExit as exc:  # --help
            status = exc.code
    if status not in (0, None) or not out.getvalue():
        raise SystemExit(f"{argv}: status {status}, output {out.getvalue()[:200]!r}")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _imported(argvs: list[list[str]], cache: str) -> set[str]:
    env = os.environ | {"ZOOMWATT_CACHE_DIR": cache}
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(argvs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_parser_help_and_hardware_import_nothing_heavy(tmp_path):
    subcommands = [name.rsplit(".", 1)[1].removesuffix("_command") for name in COMMANDS]
    argvs = [
        ["--help"],
        *([name, "--help"] for name in subcommands),
        ["hardware", "list"],
        ["hardware", "list", "--format", "json"],
        ["hardware", "show", "jetson-orin-nano"],
    ]
    imported = _imported(argvs, str(tmp_path / "cache"))
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
    assert "numpy" not in imported  # not needed to parse, help or list profiles


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A workload cache holding the default workload (what analyze and predict trace)."""
    from zoomwatt.workload import characterize, check_article

    folder = tmp_path_factory.mktemp("warm-cache")
    old = os.environ.get("ZOOMWATT_CACHE_DIR")
    os.environ["ZOOMWATT_CACHE_DIR"] = str(folder)
    try:
        for cfg in (True, False):
            check_article(characterize(cfg=cfg))
    finally:
        if old is None:
            os.environ.pop("ZOOMWATT_CACHE_DIR", None)
        else:
            os.environ["ZOOMWATT_CACHE_DIR"] = old
    return str(folder)


def test_warm_analyze_and_predict_do_not_import_torch(warm_cache):
    argvs = [
        ["analyze"],
        ["analyze", "--format", "json", "--every", "5", "--fps", "24"],
        ["analyze", "--format", "csv", "--layers", "--no-cfg"],
        ["predict", "--hw", "all"],
        ["predict", "--hw", "jetson-orin-nano", "--format", "json"],
    ]
    imported = _imported(argvs, warm_cache)
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_first_analyze_after_installing_does_not_import_torch(tmp_path):
    """An empty cache folder (a fresh install): the default commands read the traces shipped in
    the package (scripts/record_traces.py) and import no heavy library."""
    import gzip

    from zoomwatt.workload import trace_cache

    shipped = sorted(trace_cache.SHIPPED_DIR.glob("*.json.gz"))
    if not shipped:
        pytest.fail("no shipped traces: run scripts/record_traces.py")
    recorded = json.loads(gzip.decompress(shipped[0].read_bytes()))["key"]["libraries"]
    if recorded != trace_cache.library_versions():
        pytest.skip(f"shipped traces are of {recorded}, not of this environment's libraries")
    argvs = [["analyze"], ["analyze", "--pipeline", "sdxl-base"], ["predict", "--hw", "all"]]
    imported = _imported(argvs, str(tmp_path / "empty-cache"))
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
    assert not (tmp_path / "empty-cache" / "workload").exists()  # read from the package
