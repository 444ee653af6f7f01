"""Quantization and pruning of tensors, on hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from zoomwatt.errors import InputError
from zoomwatt.optimizer.prune import magnitude_prune, prune_2_4
from zoomwatt.optimizer.quantize import QuantScheme, quantize_activation, quantize_int


def test_int4_per_channel_by_hand():
    # row max 7 -> scale 7 / 7 = 1; codes = round(w) = [7, -3, 1, 0]
    w = torch.tensor([[7.0, -3.0, 1.4, 0.0], [0.5, 0.0, -0.3, 0.1]])
    q = quantize_int(w, 4)
    assert q.integers[0].tolist() == [7, -3, 1, 0]
    assert q.dequantized[0].tolist() == pytest.approx([7.0, -3.0, 1.0, 0.0])
    # second row: scale 0.5 / 7; 0.1 / (0.5 / 7) = 1.4 -> 1; -0.3 / (0.5 / 7) = -4.2 -> -4
    assert q.integers[1].tolist() == [7, 0, -4, 1]
    assert q.scales.squeeze().tolist() == pytest.approx([1.0, 0.5 / 7])


def test_int8_per_group_by_hand():
    # groups of 4: max 4 -> scale 4 / 127; max 70 -> scale 70 / 127
    w = torch.tensor([[1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 36.0, 70.0]])
    q = quantize_int(w, 8, "per_group", group_size=4)
    assert q.scales[0].tolist() == pytest.approx([4 / 127, 70 / 127])
    # 1 / (4/127) = 31.75 -> 32; 3 -> 95.25 -> 95; 10 / (70/127) = 18.14 -> 18;
    # 20 -> 36.29 -> 36; 36 -> 65.31 -> 65
    assert q.integers.tolist() == [[32, 64, 95, 127, 18, 36, 65, 127]]


def test_group_size_not_dividing_falls_back_to_per_channel():
    w = torch.tensor([[1.0, 2.0, 3.0]])
    q = quantize_int(w, 8, "per_group", group_size=2)
    assert q.scales.shape == (1, 1)


def test_activation_int8_and_scheme_names():
    x = torch.tensor([0.0, 1.0, -2.54])
    # scale 2.54 / 127 = 0.02; 1 / 0.02 = 50 -> 1.0
    assert quantize_activation(x, "int8").tolist() == pytest.approx([0.0, 1.0, -2.54])
    assert QuantScheme("int4", "int8", "per_group", 64).name == "w4a8g64"
    assert QuantScheme("int8").name == "w8"
    with pytest.raises(InputError, match="weight"):
        QuantScheme("int3")


def test_magnitude_prune_by_hand():
    w = torch.tensor([[0.1, -0.5, 0.3, -0.05]])
    p = magnitude_prune(w, 0.5)
    assert p.weight[0].tolist() == pytest.approx([0.0, -0.5, 0.3, 0.0])
    assert p.density == 0.5
    with pytest.raises(InputError, match="ratio"):
        magnitude_prune(w, 1.0)


def test_2_4_along_input_channels():
    # conv weight (K=1, C=4, 1, 2): groups of 4 input channels at each kernel tap
    w = torch.tensor([[[[1.0, -9.0]], [[-3.0, 1.0]], [[2.0, 2.0]], [[0.5, -3.0]]]])
    p = prune_2_4(w)
    assert p.applied
    assert p.weight[0, :, 0, 0].tolist() == [0.0, -3.0, 2.0, 0.0]  # keeps |-3|, |2|
    assert p.weight[0, :, 0, 1].tolist() == [-9.0, 0.0, 0.0, -3.0]  # keeps |-9|, |-3|
    assert int(p.mask.sum()) == 4


def test_2_4_skips_layers_with_odd_channels():
    w = torch.randn(8, 9, 3, 3)
    p = prune_2_4(w)
    assert not p.applied
    assert torch.equal(p.weight, w)
