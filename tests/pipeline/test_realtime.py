"""Real-time plumbing: prefetch, the background writer, the paced stream, and the zoom's
overlap of the next keyframe with the in-between frames and the encoding of the current one."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from zoomwatt.cli.main import main
from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends.classical import ClassicalInpainter
from zoomwatt.pipeline.realtime import BackgroundWriter, StreamOptions, prefetch, stream
from zoomwatt.pipeline.video import VideoWriter, read_video_frames
from zoomwatt.pipeline.zoom import ZoomConfig, ZoomRun


def config(tmp_path, name="rt", **overrides) -> ZoomConfig:
    settings = dict(
        prompt="a forest",
        size=(64, 64),
        keyframes=3,
        frames_per_keyframe=4,
        seed=7,
        fps=240.0,  # pacing at 240 fps keeps the tests quick
        out=tmp_path / f"{name}.mp4",
        work_dir=tmp_path / f"{name}.work",
    )
    settings.update(overrides)
    return ZoomConfig(**settings)


class FakeClock:
    """Virtual time: ``sleep`` and ``advance`` move it; nothing waits for real."""

    def __init__(self):
        self.t = 0.0
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.t += seconds


# --- prefetch and the background writer --------------------------------------------------


def test_prefetch_keeps_order_and_runs_ahead():
    made = []

    def items():
        for i in range(5):
            made.append(i)
            yield i

    got = []
    for item in prefetch(items(), depth=1):
        if item == 0:
            deadline = time.monotonic() + 5
            while len(made) < 2 and time.monotonic() < deadline:  # item 1 is made meanwhile
                time.sleep(0.001)
            assert len(made) >= 2
        got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_prefetch_raises_the_producers_error_in_place():
    def items():
        yield 1
        raise KeyboardInterrupt("simulated crash")

    got = []
    with pytest.raises(KeyboardInterrupt, match="simulated crash"):
        for item in prefetch(items()):
            got.append(item)
    assert got == [1]


def test_prefetch_and_writer_check_depth():
    with pytest.raises(InputError, match="depth=0"):
        list(prefetch([1], depth=0))
    with pytest.raises(InputError, match="depth=0"):
        BackgroundWriter(lambda item: None, depth=0)


def test_background_writer_writes_in_order_on_another_thread_and_reports_errors():
    written, threads = [], set()

    def write(item):
        threads.add(threading.current_thread().name)
        written.append(item)

    writer = BackgroundWriter(write, depth=2)
    for i in range(10):
        writer.put(i)
    writer.close()
    assert written == list(range(10)) and threads == {"writer"}

    def fail(item):
        raise OSError("disk full")

    writer = BackgroundWriter(fail)
    writer.put(1)
    with pytest.raises(OSError, match="disk full"):
        writer.close()


# --- the paced stream ----------------------------------------------------------------------


def test_stream_shows_every_frame_on_its_tick_when_the_producer_keeps_up():
    clock, shown = FakeClock(), []
    report = stream(range(10), shown.append, StreamOptions(fps=10.0), clock=clock)
    assert shown == list(range(10))
    assert report.steady and report.frames_shown == 10 and report.frames_in == 10
    # ticks 0.0, 0.1, ..., 0.9: 9 periods of 0.1 s after the first frame
    assert report.playing_s == pytest.approx(0.9)
    assert report.shown_fps == pytest.approx(10.0)


def test_stream_wait_policy_counts_a_stall():
    clock, shown = FakeClock(), []

    def frames():
        for i in range(6):
            if i == 3:
                deadline = time.monotonic() + 10
                while len(shown) < 3 and time.monotonic() < deadline:  # frame 2 is on screen
                    time.sleep(0.001)
                clock.advance(0.35)  # frame 3 is due 0.3 s after frame 0 and comes at 0.55 s
            yield i

    options = StreamOptions(fps=10.0, late_policy="wait")
    report = stream(frames(), shown.append, options, clock=clock)
    assert shown == list(range(6))  # wait: every frame is shown
    assert report.frames_late == 1 and not report.steady
    # frame 2 shown at 0.2 s, frame 3 due at 0.3 s, shown at 0.2 + 0.35 = 0.55 s: 0.25 s late
    assert report.stall_s == pytest.approx(0.25)
    assert report.max_late_s == pytest.approx(0.25)


def test_stream_drop_policy_keeps_the_clock_and_repeats_the_last_frame():
    # Real clock, generous margins: 20 fps (50 ms ticks), frame 4 comes about 0.4 s late.
    shown = []

    def frames():
        for i in range(8):
            if i == 4:
                time.sleep(0.4)
            yield i

    options = StreamOptions(fps=20.0, late_policy="drop")
    report = stream(frames(), shown.append, options)
    assert report.frames_dropped >= 1 and report.frames_repeated >= 1
    assert report.frames_shown == len(shown)
    assert shown[:4] == [0, 1, 2, 3] and shown[4] == 3  # the tick of frame 4 repeats frame 3
    assert shown == sorted(shown)  # never backwards


def test_stream_raises_the_producers_error():
    def frames():
        yield 1
        raise ValueError("broken frame")

    with pytest.raises(ValueError, match="broken frame"):
        stream(frames(), lambda f: None, StreamOptions(fps=1000.0), clock=FakeClock())


def test_stream_options_are_checked():
    for kwargs, name in (
        ({"fps": 0}, "fps"),
        ({"queue_frames": 0}, "queue_frames"),
        ({"prebuffer_frames": 9, "queue_frames": 4}, "prebuffer_frames"),
        ({"late_policy": "skip"}, "late_policy"),
    ):
        with pytest.raises(InputError, match=name):
            StreamOptions(**kwargs).check()


# --- the zoom in real time -----------------------------------------------------------------


class GatedInpainter(ClassicalInpainter):
    """Keyframe 2's inpainting announces its start: the test waits for that announcement while
    it holds the first in-between frame of segment 1."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.second_started = threading.Event()

    def inpaint(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 2:  # the call that makes keyframe 2 (keyframe 0 is procedural)
            self.second_started.set()
        return super().inpaint(*args, **kwargs)


def test_realtime_makes_the_next_keyframe_while_the_segment_is_consumed(tmp_path):
    backend = GatedInpainter()
    run = ZoomRun(config(tmp_path, realtime=True), backend=backend)
    overlapped = None
    for frame in run.frames():
        if frame.keyframe == 1 and overlapped is None:
            # Sequentially, keyframe 2 would only start after segment 1 is consumed: this wait
            # would time out. With the overlap it is already under way.
            overlapped = backend.second_started.wait(timeout=20)
    assert overlapped is True


def test_sequential_run_does_not_overlap(tmp_path):
    backend = GatedInpainter()
    run = ZoomRun(config(tmp_path, realtime=False), backend=backend)
    seen = None
    for frame in run.frames():
        if frame.keyframe == 1 and seen is None:
            seen = backend.second_started.is_set()
    assert seen is False


def encoded(monkeypatch, cfg) -> tuple[list[np.ndarray], object]:
    """Run ``cfg`` and keep a copy of every frame handed to the video encoder."""
    handed: list[np.ndarray] = []
    original = VideoWriter.write

    def write(self, frame):
        handed.append(frame.copy())
        original(self, frame)

    monkeypatch.setattr(VideoWriter, "write", write)
    result = ZoomRun(cfg).run()
    monkeypatch.undo()
    return handed, result


def test_realtime_run_gives_the_same_video_and_a_stream_report(tmp_path, monkeypatch):
    # The frames are compared as they reach the encoder: the same code makes them in both
    # runs (only the thread differs), so they are equal exactly. The files are compared too:
    # the encoder settings are pinned to give the same bytes for the same frames (video.py).
    a, plain = encoded(monkeypatch, config(tmp_path, "plain"))
    b, fast = encoded(monkeypatch, config(tmp_path, "fast", realtime=True))
    assert len(a) == len(b) == 9  # 1 + 4 * (3 - 1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert plain.out.read_bytes() == fast.out.read_bytes()
    assert plain.stream is None
    assert fast.stream is not None and fast.stream.frames_shown == 9
    assert fast.stream.frames_dropped == 0  # wait policy: nothing skipped
    assert sum(t.video_write_s for t in fast.timings) > 0
    assert fast.to_dict()["stream"]["frames_shown"] == 9


def test_realtime_zoom_in(tmp_path, monkeypatch):
    a, plain = encoded(monkeypatch, config(tmp_path, "pi", direction="in"))
    b, fast = encoded(monkeypatch, config(tmp_path, "fi", direction="in", realtime=True))
    assert len(a) == len(b) == 9
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert plain.out.read_bytes() == fast.out.read_bytes()


def test_interrupted_realtime_run_leaves_no_video_and_resumes(tmp_path):
    class Crash(ClassicalInpainter):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def inpaint(self, *args, **kwargs):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt("simulated crash")
            return super().inpaint(*args, **kwargs)

    cfg = config(tmp_path, "crash", realtime=True)
    with pytest.raises(KeyboardInterrupt):
        ZoomRun(cfg, backend=Crash()).run()
    assert not cfg.out.exists()
    cfg.resume = True
    resumed = ZoomRun(cfg).run()
    reference = ZoomRun(config(tmp_path, "ref")).run()
    a, b = read_video_frames(resumed.out), read_video_frames(reference.out)
    assert resumed.resumed_keyframes == 2
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_realtime_options_are_checked_before_work(tmp_path):
    with pytest.raises(InputError, match="late_policy"):
        ZoomRun(config(tmp_path, realtime=True, late_policy="skip"))
    with pytest.raises(InputError, match="prebuffer_frames=0"):
        ZoomRun(config(tmp_path, realtime=True, prebuffer_frames=0))


def test_cli_realtime_prints_the_stream_report(tmp_path, capsys):
    code = main(
        [
            "zoom",
            "--prompt",
            "a forest",
            "--size",
            "64x64",
            "--keyframes",
            "3",
            "--frames-per-keyframe",
            "4",
            "--fps",
            "240",
            "--realtime",
            "--late-policy",
            "drop",
            "--out",
            str(tmp_path / "cli.mp4"),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "paced at 240 fps" in out and "stream at 240 fps" in out
