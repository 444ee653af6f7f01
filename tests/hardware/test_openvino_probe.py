"""The OpenVINO probe on this CPU (skipped where openvino is not installed): tiny real runs."""

from __future__ import annotations

import pytest

from zoomwatt.hardware.openvino_probe import OVERHEAD_NODES, make_stack_probe


def test_not_installed_or_unknown_stack_says_why(monkeypatch):
    import importlib.util

    probe, why = make_stack_probe("tensorrt", 2)
    assert probe is None and "only openvino" in why
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    probe, why = make_stack_probe("openvino", 2)
    assert probe is None and "pip install openvino" in why


def test_tiny_real_rates():
    pytest.importorskip("openvino")
    probe, why = make_stack_probe("openvino", 1)
    assert why is None and probe.identity()["openvino"] == probe.version
    # conv (8 channels, 8 px, batch 1): 8 x 8 x 9 x 64 = 36,864 MACs; linear 4 x 8 x 16
    assert probe.conv_ops_per_s("fp32", (8, 8, 1), 0.01, 0) > 0
    assert probe.conv_ops_per_s("fp32", (8, 4, 2), 0.01, 4096) > 0
    # cold weights: 8 x 8 x 9 x 4 B = 2,304 B per copy, ceil(4,096 / 2,304) = 2 copies compiled
    copies = {key[-1]: len(reqs) for key, reqs in probe._requests.items() if "conv" in key[0]}
    assert sorted(copies.items()) == [(1, 1), (2, 2)]
    assert probe.gemm_ops_per_s("fp32", (4, 8, 16), 0.01, 0) > 0
    assert probe.conv_ops_per_s("bf16", (8, 8, 1), 0.01, 0) is None  # fp32 only
    overhead = probe.kernel_overhead_s(0.01)
    assert 0 < overhead < 1e-3 and OVERHEAD_NODES == 64  # a few us per node, not ms
