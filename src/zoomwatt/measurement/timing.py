"""Timing: warm-up excluded, median of repeats, with a clock that tests can replace.

:func:`time_repeats` times a callable (``warmup`` calls thrown away, then ``repeats`` timed, a
device synchronize before each clock read on CUDA); :func:`summarize` turns raw samples into a
:class:`Timing` (median, min, max, all samples).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.hardware.host_probe import BUSY_CPU_SHARE

Clock = Callable[[], float]


@dataclass(frozen=True)
class Timing:
    """Repeated measurements of one thing, warm-up excluded."""

    median_s: float
    min_s: float
    max_s: float
    samples_s: tuple[float, ...]
    warmup_s: tuple[float, ...] = ()  # the discarded warm-up samples, for the record
    disturbed_s: tuple[float, ...] = ()  # samples left out: the CPU was taken by others

    @property
    def repeats(self) -> int:
        return len(self.samples_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median_s,
            "min_s": self.min_s,
            "max_s": self.max_s,
            "samples_s": list(self.samples_s),
            "warmup_s": list(self.warmup_s),
            "disturbed_s": list(self.disturbed_s),
        }


def summarize(samples_s: Sequence[float], warmup_s: Sequence[float] = ()) -> Timing:
    """Median, min and max of ``samples_s`` (at least one sample)."""
    samples = tuple(float(s) for s in samples_s)
    if not samples:
        raise InputError("samples_s", list(samples_s), "at least one timed sample")
    return Timing(
        median_s=statistics.median(samples),
        min_s=min(samples),
        max_s=max(samples),
        samples_s=samples,
        warmup_s=tuple(float(s) for s in warmup_s),
    )


def summarize_undisturbed(
    samples_s: Sequence[float],
    cpu_shares: Sequence[float | None],
    warmup_s: Sequence[float] = (),
    min_share: float = BUSY_CPU_SHARE,  # below it, a sample was disturbed
) -> Timing:
    """Like :func:`summarize`, leaving out the samples during which the process got less than
    ``min_share`` of its threads' CPU time (another program held the cores: on a CPU, each op
    then waits a scheduler time slice). If every sample was disturbed, all are kept, and
    ``disturbed_s`` stays empty so the caller can tell. ``None`` shares count as undisturbed
    (e.g. GPU work, where the CPU waits by design)."""
    if len(samples_s) != len(cpu_shares):
        raise InputError("cpu_shares", len(cpu_shares), f"{len(samples_s)} values, one a sample")
    quiet = [s for s, c in zip(samples_s, cpu_shares, strict=True) if c is None or c >= min_share]
    noisy = [
        s for s, c in zip(samples_s, cpu_shares, strict=True) if c is not None and c < min_share
    ]
    if not quiet:
        return summarize(samples_s, warmup_s)
    timing = summarize(quiet, warmup_s)
    return Timing(
        timing.median_s, timing.min_s, timing.max_s, timing.samples_s, timing.warmup_s, tuple(noisy)
    )


def cuda_sync(device: str) -> Callable[[], None]:
    """A synchronize for ``device`` (a no-op off CUDA)."""
    if not str(device).startswith("cuda"):
        return lambda: None
    import torch

    return torch.cuda.synchronize


def time_repeats(
    fn: Callable[[], Any],
    *,
    warmup: int = 1,
    repeats: int = 3,
    sync: Callable[[], None] = lambda: None,
    clock: Clock = time.perf_counter,
) -> Timing:
    """Call ``fn`` ``warmup`` times (timed, but excluded), then ``repeats`` times, timed."""
    # 1. inputs
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise InputError("warmup", warmup, "an integer >= 0")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InputError("repeats", repeats, "an integer >= 1")

    # 2. time every call
    times = []
    for _ in range(warmup + repeats):
        sync()
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return summarize(times[warmup:], times[:warmup])
