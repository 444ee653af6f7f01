"""Zoom geometry against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoomwatt.pipeline.geometry import ZoomGeometry, output_frame_count


def ramp_x(h: int, w: int) -> np.ndarray:
    """An image whose value is its column index: bilinear resampling reproduces it exactly."""
    return np.repeat(np.tile(np.arange(w, dtype=np.uint8), (h, 1))[..., None], 3, axis=2)


def test_default_border_gives_zoom_two():
    g = ZoomGeometry.from_border(512, 512, 512 // 4)
    assert (g.inner_height, g.inner_width) == (256, 256)  # 512 - 2*128 = 256
    assert g.ratio_y == 0.5 and g.zoom_per_keyframe == 2.0  # s = 512/256


def test_non_square_border_keeps_aspect():
    g = ZoomGeometry.from_border(64, 96, 16)
    assert g.border_x == 24  # 16 * 96/64 = 24
    assert (g.inner_height, g.inner_width) == (32, 48)  # 64-32, 96-48: aspect 1.5 kept


@pytest.mark.parametrize(
    ("keyframes", "n", "expected"),
    [(5, 30, 121), (1, 30, 1), (2, 1, 2), (3, 4, 9)],  # 1 + 30*4 = 121; 1 + 0; 1 + 1; 1 + 4*2
)
def test_output_frame_count(keyframes, n, expected):
    assert output_frame_count(keyframes, n) == expected


def test_visible_fraction_is_geometric():
    g = ZoomGeometry.from_border(512, 512, 128)  # r = 0.5
    assert g.visible_fraction(0, 30) == (0.5, 0.5)
    assert g.visible_fraction(30, 30) == (1.0, 1.0)
    fy, _ = g.visible_fraction(15, 30)
    assert fy == pytest.approx(0.7071067811865476)  # 0.5 ** (1 - 15/30) = sqrt(0.5)
    fy, _ = g.visible_fraction(10, 30)
    assert fy == pytest.approx(0.6299605249474366)  # 0.5 ** (2/3)
    # Constant zoom speed: each frame shows s^(1/N) = 2^(1/30) times more than the one before.
    steps = [g.visible_fraction(j + 1, 30)[0] / g.visible_fraction(j, 30)[0] for j in range(30)]
    assert steps == pytest.approx([2 ** (1 / 30)] * 30)


def test_shrink_averages_blocks():
    g = ZoomGeometry.from_border(4, 4, 1)  # 4x4 -> 2x2
    prev = np.zeros((4, 4, 3), np.uint8)
    prev[:2, :2] = [0, 40, 80]
    prev[:2, 2:] = 100
    prev[0, 0] = [4, 40, 80]  # block mean of red: (4+0+0+0)/4 = 1
    out = g.shrink(prev)
    assert out[0, 0].tolist() == [1, 40, 80]
    assert out[0, 1].tolist() == [100, 100, 100]
    assert out[1, 1].tolist() == [0, 0, 0]


def test_canvas_and_mask():
    g = ZoomGeometry.from_border(16, 16, 4)
    prev = np.full((16, 16, 3), 200, np.uint8)
    canvas, mask = g.canvas(prev)
    assert mask.sum() == (256 - 64) * 255  # 16*16 - 8*8 border pixels are white
    assert (mask[4:12, 4:12] == 0).all() and (mask[:4] == 255).all()
    assert (canvas[4:12, 4:12] == 200).all()


def test_paste_back_restores_exact_pixels():
    rng = np.random.default_rng(1)
    g = ZoomGeometry.from_border(64, 64, 16)
    prev = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    inpainted = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # a model that drifted
    out = g.paste_back(inpainted, prev)
    assert np.array_equal(out[16:48, 16:48], g.shrink(prev))
    assert np.array_equal(out[:16], inpainted[:16])  # border untouched
    assert np.array_equal(out[:, :16], inpainted[:, :16])


def test_feathered_paste_back_ramps_over_feather():
    g = ZoomGeometry.from_border(64, 64, 16, feather_px=4)
    prev = np.full((64, 64, 3), 200, np.uint8)
    inpainted = np.zeros((64, 64, 3), np.uint8)
    out = g.paste_back(inpainted, prev)
    # Row 0 of the centre, its middle column: alpha = (0 + 0.5) / 4 = 0.125 -> 0.125*200 = 25
    assert out[16, 32, 0] == 25
    # Row 1: (1.5/4)*200 = 75; row 3: (3.5/4)*200 = 175; row 4 and deeper: exact 200.
    assert out[17, 32, 0] == 75 and out[19, 32, 0] == 175
    assert (out[20:44, 20:44] == 200).all()
    # The mask asks the inpainter to redraw the feather band too.
    assert (g.inpaint_mask()[16:20, 32] == 255).all() and g.inpaint_mask()[20, 32] == 0


def test_inbetween_endpoints_are_the_keyframes():
    rng = np.random.default_rng(2)
    g = ZoomGeometry.from_border(32, 32, 8)
    prev = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    cur = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(g.inbetween(cur, prev, 0, 5), prev)
    assert np.array_equal(g.inbetween(cur, prev, 5, 5), cur)


def test_inbetween_crop_and_paste_on_a_ramp():
    # 64x64, border 16: r = 0.5. N = 2, j = 1: the frame shows the centre crop of K[i] with
    # side f = 0.5**0.5 = 0.70711, so column x reads K[i] at 31.5 + (x - 31.5) * f.
    g = ZoomGeometry.from_border(64, 64, 16)
    current = ramp_x(64, 64)
    previous = np.full((64, 64, 3), 200, np.uint8)
    frame = g.inbetween(current, previous, 1, 2)
    f = math.sqrt(0.5)
    # Column 0: 31.5 - 31.5*0.70711 = 9.23 -> 9; column 9: 31.5 - 22.5*0.70711 = 15.59 -> 16.
    # (OpenCV's bilinear weights have 1/32 pixel steps: allow one grey level.)
    assert abs(int(frame[5, 0, 0]) - 9) <= 1
    assert abs(int(frame[5, 9, 0]) - 16) <= 1
    # K[i-1] is pasted at scale r/f = 0.70711: column x reads it at 31.5 + (x - 31.5) * f/r;
    # column 9 reads -0.32 (outside), column 10 reads 31.5 - 21.5*1.41421 = 1.09 (inside).
    # (Row 32 crosses the pasted centre; row 5 lies above it, rows 10..53 are inside.)
    assert frame[32, 10, 0] == 200 and frame[32, 53, 0] == 200
    assert frame[32, 9, 0] != 200 and frame[32, 54, 0] != 200  # 31.5 + 22.5*1.41421 = 63.32
    # Its footprint is 64 * 0.70711 = 45.25 px wide: columns 10..53 are 44 full pixels.
    assert int((frame[32, :, 0] == 200).sum()) == 44
    assert int((frame[:, 32, 0] == 200).sum()) == 44
    # Outside the paste, every column matches the ramp formula.
    xs = np.arange(64)
    expected = 31.5 + (xs - 31.5) * f
    assert np.abs(frame[5, xs, 0].astype(float) - expected).max() <= 1.0
