"""Where the border's patches come from (issue 16): the materials of the start picture's edge,
not its subject, and its detailed part; a zoom out of a red disc on a grey texture continues
the texture."""

from __future__ import annotations

import numpy as np
import pytest

from zoomwatt.pipeline.backends import surround as sr
from zoomwatt.pipeline.backends.outpaint import outpaint
from zoomwatt.pipeline.geometry import ZoomGeometry


def disc_on_texture(side: int = 128, radius: float = 0.55) -> tuple[np.ndarray, np.ndarray]:
    """A saturated red disc (the subject) of ``radius`` x side centred on grey noise (the
    surround); and where the disc is. At 0.55 the disc crosses the frame's sides near their
    middles, as coffee's saucer crosses its left side."""
    rng = np.random.default_rng(0)
    picture = np.clip(rng.normal(128, 30, (side, side, 1)), 0, 255).repeat(3, axis=2)
    yy, xx = np.mgrid[0:side, 0:side]
    disc = np.hypot(yy - side / 2 + 0.5, xx - side / 2 + 0.5) < radius * side
    picture[disc] = (200, 30, 30)
    return picture.astype(np.uint8), disc


def test_the_edge_pixels_are_the_outer_row_each_once():
    labels = np.arange(20).reshape(4, 5)
    # 5 + 5 along the top and bottom rows, 2 + 2 down the sides between them: 14.
    assert sorted(sr.edge_pixels(labels)) == [0, 1, 2, 3, 4, 5, 9, 10, 14, 15, 16, 17, 18, 19]


def test_kmeans_splits_two_groups_and_is_deterministic():
    points = np.array([[0, 0], [1, 0], [0, 1], [10, 10], [11, 10], [10, 11]], np.float32)
    labels = sr.kmeans(points, 2)
    assert len(set(labels[:3])) == 1 and len(set(labels[3:])) == 1 and labels[0] != labels[3]
    assert np.array_equal(labels, sr.kmeans(points.copy(), 2))


@pytest.mark.parametrize("radius", [0.45, 0.55])
def test_the_disc_is_not_surround_and_the_texture_is(radius):
    picture, disc = disc_on_texture(radius=radius)
    # At 0.55 the disc crosses each side over 2 * sqrt(0.55^2 - 0.5^2) = 0.46 of its length:
    # the largest share of the edge, but rarer there than in the frame (it covers 86% of it),
    # so it is skipped as a subject. At 0.45 it does not reach the edge at all.
    mask = sr.surround_mask(picture, margin_px=2)
    assert mask[disc].mean() < 0.01  # (almost) none of the disc
    assert mask[~disc].mean() > 0.5  # most of the texture (less the erosion at the disc)


def test_an_island_of_the_surround_inside_the_subject_is_dropped():
    picture, _ = disc_on_texture(radius=0.45)  # the disc does not reach the edge
    picture[58:70, 58:70] = picture[0:12, 0:12]  # a piece of the texture inside the disc
    mask = sr.surround_mask(picture)
    assert not mask[60:68, 60:68].any()
    assert mask[:8, :8].all()


def test_flat_is_not_detailed_and_a_checkerboard_is():
    flat = np.full((32, 32, 3), 120, np.uint8)
    assert not sr.detailed_mask(flat, 7).any()
    checks = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, 2)
    assert sr.detailed_mask(checks, 7).all()


@pytest.mark.parametrize("radius", [0.45, 0.52, 0.55])
def test_a_zoom_out_of_a_disc_continues_the_texture_not_the_disc(radius):
    picture, _ = disc_on_texture(radius=radius)
    geometry = ZoomGeometry.from_border(128, 128, 32)
    canvas, mask = geometry.canvas(picture)
    filled = outpaint(canvas, mask, 7, exemplar=picture)
    red = (filled[..., 0].astype(int) - filled[..., 1]) > 100  # the disc's 200 - 30 = 170
    # The border's outer half, beyond the seam's blend (16 px): measured 0% red at all three
    # radii; patches from the whole ring (the outpainter before) made it 85-100% red.
    outer = mask > 0
    outer[16:112, 16:112] = False
    assert red[outer].mean() < 0.02
