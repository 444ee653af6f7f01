"""What the CPU allocator does with freed memory: glibc's default, or kept in the process for the
next call (the ``retain-memory`` lever).

glibc serves a request above its mmap threshold with a fresh ``mmap`` and gives the pages back
at ``free``; the threshold rises with the blocks freed, up to 32 MiB, and the heap's trim
threshold with it (64 MiB). So in eager PyTorch on a CPU every call of a model maps its big
activations and oneDNN's reorder buffers afresh, and its first writes fault each page in: the
cost the host profile prices as ``memory.spill_bandwidth`` beyond ``memory.on_chip_buffer``
(hardware/fresh_buffers.py). On the AMD EPYC Zen 5 (2026-12-06, ``benchmarks/page_faults.py``:
full-size SD 2 inpainting UNet, random weights, 256x256, CFG batch 2, fp32) one call faulted in
1.77-1.82 GiB and took 2.11-2.32 s (median call of two fresh processes), against no fault and
1.70-1.71 s with freed memory kept, the peak resident memory the same (3.95-4.00 GB).

What a page fault costs is not the CPU's alone, and on that virtual machine it moved. One byte
written per 4 KiB page of a fresh 1 GiB private mapping (a C loop) ran at 0.33 GB/s on memory
long free, 2.7-2.8 GB/s at once again on the pages just unmapped, and 0.41-0.81 GB/s after 4 s
of sleep between touches at 21:47 UTC; at 23:11-23:19 every touch ran at 2.8-3.2 GB/s, after
sleep too (``benchmarks/page_faults.py``, recorded; its 21:55 record mapped shared memory by
mistake: 0.48 GB/s first, 0.79-0.88 after sleep). The VM's balloon device reports free pages to
the host (``VIRTIO_BALLOON_F_REPORTING``), which takes back memory left free for a while: a
likely cause of the slow touches, not shown. So the time of a run that faults can depend on
what the machine's memory did before it, which no calibration holds; a run that keeps its freed
memory pays the faults once, in its first call.

:func:`retain_freed_memory` sets both thresholds to the largest value ``mallopt`` takes, so that
freed memory stays in the heap for the next call (what PyTorch's CUDA caching allocator does on
a GPU); :func:`release_freed_memory` sets them back to glibc's end state (32 and 64 MiB, where
the model prices fresh buffers) and trims the heap. Off glibc (macOS, musl) both do nothing and
say why.

The reverse also happens: memory a process frees can take page faults away from code that runs
after it. glibc serves a request from free heap memory before it maps a fresh block, whatever
its mmap threshold, and such memory faults only on its first use. In the lever check (same
machine and day, 128 px, 4 steps) the fp32 baseline keyframe faulted 7.4 GiB and took 5.0-6.3 s,
but after the bf16 configuration had made its copy of the pipeline (an fp32 deep copy cast to
bf16, its 3.5 GB of fp32 weights freed among the live bf16 ones) 2.8 GiB and 4.2 s, and 0.25
GiB and 3.4-3.6 s after the combined configuration had made another; trimming the heap
(``malloc_trim``: the pages given back, the free blocks kept) did not undo it.
:func:`own_mappings` maps every new block of 128 KiB or more on its own while a block of code
runs (unless free heap memory serves it), so that what it frees goes back to the OS instead of
staying in the heap: the lever inpainters make their bf16 and int8 copies so, after which the
baseline faulted 7.2 GiB a keyframe again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
#: bytes: the largest threshold ``mallopt`` takes (an ``int``): a request above it (2 GiB) is
#: still mapped afresh
RETAIN_BYTES = 2**31 - 1
#: bytes: where glibc's dynamic thresholds end on a 64-bit machine (DEFAULT_MMAP_THRESHOLD_MAX,
#: and twice that for the trim threshold), the state the performance model prices
DEFAULT_MMAP_BYTES = 32 * 2**20
DEFAULT_TRIM_BYTES = 2 * DEFAULT_MMAP_BYTES
#: bytes: the smallest block :func:`own_mappings` maps on its own (glibc's initial threshold)
OWN_MAPPING_BYTES = 128 * 2**10
_retained = False  # whether retain_freed_memory is in force (own_mappings goes back to it)


@dataclass(frozen=True)
class AllocatorSetting:
    """What one call of this module did: ``retained`` is what the allocator does now with freed
    memory (False also where nothing could be set), ``applied`` whether it was set, ``note``
    one line saying what, or why not."""

    retained: bool
    applied: bool
    note: str


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def has_mallopt() -> bool:
    """Whether this process's C library is glibc, whose thresholds this module sets."""
    return _glibc() is not None


def _set(mmap_bytes: int, trim_bytes: int) -> str | None:
    """Set glibc's two thresholds; None, or why they could not be set."""
    libc = _glibc()
    if libc is None:
        return "not glibc (the allocator is left as it is)"
    if libc.mallopt(M_MMAP_THRESHOLD, mmap_bytes) != 1:
        return f"glibc refused an mmap threshold of {mmap_bytes} bytes"
    if libc.mallopt(M_TRIM_THRESHOLD, trim_bytes) != 1:
        return f"glibc refused a trim threshold of {trim_bytes} bytes"
    return None


def retain_freed_memory() -> AllocatorSetting:
    """Keep freed memory in this process for the next allocation (module doc), process-wide."""
    global _retained
    why = _set(RETAIN_BYTES, RETAIN_BYTES)
    if why is not None:
        log.warning("retain-memory: not applied: %s", why)
        if _glibc() is not None:  # one threshold may have been set: glibc's end state again
            _set(DEFAULT_MMAP_BYTES, DEFAULT_TRIM_BYTES)
        return AllocatorSetting(False, False, f"freed memory not retained: {why}")
    log.info("allocator: freed memory kept in the process (glibc thresholds 2 GiB)")
    _retained = True
    return AllocatorSetting(True, True, "freed memory kept in the process (glibc mallopt)")


def release_freed_memory() -> AllocatorSetting:
    """glibc's end-state thresholds again (32 and 64 MiB) and the heap's free memory given back."""
    global _retained
    why = _set(DEFAULT_MMAP_BYTES, DEFAULT_TRIM_BYTES)
    if why is not None:
        return AllocatorSetting(False, False, f"allocator left as it is: {why}")
    _retained = False
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    return AllocatorSetting(False, True, "glibc thresholds at 32 MiB (mmap) and 64 MiB (trim)")


@contextmanager
def freed_memory_retained() -> Iterator[AllocatorSetting]:
    """:func:`retain_freed_memory` for the block, :func:`release_freed_memory` after it."""
    setting = retain_freed_memory()
    try:
        yield setting
    finally:
        if setting.applied:
            release_freed_memory()


@contextmanager
def own_mappings() -> Iterator[None]:
    """Every new block of :data:`OWN_MAPPING_BYTES` or more mapped on its own for the block,
    unless free heap memory can serve it (module doc): for code that makes a model's copy and
    frees the temporaries, which then go back to the OS; the allocator as it was after (freed
    memory kept, if it was, else glibc's end state with the heap trimmed), also where glibc
    refused the setting. Off glibc it does nothing."""
    if _glibc() is None:
        yield
        return
    was_retained = _retained
    try:
        _set(OWN_MAPPING_BYTES, DEFAULT_TRIM_BYTES)
        yield
    finally:
        if was_retained:
            retain_freed_memory()
        else:
            release_freed_memory()
