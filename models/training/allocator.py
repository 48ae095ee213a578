"""Keep freed memory for reuse while an epoch runs (glibc's malloc; elsewhere nothing changes).

Every training step allocates and frees the same large buffers (the sampled decoder rows, their
gradients, lazy Adam's gathered moments: tens of MB each at MPD scale). glibc serves each block
over its mmap threshold (at most 32 MB) with a fresh mapping and unmaps it when freed, so the next
step page-faults all of it in again; at 946,000 outputs that was about a third of the step
(`benchmarks/dae.py`). Inside `reuse_freed_memory` large blocks come from the heap and stay there;
on leaving, the defaults come back and the free heap is returned to the kernel (`malloc_trim`).
The price is some heap that aligned allocations cannot reuse: over 1,000 default DAE steps at
123,119 outputs the process grew 250 MB more than without, flat after the first 300 steps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from contextlib import contextmanager
from typing import Iterator

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "mallopt") else None
    except OSError:
        return None


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Large blocks from the heap, nothing trimmed, until the block ends (see the module)."""
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
    try:
        yield
    finally:
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
