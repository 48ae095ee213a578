"""Adam that updates only the rows of a row-sparse gradient (for the sampled output loss)."""

from __future__ import annotations

import math

import torch


class LazyAdam:
    """Adam that, for row-sparse gradients, updates only the rows present (TF's LazyAdam).

    Dense gradients get the ordinary Adam update. The bias correction uses the global step count.
    """

    def __init__(
        self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.step_count = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        b1, b2 = self.betas
        lr = self.lr * math.sqrt(1 - b2**self.step_count) / (1 - b1**self.step_count)
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                grad = coalesced(p.grad)
                idx, g = grad.indices()[0], grad.values()
                mr = m.index_select(0, idx).mul_(b1).add_(g, alpha=1 - b1)
                vr = v.index_select(0, idx).mul_(b2).addcmul_(g, g, value=1 - b2)
                m.index_copy_(0, idx, mr)
                v.index_copy_(0, idx, vr)
                p.index_add_(0, idx, mr.div_(vr.sqrt_().add_(self.eps)), alpha=-lr)
            else:
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                p.addcdiv_(m, v.sqrt().add_(self.eps), value=-lr)

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
