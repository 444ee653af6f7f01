"""The zoom run end to end with the classical backend: frames, determinism, resume, streaming."""

from __future__ import annotations

import numpy as np
import pytest

from zoomwatt.pipeline.backends.classical import ClassicalInpainter
from zoomwatt.pipeline.geometry import ZoomGeometry
from zoomwatt.pipeline.video import read_video_frames
from zoomwatt.pipeline.zoom import ZoomConfig, ZoomRun, zoom


def config(tmp_path, name="z", **overrides) -> ZoomConfig:
    settings = dict(
        prompt="a forest",
        size=(64, 64),
        keyframes=3,
        frames_per_keyframe=4,
        seed=7,
        out=tmp_path / f"{name}.mp4",
        work_dir=tmp_path / f"{name}.work",
    )
    settings.update(overrides)
    return ZoomConfig(**settings)


def all_frames(cfg, backend=None):
    return [f.image for f in ZoomRun(cfg, backend=backend).frames()]


class CountingInpainter(ClassicalInpainter):
    """Counts calls; raises on the call numbered ``fail_at`` (simulated crash)."""

    def __init__(self, fail_at: int | None = None):
        super().__init__()
        self.calls = 0
        self.fail_at = fail_at

    def inpaint(self, *args, **kwargs):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt("simulated crash")
        return super().inpaint(*args, **kwargs)


def test_run_writes_every_frame(tmp_path):
    result = zoom(**config(tmp_path).__dict__)
    assert result.frames == 9  # 1 + 4 * (3 - 1)
    frames = read_video_frames(result.out)
    assert len(frames) == 9 and frames[0].shape == (64, 64, 3)
    assert [t.index for t in result.timings] == [0, 1, 2]
    assert sum(t.frames for t in result.timings) == 9
    assert all(t.inpaint_s > 0 for t in result.timings)
    assert result.duration_s == pytest.approx(9 / 30)
    assert len({t.seed for t in result.timings}) == 3  # a distinct seed per keyframe
    assert (tmp_path / "z.work" / "keyframes" / "00002.png").is_file()


def test_frames_follow_the_geometry(tmp_path):
    cfg = config(tmp_path)
    run = ZoomRun(cfg)
    frames = [f.image for f in run.frames()]
    store, g = run.store, ZoomGeometry.from_border(64, 64, 16)
    k0, k1, k2 = (store.load(i) for i in range(3))
    assert np.array_equal(frames[0], k0) and np.array_equal(frames[4], k1)
    assert np.array_equal(frames[8], k2)
    assert np.array_equal(frames[2], g.inbetween(k1, k0, 2, 4))
    # Each keyframe holds the exact shrunken pixels of the one before.
    assert np.array_equal(k2[16:48, 16:48], g.shrink(k1))


def test_same_inputs_same_video_and_seed_matters(tmp_path):
    a = all_frames(config(tmp_path, "a"))
    b = all_frames(config(tmp_path, "b"))
    c = all_frames(config(tmp_path, "c", seed=8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[-1], c[-1])
    ra = zoom(**config(tmp_path, "ra").__dict__)
    rb = zoom(**config(tmp_path, "rb").__dict__)
    assert ra.out.read_bytes() == rb.out.read_bytes()


def test_zoom_in_is_zoom_out_reversed(tmp_path):
    out = all_frames(config(tmp_path, "o"))
    into = all_frames(config(tmp_path, "i", direction="in"))
    assert len(into) == len(out)
    assert all(np.array_equal(x, y) for x, y in zip(out[::-1], into, strict=True))


def test_frames_stream_before_later_keyframes_exist(tmp_path):
    backend = CountingInpainter()
    frames = ZoomRun(config(tmp_path, keyframes=4), backend=backend).frames()
    first = next(frames)
    assert first.index == 0 and backend.calls == 0  # no border filled yet
    for _ in range(4):  # the first segment
        next(frames)
    assert backend.calls == 1


def test_non_square_and_feathered(tmp_path):
    result = zoom(**config(tmp_path, size=(96, 64), feather=2, keyframes=2).__dict__)
    assert read_video_frames(result.out)[0].shape == (64, 96, 3)


def test_gif_output(tmp_path):
    result = zoom(**config(tmp_path, out=tmp_path / "z.gif", fps=25.0).__dict__)
    assert len(read_video_frames(result.out)) == 9


def test_start_image_of_another_size_is_cover_cropped(tmp_path):
    from PIL import Image

    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 30:50] = 255  # a white band in the middle of the wide image
    Image.fromarray(image).save(tmp_path / "start.png")
    frames = all_frames(config(tmp_path, image=tmp_path / "start.png", keyframes=1))
    assert len(frames) == 1 and frames[0].shape == (64, 64, 3)
    assert frames[0][32, 32].min() > 200 and frames[0][32, 2].max() < 50


