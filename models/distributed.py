"""Data-parallel training across processes: the process group torchrun describes, and gradient sums.

`torchrun --nproc_per_node N ...` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT;
`init_from_env` joins that group (NCCL for GPU training, gloo on CPU). Without a group (or with one
process) every helper here is a no-op, so single-process training runs exactly as before.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Iterable, TypeVar

import torch
import torch.distributed as dist

from .training.device import resolve_device
from .training.lazy_adam import coalesced

log = logging.getLogger(__name__)
T = TypeVar("T")


def active() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Rank 0: the process that validates, logs progress and writes files."""
    return rank() == 0


def backend_for(device: torch.device | str) -> str:
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def init_from_env(device: torch.device | str = "auto") -> bool:
    """Join torchrun's process group if WORLD_SIZE > 1 and none is joined yet; True if training is
    distributed.

    `device` is where training runs ("auto": a GPU if torch sees one); on a GPU each process takes
    the one numbered by its LOCAL_RANK.
    """
    if dist.is_available() and dist.is_initialized():
        return active()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    device = resolve_device(device)
    if torch.device(device).type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend_for(device))
    log.info(
        "rank %d of %d joined the process group (%s)", rank(), world_size(), backend_for(device)
    )
    return True


def cleanup() -> None:
    """Leave the process group (if any)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def from_main(compute: Callable[[], T]) -> T:
    """`compute()` run on rank 0 only, its result broadcast to every rank (any picklable value)."""
    if not active():
        return compute()
    value = [compute() if is_main() else None]
    dist.broadcast_object_list(value, src=0)
    return value[0]


def sum_value(value: float, device: torch.device | str = "cpu") -> float:
    """The sum of a number over all ranks."""
    if not active():
        return value
    total = torch.tensor(value, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total)


def sum_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Replace each gradient by its sum over all ranks (every rank must have the same gradients
    set).

    A row-sparse gradient stays row-sparse: it is summed over the union of the rows any rank touched
    (so lazy Adam updates exactly the rows one process would), sent as a dense block of those rows,
    which every backend can all-reduce.
    """
    if not active():
        return
    for p in params:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            p.grad = _sum_sparse(p.grad)
        else:
            dist.all_reduce(p.grad)


def _sum_sparse(grad: torch.Tensor) -> torch.Tensor:
    grad = coalesced(grad)
    index = grad.indices()[0]
    touched = torch.zeros(grad.shape[0], dtype=torch.uint8, device=grad.device)
    touched[index] = 1
    dist.all_reduce(touched, op=dist.ReduceOp.MAX)
    rows = touched.nonzero().squeeze(1)
    block = grad.values().new_zeros((len(rows), *grad.shape[1:]))
    block[torch.searchsorted(rows, index)] = grad.values()
    dist.all_reduce(block)
    return torch.sparse_coo_tensor(
        rows.unsqueeze(0), block, grad.shape, is_coalesced=True, check_invariants=False
    )
