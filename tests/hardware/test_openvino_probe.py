"""The OpenVINO probe on this CPU (skipped where openvino is not installed): tiny real runs."""

from __future__ import annotations

import pytest

from zoomwatt.errors import InputError
from zoomwatt.hardware.openvino_probe import CHAIN_LAYERS, OVERHEAD_NODES, make_stack_probe


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
    # a chain of CHAIN_LAYERS (8) layers a model, cold weights or not: 8 x 8 x 9 x 4 B =
    # 2,304 B a layer, ceil(4,096 / 2,304) = 2 layers would fill 4,096 B; 8 are built
    chains = {key[-1] for key in probe._requests if "conv" in key[0]}
    assert chains == {CHAIN_LAYERS} and CHAIN_LAYERS == 8
    request = next(r for key, r in probe._requests.items() if "conv" in key[0])
    nodes = request.get_compiled_model().get_runtime_model().get_ordered_ops()
    convs = [n for n in nodes if n.get_rt_info()["layerType"].astype(str) == "Convolution"]
    assert len(convs) == 8
    assert probe.gemm_ops_per_s("fp32", (4, 8, 16), 0.01, 0) > 0
    # the chain's activations keep their size: weights scaled by 1/sqrt(fan in)
    import numpy as np

    linear = next(r for key, r in probe._requests.items() if "linear" in key[0])
    out = linear.infer([np.ones((4, 8), np.float32)])[0]
    assert np.isfinite(out).all() and 1e-3 < np.abs(out).mean() < 1e3
    assert probe.conv_ops_per_s("bf16", (8, 8, 1), 0.01, 0) is None  # fp32 only
    overhead = probe.kernel_overhead_s(0.01)
    assert 0 < overhead < 1e-3 and OVERHEAD_NODES == 64  # a few us per node, not ms


def test_int8_weights_probe_runs_nncf_style_weights():
    pytest.importorskip("openvino")
    import numpy as np

    fp32, _ = make_stack_probe("openvino", 1)
    int8, why = make_stack_probe("openvino-int8", 1)
    assert why is None and int8.name == "openvino-int8" and int8.weights == "int8"
    assert fp32.name == "openvino" and fp32.weights == "fp32"
    for probe in (fp32, int8):
        assert probe.gemm_ops_per_s("fp32", (4, 8, 16), 0.01, 0) > 0
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    out = [next(iter(p._requests.values())).infer([x])[0] for p in (fp32, int8)]
    # the same normal draws, uint8 per output channel: 8 layers of 8-bit rounding (about
    # 0.4% of a channel's range each) stay within 5% of the fp32 chain
    error = np.linalg.norm(out[1] - out[0]) / np.linalg.norm(out[0])
    assert 0 < error < 0.05
    # the compiled model keeps the weights in uint8 (decompressed in the kernel, not folded
    # into fp32 constants when compiled)
    model = next(iter(int8._requests.values())).get_compiled_model().get_runtime_model()
    kept = [
        n
        for n in model.get_ordered_ops()
        if str(n.get_output_element_type(0)) == "<Type: 'uint8_t'>"
    ]
    assert len(kept) >= 8  # one weight tensor a layer at least
    with pytest.raises(InputError, match="weights"):
        type(int8)(1, "int4")
