"""Heap reuse during training epochs: freed blocks stay while any block is open, then go back."""

import os

import pytest
import torch

from mmcf.models import allocator
from mmcf.models.allocator import reuse_freed_memory

MB = 1e6


def resident() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(allocator._glibc() is None, reason="glibc's malloc only")
def test_freed_blocks_stay_until_the_outermost_block_ends():
    start = resident()
    with reuse_freed_memory():
        with reuse_freed_memory():
            block = torch.ones(50_000_000)  # 200 MB
            del block
        held = resident()  # the inner block ended, the outer one still keeps the heap
    after = resident()
    assert held - start > 150 * MB
    assert after - start < 50 * MB
    block = torch.ones(50_000_000)  # outside: large blocks are mapped and unmapped again
    del block
    assert resident() - start < 50 * MB
