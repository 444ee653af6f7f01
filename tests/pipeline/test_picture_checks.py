"""The no-reference picture checks of a zoom: their measurements on pictures with known
answers, and their thresholds on what they were calibrated for (issue 16): real photos' own
border and centre pass, the Telea zoom fails, rays from the centre fail, a collage fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoomwatt.errors import InputError
from zoomwatt.pipeline import picture_checks as pc
from zoomwatt.pipeline.backends.classical import ClassicalInpainter
from zoomwatt.pipeline.geometry import ZoomGeometry
from zoomwatt.pipeline.samples import sample_image_path

DATA = Path(__file__).resolve().parents[1] / "data"


def square(path: Path, side: int) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    scale = side / min(image.size)
    size = (max(side, round(image.size[0] * scale)), max(side, round(image.size[1] * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    left, top = (size[0] - side) // 2, (size[1] - side) // 2
    return np.asarray(image.crop((left, top, left + side, top + side))).copy()


def geometry_of(side: int) -> ZoomGeometry:
    return ZoomGeometry.from_border(side, side, side // 4)


def zoom_keyframes(start: np.ndarray, count: int, method: str) -> list[np.ndarray]:
    g = geometry_of(start.shape[0])
    backend, keyframes = ClassicalInpainter(method=method), [start]
    for index in range(1, count):
        canvas, mask = g.canvas(keyframes[-1])
        filled = backend.inpaint(canvas, mask, "", "", 100 + index).image
        keyframes.append(g.paste_back(filled, keyframes[-1]))
    return keyframes


def rays(side: int, count: int = 24) -> np.ndarray:
    """Stripes running out from the centre: ``count`` periods around it."""
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    angle = np.arctan2(ys - (side - 1) / 2, xs - (side - 1) / 2)
    wave = 0.5 + 0.5 * np.sin(count * angle)
    rgb = np.stack([60 + 150 * wave, 90 + 100 * wave, 160 - 60 * wave], -1)
    return rgb.astype(np.uint8)


def rings(side: int, period_px: float = 6.0) -> np.ndarray:
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    radius = np.hypot(ys - (side - 1) / 2, xs - (side - 1) / 2)
    wave = 127 + 100 * np.sin(2 * np.pi * radius / period_px)
    return np.repeat(wave[..., None], 3, axis=2).astype(np.uint8)


# --- measurements with known answers ------------------------------------------------------


def test_a_ramp_has_no_seam():
    # L rises by the same step from row to row, so the jump across the centre's edge equals
    # the jump between neighbouring rows: ratio 1 (the columns' jumps are 0 on both sides).
    ramp = np.linspace(40, 200, 64, dtype=np.float32)[:, None].repeat(64, 1)
    assert pc.seam_ratio(ramp, geometry_of(64)) == pytest.approx(1.0, rel=1e-3)


def test_a_step_at_the_seam_is_a_seam():
    light = np.full((64, 64), 50.0, np.float32)
    light[16:48, 16:48] = 60.0  # a flat centre 10 L brighter than the flat border
    # Across each edge a 10 L jump; next to it, no jump: the ratio is 10 / 1e-6 (the floor).
    assert pc.seam_ratio(light, geometry_of(64)) > 1e6


def test_a_flat_picture_has_no_band_energy():
    flat = np.full((64, 64), 37.0, np.float32)
    assert pc.band_energy(flat, geometry_of(64)) == (pytest.approx(0.0), pytest.approx(0.0))


def test_rays_and_rings_score_plus_and_minus_one():
    g = geometry_of(192)
    assert pc.ray_index(pc.lightness(rays(192)), g) > 0.95  # measured 0.994
    assert pc.ray_index(pc.lightness(rings(192)), g) < -0.9
    noise = np.random.default_rng(0).integers(0, 256, (192, 192, 3), dtype=np.uint8)
    assert abs(pc.ray_index(pc.lightness(noise), g)) < 0.05  # no preferred direction


def test_the_same_picture_in_border_and_centre_has_no_colour_distance():
    # A picture of one colour: border and centre have equal means and zero spreads (to the
    # float32 rounding of means over thousands of pixels: 0.002 Lab measured).
    image = np.full((64, 64, 3), (120, 80, 200), np.uint8)
    assert pc.lab_distance(image, geometry_of(64)) == pytest.approx(0.0, abs=0.01)


def test_drift_against_the_first_keyframe():
    grey = lambda level: np.full((32, 32, 3), level, np.uint8)  # noqa: E731
    half = np.zeros((32, 32, 3), np.uint8)
    half[:, 16:] = 255
    drift = pc.check_drift([half, grey(128), half])
    assert drift[0].mean_l_change == 0.0 and drift[0].std_l_ratio == pytest.approx(1.0)
    # Black and white halves: L 0 and 100, mean 50, spread 50. Grey 128 is L 53.6 (CIE L* of
    # sRGB 128), spread 0: the mean moved 3.6 L (within 5) but the spread is gone (ratio 0).
    assert drift[1].mean_l_change == pytest.approx(53.59 - 50.0, abs=0.05)
    assert drift[1].std_l_ratio == pytest.approx(0.0, abs=1e-6)
    assert not drift[1].passed and drift[2].passed


# --- thresholds: what must pass and what must fail ------------------------------------------


@pytest.mark.parametrize(
    "picture, side",
    [("sample", 192), ("sample", 512), ("astronaut-160.png", 160), ("gravel-192.png", 192)],
)
def test_a_photos_own_band_and_centre_pass(picture, side):
    path = sample_image_path() if picture == "sample" else DATA / picture
    result = pc.check_keyframe(square(path, side), geometry_of(side))
    assert result.passed, result.failed()


def test_the_telea_zoom_fails():
    keyframes = zoom_keyframes(square(sample_image_path(), 128), 5, "telea")
    result = pc.check_zoom(keyframes, geometry_of(128))
    assert not result.passed
    # Every border is a smooth fill: detail 0.01-0.03 of the centre's (measured).
    assert all(not k.detail.passed for k in result.keyframes)
    # The rays grow from keyframe 2 on (0.82, 0.90, 0.92 measured), and the zoom washes out:
    # mean L +5.5 by keyframe 3, +12.1 by keyframe 4.
    assert all(not k.rays.passed for k in result.keyframes[1:])
    assert not result.drift[4].passed and result.drift[4].mean_l_change > 5.0


def test_rays_from_the_centre_fail():
    result = pc.check_keyframe(rays(192), geometry_of(192))
    assert result.failed() == ["rays"]  # a picture of rays everywhere: the border is no worse
    side = 192
    g = geometry_of(side)
    photo = square(sample_image_path(), side)
    streaked = rays(side)
    streaked[g.border_y : side - g.border_y, g.border_x : side - g.border_x] = g.shrink(photo)
    result = pc.check_keyframe(streaked, g, 1, photo)
    assert {"rays", "coherence", "seam"} <= set(result.failed())


def test_a_collage_fails():
    side = 192
    g = geometry_of(side)
    photo = square(sample_image_path(), side)
    centre = g.shrink(photo)  # 96 x 96
    collage = np.tile(centre, (2, 2, 1))[:side, :side]  # the border made of copies
    collage[g.border_y : side - g.border_y, g.border_x : side - g.border_x] = centre
    result = pc.check_keyframe(collage, g, 1, photo)
    assert result.copies.copied_block_fraction > 0.5
    assert not result.copies.passed


def test_results_serialize_and_name_their_thresholds():
    keyframes = zoom_keyframes(square(sample_image_path(), 64), 3, "patch")
    result = pc.check_zoom(keyframes, geometry_of(64))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["passed"] == result.passed
    row = data["keyframes"][0]
    assert row["index"] == 1 and set(row) >= {"detail", "rays", "copies", "seam", "passed"}
    assert row["rays"]["max_ray_index"] == pc.MAX_RAY_INDEX and row["rays"]["why"]
    assert [d["keyframe"] for d in data["drift"]] == [0, 1, 2]


@pytest.mark.parametrize(
    "keyframes, geometry, argument",
    [
        ([], geometry_of(64), "keyframes"),
        ([np.zeros((64, 64, 3), np.uint8)], "64x64", "geometry"),
        ([np.zeros((64, 32, 3), np.uint8)], geometry_of(64), r"keyframes\[0\]"),
        ([np.zeros((64, 64, 3), np.float32)], geometry_of(64), r"keyframes\[0\]"),
    ],
)
def test_bad_inputs_name_the_argument(keyframes, geometry, argument):
    with pytest.raises(InputError, match=f"^{argument}="):
        pc.check_zoom(keyframes, geometry)
