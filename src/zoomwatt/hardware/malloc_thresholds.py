"""glibc's malloc thresholds, pinned where they end up, so a measurement does not depend on what
its process ran before.

glibc serves a request above its mmap threshold with a fresh ``mmap``, whose pages the first
writes fault in, and recycles freed memory below it. The threshold starts at 128 KiB and
rises to the size of each mapped block freed, up to 32 MiB, and the heap's trim threshold with
it (twice that). The performance model prices exactly that
end state: buffers of 32 MiB and more mapped afresh at every call, smaller ones recycled
(``memory.on_chip_buffer`` and ``memory.spill_bandwidth`` in a host profile:
hardware/fresh_buffers.py). But what a process allocated and freed before can change that (how,
not found): in the lever check on the AMD EPYC Zen 5 (2026-12-04, 128 px, 4 steps), the fp32
baseline keyframe took 3.0-3.2 s in processes that had run the bf16 and int8 configurations
before (the full default set; bf16, int8-dynamic and deepcache=2), 5.0-5.7 s in processes that
had not (every=16 alone, int8-dynamic alone, bf16 with deepcache=2), and 3.2 s with
``mallopt(M_MMAP_THRESHOLD, 1 GiB)``, which recycles every buffer: the fast runs ran as if they
took no page faults, and every speed-up against that baseline was off by as much. With the
thresholds pinned as below, the whole default set gave a baseline of 4.03 s against 3.99
predicted (22:03 UTC, one run).

:func:`pin_malloc_thresholds` sets both thresholds to that end state (32 MiB and 64 MiB) with
``mallopt``, which also stops glibc moving them, before a measurement builds its models. Off
glibc (macOS, musl) it does nothing and says why.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES  # what glibc's dynamic rule sets beside it


@dataclass(frozen=True)
class MallocPin:
    """What :func:`pin_malloc_thresholds` did: ``pinned``, or the reason it could not."""

    pinned: bool
    note: str


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def pin_malloc_thresholds() -> MallocPin:
    """Pin glibc's mmap and trim thresholds at 32 and 64 MiB (module doc); a no-op off glibc."""
    libc = _glibc()
    if libc is None:
        return MallocPin(False, "malloc thresholds left as they are: not glibc")
    done = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    done = done and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    if not done:
        return MallocPin(False, "malloc thresholds left as they are: glibc refused mallopt")
    log.info("glibc malloc thresholds pinned: mmap 32 MiB, trim 64 MiB")
    return MallocPin(True, "glibc malloc thresholds pinned at 32 MiB (mmap) and 64 MiB (trim)")
