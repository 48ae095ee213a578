"""Keep freed memory for reuse while a loop runs (glibc's malloc; elsewhere nothing changes).

Every training step, and every batch of queries scored, allocates and frees the same large buffers
(the sampled decoder rows, their gradients, lazy Adam's gathered moments; score matrices of
[batch × tracks]: tens to hundreds of MB each). glibc serves each block over its mmap threshold (at
most 32 MB) with a fresh mapping and unmaps it when freed, so the next step page-faults all of it
in again: at 946,000 outputs that was about a third of a training step (`benchmarks/dae.py`), and
an elementwise product of two [270 × 93,880] score matrices took 66 ms into a new tensor against
14 ms into a reused one. Inside `reuse_freed_memory` large blocks come from the heap and stay
there. It is a context manager and, as `@reuse_freed_memory()`, a function decorator.
On leaving the outermost block the free heap is returned to the kernel (`malloc_trim`) and mmap is
allowed again, at the thresholds glibc's own dynamic rule reaches for large blocks (32 MB mmap,
64 MB trim): setting any of them turns that rule off for the rest of the process.
The price is some heap that aligned allocations cannot reuse: over 1,000 default DAE steps at
123,119 outputs the process grew 250 MB more than without, flat after the first 300 steps.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from contextlib import contextmanager
from typing import Iterator

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # mallopt parameters (malloc.h)
MMAP_MAX, MMAP_THRESHOLD, TRIM_THRESHOLD = 65536, 32 * 2**20, 64 * 2**20  # after the block
_lock, _depth = threading.Lock(), 0


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _enter(libc: ctypes.CDLL) -> None:
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1:
            libc.mallopt(M_MMAP_MAX, 0)
            libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)


def _leave(libc: ctypes.CDLL) -> None:
    global _depth
    with _lock:
        _depth -= 1
        if _depth == 0:
            libc.mallopt(M_MMAP_MAX, MMAP_MAX)
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            libc.malloc_trim(0)


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Large blocks from the heap, nothing trimmed, until the outermost block ends (see the
    module)."""
    libc = _glibc()
    if libc is None:
        yield
        return
    _enter(libc)
    try:
        yield
    finally:
        _leave(libc)
