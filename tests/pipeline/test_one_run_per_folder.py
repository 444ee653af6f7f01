"""One work folder and one output serve one run at a time; a killed run's lock never blocks;
two runs never touch each other's temporary files; a full disk is one clean line."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from zoomwatt.cli.main import main
from zoomwatt.errors import InputError, WriteError
from zoomwatt.pipeline.backends.classical import ClassicalInpainter
from zoomwatt.pipeline.run_lock import RunLock, lock_file_for_output, lock_file_for_work_dir
from zoomwatt.pipeline.video import read_video_frames
from zoomwatt.pipeline.zoom import ZoomConfig, ZoomRun


def config(tmp_path, out="z.mp4", work="z.work", **overrides) -> ZoomConfig:
    settings = dict(
        prompt="a forest",
        size=(64, 64),
        keyframes=3,
        frames_per_keyframe=4,
        seed=7,
        out=tmp_path / out,
        work_dir=tmp_path / work,
    )
    settings.update(overrides)
    return ZoomConfig(**settings)


def cli(cfg: ZoomConfig, *extra) -> list[str]:
    w, h = cfg.size
    return [
        "zoom",
        "--prompt",
        cfg.prompt,
        "--size",
        f"{w}x{h}",
        "--keyframes",
        str(cfg.keyframes),
        "--frames-per-keyframe",
        str(cfg.frames_per_keyframe),
        "--out",
        str(cfg.out),
        "--work-dir",
        str(cfg.work_dir),
        "--no-progress",
        *extra,
    ]


class PausedInpainter(ClassicalInpainter):
    """Stops inside its second call (keyframe 2) until ``go`` is set: the run then holds its
    locks, its temporary video exists and keyframe 1 is on disk."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.inside, self.go = threading.Event(), threading.Event()

    def inpaint(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 2:
            self.inside.set()
            self.go.wait(timeout=60)
        return super().inpaint(*args, **kwargs)


def started_run(cfg: ZoomConfig):
    """A real run in a thread, paused mid-way; calling the returned function lets it finish
    and gives its result."""
    backend, box = PausedInpainter(), {}
    worker = threading.Thread(target=lambda: box.update(result=ZoomRun(cfg, backend).run()))
    worker.start()
    assert backend.inside.wait(timeout=60)
    # Keyframe 2 is made while segment 1 is encoded: wait until the video file has begun.
    deadline = time.monotonic() + 60
    while not list(cfg.out.parent.glob(f"{cfg.out.name}.*.partial")):
        assert time.monotonic() < deadline, "the first run never began its video"
        time.sleep(0.01)

    def finish():
        backend.go.set()
        worker.join(timeout=60)
        return box["result"]

    return finish


@pytest.mark.parametrize("shared", ["work_dir", "out"])
def test_second_run_is_refused_and_the_first_loses_nothing(tmp_path, capsys, shared):
    first = config(tmp_path)
    second = config(
        tmp_path,
        out="z.mp4" if shared == "out" else "other.mp4",
        work="z.work" if shared == "work_dir" else "other.work",
    )
    finish = started_run(first)
    partials = list(tmp_path.glob("z.mp4.*.partial"))
    assert len(partials) == 1
    capsys.readouterr()
    assert main(cli(second, "--overwrite")) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert (
        f"{shared}=" in err and "no other run is using" in err and f"process {os.getpid()}" in err
    )
    assert partials[0].exists()  # the second run did not touch the first one's file
    assert finish().frames == 9
    assert len(read_video_frames(first.out)) == 9
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".*.lock"))


def test_lock_of_a_killed_run_does_not_block(tmp_path):
    cfg = config(tmp_path)
    cfg.work_dir.mkdir()
    holder = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from zoomwatt.pipeline.run_lock import RunLock
        RunLock(Path({str(lock_file_for_work_dir(cfg.work_dir))!r}), "work_dir", "w", "a").acquire()
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match="no other run is using"):
            ZoomRun(cfg).run()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert lock_file_for_work_dir(cfg.work_dir).exists()  # left behind by the killed run
    assert ZoomRun(cfg).run().frames == 9  # and taken over


def test_stale_partials_and_lock_files_are_cleaned_by_the_next_run(tmp_path):
    cfg = config(tmp_path)
    stale = tmp_path / "z.mp4.999-deadbeef.partial"
    stale.write_bytes(b"half a video")
    lock_file_for_output(cfg.out).write_text("not even JSON")
    assert ZoomRun(cfg).run().frames == 9
    assert not stale.exists() and not lock_file_for_output(cfg.out).exists()


def test_lock_is_released_when_a_run_fails(tmp_path):
    cfg = config(tmp_path)

    class Boom(Exception):
        pass

    run = ZoomRun(cfg)
    run.backend.inpaint = lambda *a, **k: (_ for _ in ()).throw(Boom())
    with pytest.raises(Boom):
        run.run()
    lock = RunLock(lock_file_for_work_dir(cfg.work_dir), "work_dir", "w", "a work folder")
    with lock:
        assert lock.held


def test_full_disk_is_one_line_and_leaves_no_video(tmp_path, capsys, monkeypatch):
    import av

    cfg = config(tmp_path)
    real_open = av.open

    def open_on_a_full_disk(*args, **kwargs):
        container = real_open(*args, **kwargs)

        class Full:
            def __getattr__(self, name):
                return getattr(container, name)

            def mux(self, packet):
                raise av.error.OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return Full()

    monkeypatch.setattr(av, "open", open_on_a_full_disk)
    assert main(cli(cfg)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "out=" in err and "No space left on device" in err and "free space" in err
    assert not cfg.out.exists() and not list(tmp_path.glob("*.partial"))


def test_full_disk_while_saving_a_keyframe(tmp_path, monkeypatch):
    from zoomwatt.pipeline import workdir

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(workdir, "_atomic_write", full)
    with pytest.raises(WriteError, match=r"work_dir=.*No space left on device"):
        ZoomRun(config(tmp_path)).run()