def test_interrupted_run_leaves_no_video_and_resume_matches(tmp_path):
    reference = zoom(**config(tmp_path, "ref", keyframes=4).__dict__)

    cfg = config(tmp_path, "crash", keyframes=4)
    with pytest.raises(KeyboardInterrupt):
        ZoomRun(cfg, backend=CountingInpainter(fail_at=2)).run()  # dies making keyframe 2
    assert not cfg.out.exists()
    assert not list(tmp_path.glob("crash.mp4*.partial"))
    assert (tmp_path / "crash.work" / "keyframes" / "00001.png").exists()

    cfg.resume = True
    backend = CountingInpainter()
    resumed = ZoomRun(cfg, backend=backend).run()
    assert backend.calls == 2  # keyframes 2 and 3 only
    assert resumed.resumed_keyframes == 2
    assert [t.resumed for t in resumed.timings] == [True, True, False, False]
    assert resumed.out.read_bytes() == reference.out.read_bytes()


def test_resume_with_other_settings_is_refused(tmp_path):
    from zoomwatt.errors import ResumeError

    zoom(**config(tmp_path).__dict__)
    with pytest.raises(ResumeError, match="seed"):
        zoom(**config(tmp_path, resume=True, seed=99).__dict__)
    with pytest.raises(ResumeError, match="texture"):
        zoom(**{**config(tmp_path, resume=True).__dict__, "backend_options": None}, texture=3.0)


def test_existing_run_needs_resume_or_overwrite(tmp_path):
    from zoomwatt.errors import InputError

    zoom(**config(tmp_path).__dict__)
    with pytest.raises(InputError, match="--resume"):
        zoom(**config(tmp_path).__dict__)
    assert zoom(**config(tmp_path, overwrite=True).__dict__).frames == 9


def test_more_keyframes_extend_a_finished_run(tmp_path):
    zoom(**config(tmp_path, keyframes=2).__dict__)
    longer = zoom(**config(tmp_path, keyframes=3, resume=True).__dict__)
    fresh = zoom(**config(tmp_path, "fresh", keyframes=3).__dict__)
    assert longer.resumed_keyframes == 2
    assert longer.out.read_bytes() == fresh.out.read_bytes()


def test_damaged_keyframe_is_regenerated(tmp_path):
    zoom(**config(tmp_path).__dict__)
    (tmp_path / "z.work" / "keyframes" / "00002.png").write_bytes(b"garbage")
    again = zoom(**config(tmp_path, resume=True).__dict__)
    assert again.resumed_keyframes == 2


@pytest.mark.parametrize("fail_on", [1, 2])  # keyframe 1, and the last one (index 2 of 3)
def test_a_failing_picture_check_leaves_no_video(tmp_path, monkeypatch, fail_on):
    # the checks run in their own thread; their error still aborts the video, last keyframe too
    from zoomwatt.pipeline import picture_checks

    real_add = picture_checks.ZoomChecker.add

    def add(self, image):
        if len(self.stats) == fail_on:
            raise RuntimeError("simulated check failure")
        real_add(self, image)

    monkeypatch.setattr(picture_checks.ZoomChecker, "add", add)
    cfg = config(tmp_path)
    with pytest.raises(RuntimeError, match="simulated check failure"):
        ZoomRun(cfg).run()
    assert not cfg.out.exists()
    assert not list(tmp_path.glob("z*.partial"))
