"""Real-time plumbing for the zoom: overlap of the stages, and a steady-rate stream.

Two pieces, both plain threads and bounded queues:

- :func:`prefetch` runs an iterator in a background thread, at most ``depth`` items ahead. The
  zoom uses it to make keyframe ``i + 1`` (on the GPU, which releases the GIL) while the host
  computes the in-between frames of segment ``i`` and encodes them, so the output never waits on
  interpolation. :class:`BackgroundWriter` moves the video encoding to its own thread the same
  way.
- :func:`stream` emits frames at a steady ``fps`` from a bounded queue filled by the producer,
  and reports what a viewer would have seen: frames late (the stream stalled), frames dropped
  (skipped to keep the clock), the time to the first frame and the peak queue fill.

Nothing here knows about models: it moves frames and measures time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from zoomwatt.errors import InputError

log = logging.getLogger(__name__)

LATE_POLICIES = ("wait", "drop")
_END = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable[Any], depth: int = 1, name: str = "prefetch") -> Iterator[Any]:
    """Yield ``items`` in order while a background thread computes up to ``depth`` ahead.

    An exception in the producer is raised in the consumer at the same position. Closing the
    returned generator early (``break``, garbage collection) stops the producer at its next
    item."""
    if depth < 1:
        raise InputError("depth", depth, "at least 1 item ahead")
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(_Failure(exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)


class BackgroundWriter:
    """Calls ``write(item)`` for every item put, in order, in its own thread (at most
    ``depth`` items waiting). :meth:`close` waits for the last write and raises its error."""

    def __init__(self, write: Callable[[Any], None], depth: int = 8, name: str = "writer"):
        if depth < 1:
            raise InputError("depth", depth, "at least 1 item waiting")
        self._write = write
        self._box: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._box.get()
            if item is _END:
                return
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as exc:
                    self._error = exc

    def put(self, item: Any) -> None:
        if self._error is not None:
            raise self._error
        self._box.put(item)

    def close(self) -> None:
        self._box.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error


@dataclass(frozen=True)
class StreamOptions:
    """How the stream paces its frames."""

    fps: float = 30.0
    queue_frames: int = 64  # frames the producer may be ahead of the clock
    prebuffer_frames: int = 1  # frames queued before the clock starts
    late_policy: str = "wait"  # wait: stall and resume; drop: keep the clock, skip late frames

    def check(self) -> None:
        if not self.fps > 0:
            raise InputError("fps", self.fps, "a frame rate > 0")
        if self.queue_frames < 1:
            raise InputError("queue_frames", self.queue_frames, "at least 1 frame")
        if not 1 <= self.prebuffer_frames <= self.queue_frames:
            raise InputError(
                "prebuffer_frames",
                self.prebuffer_frames,
                f"1 to queue_frames ({self.queue_frames})",
            )
        if self.late_policy not in LATE_POLICIES:
            raise InputError("late_policy", self.late_policy, f"one of {', '.join(LATE_POLICIES)}")


@dataclass
class StreamReport:
    """What a viewer of the stream saw. Times in seconds."""

    fps: float
    late_policy: str
    frames_in: int = 0  # frames the producer made
    frames_shown: int = 0  # ticks of the clock, each showing a frame (repeats included)
    frames_late: int = 0  # wait: frames shown after their due time (the stream stalled first)
    frames_dropped: int = 0  # drop: frames never shown because they missed their tick
    frames_repeated: int = 0  # drop: ticks that showed the previous frame again
    stall_s: float = 0.0  # wait: total time the picture stood still beyond its tick
    max_late_s: float = 0.0  # the worst lateness of one frame
    startup_s: float = 0.0  # from the start to the first frame shown (warm-up, first keyframe)
    playing_s: float = 0.0  # from the first frame shown to the last
    queue_peak: int = 0  # most frames waiting in the queue
    sink_s: float = 0.0  # total time spent in the sink (encoding, display)

    @property
    def steady(self) -> bool:
        """True when every frame was shown on its tick."""
        return self.frames_late == 0 and self.frames_dropped == 0 and self.frames_repeated == 0

    @property
    def shown_fps(self) -> float:
        """Ticks per second after the first frame (the target is ``fps``)."""
        if self.frames_shown < 2 or self.playing_s <= 0:
            return float("nan")
        return (self.frames_shown - 1) / self.playing_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "steady": self.steady, "shown_fps": self.shown_fps}

    def summary(self) -> str:
        words = "steady" if self.steady else "NOT steady"
        text = (
            f"stream at {self.fps:g} fps: {words}; {self.frames_shown} frames shown, "
            f"{self.frames_late} late, {self.frames_dropped} dropped, "
            f"{self.frames_repeated} repeated, stalled {self.stall_s:.2f} s "
            f"(worst {self.max_late_s * 1e3:.0f} ms); first frame after {self.startup_s:.2f} s; "
            f"queue peak {self.queue_peak}"
        )
        return text


class _Clock:
    """Wall clock; tests may pass another with the same two methods."""

    @staticmethod
    def now() -> float:
        return time.perf_counter()

    @staticmethod
    def sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def stream(
    frames: Iterable[Any],
    sink: Callable[[Any], None],
    options: StreamOptions | None = None,
    clock: Any = None,
) -> StreamReport:
    """Show ``frames`` through ``sink`` at ``options.fps`` and report how steady it was.

    A producer thread pulls ``frames`` into a queue of ``queue_frames`` (it blocks when the
    queue is full: back-pressure, never a lost frame). The clock starts once
    ``prebuffer_frames`` are queued (or the producer is done). Then every ``1 / fps`` s one
    frame goes to ``sink``:

    - ``late_policy="wait"``: a frame not ready on its tick is shown as soon as it arrives,
      counted late, and the clock restarts from there (a stall, as a video player buffers);
      every frame is shown.
    - ``late_policy="drop"``: the clock never moves; a tick with no frame shows the previous
      one again (a repeat) and the frame that missed its tick is dropped when it comes (as a
      live broadcast does). The number of ticks equals the number of frames.

    ``sink`` runs on the caller's thread; its time counts against the tick.
    """
    # 1. Check inputs.
    options = options or StreamOptions()
    options.check()
    # 2. The producer fills the queue; 3. the clock empties it.
    return _Stream(frames, sink, options, clock or _Clock()).run()


class _Stream:
    """The state of one :func:`stream`: the queue between the producer thread and the clock,
    and the report both write to."""

    def __init__(self, frames: Iterable[Any], sink, options: StreamOptions, clock: Any):
        self.frames, self.sink, self.options, self.clock = frames, sink, options, clock
        self.period = 1.0 / options.fps
        self.report = StreamReport(fps=options.fps, late_policy=options.late_policy)
        self.box: queue.Queue = queue.Queue(maxsize=options.queue_frames)
        self.ready = threading.Event()  # the prebuffer is full or the producer is done
        self.stop = threading.Event()
        self.first_shown: float | None = None

    def run(self) -> StreamReport:
        started = self.clock.now()
        producer = threading.Thread(target=self._produce, name="stream-producer", daemon=True)
        producer.start()
        try:
            self.ready.wait()
            if self.options.late_policy == "wait":
                self._play_waiting()
            else:
                self._play_dropping()
            finished = self.clock.now()
            if self.first_shown is not None:
                self.report.startup_s = self.first_shown - started
                self.report.playing_s = finished - self.first_shown
        finally:
            self.stop.set()
            producer.join(timeout=5.0)
        return self.report

    # --- the producer ----------------------------------------------------------------------

    def _produce(self) -> None:
        report, box = self.report, self.box
        try:
            for frame in self.frames:
                while not self.stop.is_set():
                    try:
                        box.put(frame, timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    return
                report.frames_in += 1
                report.queue_peak = max(report.queue_peak, box.qsize())
                if box.qsize() >= self.options.prebuffer_frames:
                    self.ready.set()
            box.put(_END)
        except BaseException as exc:
            box.put(_Failure(exc))
        finally:
            self.ready.set()

    # --- the clock -------------------------------------------------------------------------

    def _take(self, timeout: float | None) -> Any:
        """The next item; None if none came within ``timeout`` (None: wait for it)."""
        try:
            if timeout is None or timeout > 0:
                item = self.box.get(timeout=timeout)
            else:
                item = self.box.get_nowait()
        except queue.Empty:
            return None
        if isinstance(item, _Failure):
            raise item.exc
        return item

    def _show(self, frame: Any) -> None:
        entered = self.clock.now()
        self.sink(frame)
        self.report.sink_s += self.clock.now() - entered
        self.report.frames_shown += 1

    def _mark_first_shown(self) -> None:
        if self.first_shown is None:
            self.first_shown = self.clock.now()

    def _play_waiting(self) -> None:
        """``wait``: every frame is shown; a late one restarts the clock from its arrival."""
        report, clock, period = self.report, self.clock, self.period
        anchor, anchor_tick, tick = None, 0, 0
        while True:
            item = self._take(None)
            if item is _END:
                return
            now = clock.now()
            if anchor is None:
                anchor, anchor_tick = now, tick
            due = anchor + (tick - anchor_tick) * period
            if now > due + period / 2:  # missed its tick by more than half a frame
                late = now - due
                report.frames_late += 1
                report.stall_s += late
                report.max_late_s = max(report.max_late_s, late)
                anchor, anchor_tick = now, tick
            else:
                clock.sleep(due - now)
            self._show(item)
            self._mark_first_shown()
            tick += 1

    def _play_dropping(self) -> None:
        """``drop``: the clock never moves; a tick with no frame repeats the last one, and a
        frame that missed its tick is dropped when it comes."""
        report, clock, period = self.report, self.clock, self.period
        anchor, tick, last, arrived, done = clock.now(), 0, None, 0, False
        while True:
            due = anchor + tick * period
            shown = False
            while not done and arrived <= tick:
                # Wait for frame `tick` until half a frame after its tick at most.
                item = self._take(due + period / 2 - clock.now())
                if item is None:
                    break
                if item is _END:
                    done = True
                    break
                index, arrived = arrived, arrived + 1
                if index < tick:  # it missed its tick: a repeat was shown instead
                    report.frames_dropped += 1
                    continue
                clock.sleep(due - clock.now())
                self._show(item)
                last, shown = item, True
            if not shown:
                if done and arrived <= tick:
                    return  # every frame was shown or dropped
                report.max_late_s = max(report.max_late_s, clock.now() - due)
                if last is not None:
                    clock.sleep(due - clock.now())
                    self._show(last)
                    report.frames_repeated += 1
            self._mark_first_shown()
            tick += 1


__all__ = [
    "LATE_POLICIES",
    "BackgroundWriter",
    "StreamOptions",
    "StreamReport",
    "prefetch",
    "stream",
]
