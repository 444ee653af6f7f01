"""The allocator switch (pipeline/allocator.py): glibc keeps freed memory, gives it back, and maps
a copy's blocks on their own.

Page faults are counted (``getrusage``), not timed, of blocks from glibc's ``malloc`` (what the
module sets), each scenario in a fresh Python process so that the heap holds only what the
scenario put there (in the test process earlier tests leave free blocks that serve or refuse a
request by their sizes). A 64 MiB buffer is 64 * 2**20 /
4096 = 16384 pages, all faulted in by a first write of every page, none when the heap serves it
from memory already touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from zoomwatt.pipeline import allocator

glibc_only = pytest.mark.skipif(not allocator.has_mallopt(), reason="needs glibc's mallopt")
PAGES = 64 * 2**20 // 4096  # 16384

PRELUDE = textwrap.dedent(
    """
    import ctypes, json, resource
    from zoomwatt.pipeline import allocator

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = (ctypes.c_void_p,)
    libc.memset.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)

    class Live(list):
        # blocks kept by a scenario; `del live[i]` frees one
        def __delitem__(self, index):
            for block in (self[index] if isinstance(index, slice) else [self[index]]):
                libc.free(block)
            super().__delitem__(index)

    def faults(nbytes, keep=None):
        # minor faults of a malloc'd block of nbytes written whole (kept in keep, else freed)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = libc.malloc(nbytes)
        libc.memset(block, 1, nbytes)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        keep.append(block) if keep is not None else libc.free(block)
        return after - before

    MiB = 2**20
    out = {}
    """
)


def _run(scenario: str) -> dict:
    """``scenario`` (after :data:`PRELUDE`) in a fresh interpreter; its ``out`` dict."""
    code = PRELUDE + textwrap.dedent(scenario) + "\nprint(json.dumps(out))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@glibc_only
def test_freed_memory_is_kept_while_retained_and_given_back_after():
    out = _run(
        """
        with allocator.freed_memory_retained() as setting:
            out["setting"] = [setting.retained, setting.applied]
            faults(64 * MiB)  # grows the heap once
            out["kept"] = faults(64 * MiB)
        out["after"] = faults(64 * MiB)
        """
    )
    assert out["setting"] == [True, True]
    assert out["kept"] < PAGES // 10  # served from the heap again: a few faults at most
    # glibc's end state again (32 MiB mmap threshold): 64 MiB mapped afresh, every page
    # faulted in (90%: the kernel may serve a few at once)
    assert out["after"] > 0.9 * PAGES


CHURN = """
live = Live()
for _ in range(3):
    faults(31 * MiB, live)  # below the 32 MiB mmap threshold: from the heap, side by side
del live[0:2]  # a 62 MiB hole under the third block, which the heap's top cannot give back
"""
PROBE = """
allocator.release_freed_memory()  # the heap trimmed: its free blocks' pages given back
faults(40 * MiB)
out["second"] = faults(40 * MiB)
"""


@glibc_only
def test_blocks_freed_under_own_mappings_leave_no_hole_in_the_heap():
    """Blocks freed under a live one leave a hole that serves a 40 MiB request (above the mmap
    threshold) from the heap: trimmed, its first use faults, the next use does not (40 MiB =
    10240 pages). Made under ``own_mappings`` they were mapped on their own and went back to
    the OS: each 40 MiB request is mapped afresh and faults every page."""
    allocator_set = "allocator.release_freed_memory()\n"
    hole = _run(allocator_set + CHURN + PROBE)
    own = _run(
        allocator_set
        + "with allocator.own_mappings():\n"
        + textwrap.indent(CHURN, "    ")
        + "del live\n"
        + PROBE
    )
    pages = 40 * 2**20 // 4096  # 10240
    assert hole["second"] < pages // 10
    assert own["second"] > 0.9 * pages


@glibc_only
def test_own_mappings_returns_to_kept_memory_where_it_was_kept():
    out = _run(
        """
        with allocator.freed_memory_retained():
            with allocator.own_mappings():
                pass
            faults(64 * MiB)
            out["kept"] = faults(64 * MiB)
        """
    )
    assert out["kept"] < PAGES // 10  # freed memory kept again after the block


def test_off_glibc_nothing_is_set_and_the_note_says_why(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    setting = allocator.retain_freed_memory()
    assert (setting.retained, setting.applied) == (False, False)
    assert setting.note == "freed memory not retained: not glibc (the allocator is left as it is)"
    assert allocator.release_freed_memory().note.startswith("allocator left as it is: not glibc")
    with allocator.freed_memory_retained() as inside:
        assert not inside.applied
    with allocator.own_mappings():
        pass  # nothing to set


def test_a_refused_threshold_is_named(monkeypatch):
    class RefusingLibc:
        def mallopt(self, param: int, value: int) -> int:
            return 0

    monkeypatch.setattr(allocator, "_glibc", lambda: RefusingLibc())
    setting = allocator.retain_freed_memory()
    assert not setting.applied
    # 2**31 - 1 = 2147483647, the largest int mallopt takes
    assert setting.note == (
        "freed memory not retained: glibc refused an mmap threshold of 2147483647 bytes"
    )
