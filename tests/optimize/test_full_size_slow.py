"""Real quantization and pruning on the full-size SD2 UNet (random weights): slow, run with
``-m slow``; benchmarks/optimize_unet.py runs every choice and records the figures."""

from __future__ import annotations

import pytest
import torch

from zoomwatt.optimizer.real_error import measure_choices, unet_inputs


@pytest.mark.slow
def test_full_size_unet_int8_and_2_4():
    from zoomwatt.archs.build import build_model

    unet = build_model("sd2-inpaint", "unet", device="cpu", seed=0).eval()
    with torch.no_grad():
        errors = {
            e.choice: e for e in measure_choices(unet, unet_inputs(unet, 16), ["w8a16", "2:4"])
        }
    assert errors["w8a16"].snr_db > 20
    assert errors["2:4"].snr_db < errors["w8a16"].snr_db
    assert errors["2:4"].layers_skipped >= 1  # conv_in has 9 input channels
