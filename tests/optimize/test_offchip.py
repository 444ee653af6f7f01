"""Tiling and loop-order search: a case worked by hand, and the ROMANet direction."""

from __future__ import annotations

import pytest

from zoomwatt.errors import InputError
from zoomwatt.optimizer.offchip import (
    ROW_ACTIVATION_J,
    GemmShape,
    _traffic,
    mobilenet_shapes,
    search_schedule,
    study_shapes,
    vgg16_shapes,
)

# A 4x4x4 GEMM of 1-byte elements: |I| = |W| = |O| = 16 B.
SHAPE = GemmShape("toy", m=4, k=4, c=4, in_elems=16, bytes_i=1, bytes_w=1, bytes_o=1)


def test_traffic_by_hand_order_mkc():
    # tiles 2x2x2: 2 trips per loop. Order m, k, c (c innermost):
    # I (m, c) is fetched again for each k: 16 x 2 = 32; W (k, c) again for each m: 32;
    # O (m, k) stays on chip during c: written once, 16. Total 80.
    t = _traffic(SHAPE, "mkc", 2, 2, 2)
    assert (t["I"], t["W"], t["O"]) == (32, 32, 16)


def test_traffic_by_hand_order_cmk():
    # Order c, m, k: I (m, c) is reused across k: 16; W (k, c) again for each m: 32;
    # O (m, k): c is outside, so partial sums go out and back: 16 x (2 x 2 - 1) = 48. Total 96.
    t = _traffic(SHAPE, "cmk", 2, 2, 2)
    assert (t["I"], t["W"], t["O"]) == (16, 32, 48)


def test_search_under_the_buffer():
    e_byte = 1e-12
    # 48 B hold all three operands (16 + 16 + 16): each is read or written once, 48 B, in
    # 3 runs of 16 B (1 row activation each, 1 burst each, no hits)
    big = search_schedule(SHAPE, 48, e_byte)
    assert big.dram_bytes == 48
    assert big.row_misses == 3
    assert big.dram_energy_j == pytest.approx(48 * e_byte + 3 * ROW_ACTIVATION_J)
    # 12 B hold 2x2x2 tiles (4 + 4 + 4 B) at best: no schedule beats the lower bound, and the
    # best is no worse than the hand-worked mkc at 80 B
    small = search_schedule(SHAPE, 12, e_byte)
    assert small.buffer_bytes_used <= 12
    assert 48 <= small.dram_bytes <= 80


def test_romanet_direction_on_vgg16_and_mobilenet():
    for shapes in (vgg16_shapes(), mobilenet_shapes()):
        study = study_shapes(shapes, 108 * 1024, 5e-12)
        assert study.energy_saving > 0.1  # ROMANet: 36% (VGG-16), 46% (MobileNet)
        assert study.searched_dram_bytes <= study.naive_dram_bytes
        assert study.searched_dram_bytes >= study.lower_bound_bytes * (1 - 1e-9)
        assert study.searched_row_miss_energy_j < study.naive_row_miss_energy_j


def test_vgg16_shapes_macs():
    # conv1_2: 224 x 224 x 64 outputs x 64 x 9 = 1.85 GMACs
    conv2 = vgg16_shapes()[1]
    assert conv2.m * conv2.k * conv2.c == 224 * 224 * 64 * 64 * 9


def test_bad_buffer():
    with pytest.raises(InputError, match="buffer_bytes"):
        study_shapes([SHAPE], 0, 1e-12)
