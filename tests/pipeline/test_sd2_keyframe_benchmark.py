"""The GPU benchmark's code path, run on a CPU with the tiny pipeline (``--tiny``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sd2_keyframe.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("sd2_keyframe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_on_cpu_and_compares_with_diffusers(tmp_path, capsys):
    bench = load_benchmark()
    argv = ["--tiny", "--device", "cpu", "--steps", "2", "--warmup", "1", "--repeats", "2"]
    argv += ["--configs", "lean,channels_last,cuda_graph", "--out", str(tmp_path)]
    records = {r.config: r for r in bench.main(argv)}
    assert list(records) == ["diffusers", "lean", "channels_last", "cuda_graph"]
    reference, lean = records["diffusers"], records["lean"]
    assert reference.status == "ok" and reference.latency_s > 0 and reference.fps_1in5 > 0
    # fps at 1 in 5 = 5 frames per keyframe latency
    assert lean.fps_1in5 == 5 / lean.latency_s and lean.fps_1in30 == 30 / lean.latency_s
    assert lean.max_abs_diff == 0  # the lean path is the plain pipeline's picture
    assert lean.ratio_to_diffusers == reference.latency_s / lean.latency_s
    assert records["channels_last"].max_abs_diff <= 2
    assert records["cuda_graph"].status == "skipped"  # no CUDA here
    assert lean.energy_j is None  # NVML only on CUDA
    lines = (tmp_path / "sd2_keyframe.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["weights"] == "tiny test pipeline" and len(lines) == 5
    assert "x diffusers" in capsys.readouterr().out


def test_lean_bf16_runs_bf16_only_where_the_cpu_computes_it(tmp_path, monkeypatch):
    from zoomwatt.hardware import host_probe

    bench = load_benchmark()
    argv = ["--tiny", "--device", "cpu", "--steps", "1", "--warmup", "1", "--repeats", "1"]
    argv += ["--configs", "lean_bf16", "--out", str(tmp_path)]
    why = "bf16: not native on this CPU (no avx512_bf16/amx_bf16)"
    monkeypatch.setattr(host_probe, "native_cpu_dtype", lambda dtype: (False, why))
    record = {r.config: r for r in bench.main(argv)}["lean_bf16"]
    assert (record.status, record.note, record.dtype) == ("skipped", why, "bf16")
    monkeypatch.setattr(host_probe, "native_cpu_dtype", lambda dtype: (True, "native"))
    record = {r.config: r for r in bench.main(argv)}["lean_bf16"]
    assert record.status == "ok" and record.dtype == "bf16" and record.latency_s > 0
