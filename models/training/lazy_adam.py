"""Adam that updates only the rows of a row-sparse gradient (for the sampled output loss)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.optim.adam import adam

from . import native_adam

SLICE_ALIGN = 64  # row length (floats) that keeps every slice whole vectors of the fused kernel
MIN_RUN = 64  # consecutive rows at least, read or updated in place instead of gathered


class LazyAdam:
    """Adam that, for row-sparse gradients, updates only the rows present (the idea of TF's
    LazyAdam; the arithmetic is torch's Adam, ε added after the bias correction).

    Dense gradients get the ordinary Adam update. The bias correction uses the global step count.
    The update itself is torch's fused Adam kernel (one pass instead of eight element-wise ones:
    `benchmarks/dae.py`'s default step, 123,119 outputs, went from 585 to 722–782 playlists/s with
    it). In a matrix whose rows are whole vectors (`SLICE_ALIGN` floats), runs of at least
    `min_run` consecutive rows (the loss head: the most frequent items, which the
    frequency-ordered vocabulary numbers first) are updated in place as slices; only the other rows
    are gathered and written back. Where a C compiler is at hand (`native`), a compiled kernel
    updates every row of a float32 matrix in place instead (`native_adam`: no gathering at all).
    The arithmetic per element is the same every way (the tests check the bits); only the row
    traffic shrinks.
    """

    def __init__(
        self,
        params,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        min_run: int = MIN_RUN,
        native: bool = True,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps, self.min_run = lr, betas, eps, min_run
        self.native = native  # the compiled in-place kernel where it is available (native_adam)
        self.step_count = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            if not p.grad.is_sparse:
                self._adam([p], [p.grad], [m], [v])
                continue
            grad = coalesced(p.grad)
            self._sparse_adam(p, m, v, grad._indices()[0], grad._values())

    def _sparse_adam(
        self, p: torch.Tensor, m: torch.Tensor, v: torch.Tensor, rows: torch.Tensor, g: torch.Tensor
    ) -> None:
        """Adam on the given (sorted, distinct) rows: in place by the compiled kernel where it is
        available; else long runs as slices, the rest gathered."""
        if self.native and native_adam.sparse_adam(
            p, m, v, rows, g, self.lr, self.betas, self.eps, self.step_count
        ):
            return
        aligned = p.dim() == 2 and p.shape[1] % SLICE_ALIGN == 0
        runs, rest = row_runs(rows, self.min_run) if aligned else ([], None)
        if runs:
            rows, g_rest = rows[rest], g[rest]
        else:
            g_rest = g
        gathered = [t.index_select(0, rows) for t in (p, m, v)]
        params, moments, squares = (
            [t[run.row : run.row + run.length] for run in runs] + [part]
            for t, part in zip((p, m, v), gathered)
        )
        grads = [g[run.at : run.at + run.length] for run in runs] + [g_rest]
        self._adam(params, grads, moments, squares)
        for full, part in zip((p, m, v), gathered):
            full.index_copy_(0, rows, part)

    def _adam(
        self,
        p: list[torch.Tensor],
        g: list[torch.Tensor],
        m: list[torch.Tensor],
        v: list[torch.Tensor],
    ) -> None:
        """torch's fused Adam step on lists of tensors, in place, at the global step count."""
        adam(
            p,
            [t.contiguous() for t in g],  # the fused CPU kernel assumes contiguous gradients
            m,
            v,
            [],
            [torch.full((), float(self.step_count - 1), device=t.device) for t in p],  # it adds 1
            fused=True,
            amsgrad=False,
            beta1=self.betas[0],
            beta2=self.betas[1],
            lr=self.lr,
            weight_decay=0.0,
            eps=self.eps,
            maximize=False,
        )

    def state_dict(self) -> dict:
        return {
            "step": self.step_count,
            "m": [t.cpu() for t in self.m],
            "v": [t.cpu() for t in self.v],
        }

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step"])
        for mine, theirs in zip(self.m + self.v, state["m"] + state["v"]):
            mine.copy_(theirs)


def coalesced(grad: torch.Tensor) -> torch.Tensor:
    """The row-sparse gradient with distinct sorted rows. Rows already strictly increasing (the
    sampled loss's columns are sorted) are only flagged: `coalesce()` would sort and copy every row
    (autograd drops the flag its producer set)."""
    rows = grad._indices()[0]
    if not grad.is_coalesced() and (rows.numel() < 2 or bool((rows[1:] > rows[:-1]).all())):
        return grad._coalesced_(True)
    return grad.coalesce()


class Run(NamedTuple):
    """Consecutive rows `row`… of a matrix, found at positions `at`… of a list of rows."""

    row: int
    at: int
    length: int


def row_runs(rows: torch.Tensor, min_run: int) -> tuple[list[Run], torch.Tensor]:
    """The runs of at least `min_run` consecutive row numbers in sorted distinct `rows`, and the
    positions of the rows outside them (one transfer to the host)."""
    n = rows.numel()
    if n == 0:
        return [], rows.new_zeros(0)
    starts = torch.cat([rows.new_zeros(1), torch.nonzero(rows[1:] != rows[:-1] + 1).flatten() + 1])
    lengths = torch.diff(starts, append=rows.new_full((1,), n))
    starts, lengths = starts[lengths >= min_run], lengths[lengths >= min_run]
    runs = [Run(*run) for run in torch.stack([rows[starts], starts, lengths], 1).tolist()]
    edges = torch.zeros(n + 1, dtype=torch.long, device=rows.device)
    edges.index_add_(0, starts, torch.ones_like(starts))
    edges.index_add_(0, starts + lengths, -torch.ones_like(starts))
    return runs, torch.nonzero(edges.cumsum(0)[:n] == 0).flatten()
