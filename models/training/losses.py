"""Output losses of the neural models: the weighted cross-entropy of a dense sigmoid layer.

Per row, −Σ_items [y log p + w (1 − y) log(1 − p)] with p = sigmoid(h Wᵀ + b) and w the negative
weight. `ChunkedOutputLoss` computes it exactly, walking the items chunk by chunk and computing the
gradients on the way, so nothing of size batch × items is ever held; binary targets (the DAE: the
mean over rows) and soft targets with row weights (the CharCNN: the weighted sum over rows) have one
kernel each. `SampledOutputLoss` computes it on a subset of item columns (the batch's positives plus
sampled negatives, each re-weighted): an unbiased estimate with row-sparse weight gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from .lazy_adam import MIN_RUN, row_runs


@dataclass
class SparseTargets:
    """The non-zero targets of a batch as (row, col) pairs sorted by col, with their values (None:
    all ones); with sampling, the columns to score."""

    rows: torch.Tensor
    cols: torch.Tensor
    values: torch.Tensor | None = None  # soft targets; None: binary
    columns: torch.Tensor | None = None  # positives' columns + sampled negatives, sorted
    col_weight: torch.Tensor | None = None  # 1 for positives' columns, 1/inclusion for sampled ones
    local: torch.Tensor | None = None  # each one's column within `columns`

    @classmethod
    def of(cls, matrix: sp.csr_matrix, device: torch.device) -> "SparseTargets":
        """Soft targets from a sparse matrix."""
        coo = matrix.tocsc().tocoo()
        return cls(
            *(
                torch.from_numpy(np.ascontiguousarray(a)).to(device)
                for a in (
                    coo.row.astype(np.int64),
                    coo.col.astype(np.int64),
                    coo.data.astype(np.float32),
                )
            )
        )

    def to(self, device: torch.device) -> "SparseTargets":
        return SparseTargets(*(None if t is None else t.to(device) for t in vars(self).values()))

    def select(self, lo: int, hi: int) -> "SparseTargets":
        """Rows lo..hi-1, scored on the same columns."""
        keep = (self.rows >= lo) & (self.rows < hi)
        return SparseTargets(
            self.rows[keep] - lo,
            self.cols[keep],
            None if self.values is None else self.values[keep],
            self.columns,
            self.col_weight,
            None if self.local is None else self.local[keep],
        )


def weighted_bce(logits: torch.Tensor, targets: torch.Tensor, neg_weight: float) -> torch.Tensor:
    """−Σ_items [y log p + w (1 − y) log(1 − p)] per row, from logits (the plain form, for
    tests)."""
    loss = targets * F.softplus(-logits) + neg_weight * (1 - targets) * F.softplus(logits)
    return loss.sum(dim=1)


def output_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: SparseTargets,
    neg_weight: float,
    chunk: int,
    *,
    row_weights: torch.Tensor | None = None,
    bf16: bool = False,
) -> torch.Tensor:
    """The loss of the layer (weight [items, d], bias [items]) on `hidden` [B, d].

    Binary targets: the mean over rows, exact over all items in chunks of `chunk`, or over the
    sampled columns if the targets have them. Soft targets: Σ_rows row_weight · loss (exact).
    """
    if targets.columns is not None:
        return SampledOutputLoss.apply(
            hidden,
            weight,
            bias,
            targets.columns,
            targets.col_weight,
            targets.rows,
            targets.local,
            neg_weight,
            bf16,
        )
    return ChunkedOutputLoss.apply(
        hidden, weight, bias, targets, row_weights, neg_weight, chunk, bf16
    )


class _Gradients:
    """The gradients of h, W and b filled chunk by chunk, and the loss (float64)."""

    def __init__(self, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.h, self.w, self.b = (
            torch.zeros_like(h),
            torch.empty_like(weight),
            torch.empty_like(bias),
        )
        self.total = torch.zeros((), dtype=torch.float64, device=h.device)


def _binary_chunk(out, hm, weight, bias, start, stop, r, c, v, row_weights, neg_weight, bf16):
    """Binary targets, mean over rows: y = 1 at (r, c), else 0."""
    n_rows = hm.shape[0]
    wc = weight[start:stop].bfloat16() if bf16 else weight[start:stop]
    z = torch.addmm(bias[start:stop].to(hm.dtype), hm, wc.T).float()
    zp = z[r, c]
    out.total += neg_weight * F.softplus(z).sum(dtype=torch.float64)
    out.total += (F.softplus(-zp) - neg_weight * F.softplus(zp)).sum(dtype=torch.float64)
    g = torch.sigmoid(z)
    g[r, c] = g[r, c] - 1.0  # y = 1: p − 1; y = 0: w·p (scaled below)
    g.mul_(neg_weight / n_rows)
    g[r, c] = g[r, c] * (1.0 / neg_weight)
    gm = g.bfloat16() if bf16 else g
    out.h.add_((gm @ wc).float())
    out.w[start:stop] = (gm.T @ hm).float()
    out.b[start:stop] = g.sum(0)


def _soft_chunk(out, hs, weight, bias, start, stop, r, c, v, row_weights, w, bf16):
    """Soft targets v at (r, c), rows weighted: Σ_i [(w + (1 − w) y) softplus(z) − y z] per row,
    whose gradient in z is (w + (1 − w) y) σ(z) − y."""
    scaled_h, h = hs
    z = torch.addmm(bias[start:stop], h, weight[start:stop].T)
    soft = F.softplus(z)
    zp = z[r, c]
    per_row = (w * soft.sum(1)).index_add_(0, r, v * ((1 - w) * soft[r, c] - zp))
    out.total += (per_row * row_weights).sum(dtype=torch.float64)
    g = torch.sigmoid_(z).mul_(w)
    g[r, c] += v * ((1 - w) * torch.sigmoid(zp) - 1)
    torch.mm(g.T, scaled_h, out=out.w[start:stop])
    g.mul_(row_weights[:, None])
    out.h.addmm_(g, weight[start:stop])
    out.b[start:stop] = g.sum(0)


def _scaled(grads: tuple[torch.Tensor, ...], grad_out: torch.Tensor) -> tuple[torch.Tensor, ...]:
    if grad_out.item() == 1.0:  # loss.backward() needs no extra pass over the weight gradient
        return grads
    return tuple(g * grad_out for g in grads)


class ChunkedOutputLoss(torch.autograd.Function):
    """The exact loss and its gradients in one pass over item chunks (see the module docstring)."""

    @staticmethod
    def forward(ctx, h, weight, bias, targets, row_weights, neg_weight, chunk, bf16):
        n_items = weight.shape[0]
        out = _Gradients(h, weight, bias)
        if targets.values is None:
            kernel, hm, divisor = _binary_chunk, (h.bfloat16() if bf16 else h), h.shape[0]
        else:
            kernel, hm, divisor = _soft_chunk, (h * row_weights[:, None], h), 1
        rows, cols = targets.rows, targets.cols
        bounds = torch.searchsorted(
            cols, torch.arange(0, n_items + chunk, chunk, device=cols.device)
        ).tolist()
        for i, start in enumerate(range(0, n_items, chunk)):
            lo, hi = bounds[i], bounds[i + 1]
            r, c = rows[lo:hi], cols[lo:hi] - start
            v = None if targets.values is None else targets.values[lo:hi]
            stop = min(start + chunk, n_items)
            kernel(out, hm, weight, bias, start, stop, r, c, v, row_weights, neg_weight, bf16)
        ctx.save_for_backward(out.h, out.w, out.b)
        return (out.total / divisor).to(h.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        return *_scaled(ctx.saved_tensors, grad_out), *([None] * 5)


def _decoder_blocks(
    w: torch.Tensor, b: torch.Tensor, columns: torch.Tensor, dtype: torch.dtype
) -> list[tuple[slice | torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The decoder rows and biases of the sorted `columns` in `dtype`, as (positions among the
    columns, rows, biases) blocks: each run of `MIN_RUN` or more consecutive columns (the loss head:
    the most frequent items, numbered first) a view of the weights, the other columns gathered."""
    runs, rest = row_runs(columns, MIN_RUN)
    if not runs:
        rest_at: slice | torch.Tensor = slice(0, len(columns))
        rest_columns = columns
    else:
        rest_at, rest_columns = rest, columns[rest]
    blocks = [
        (slice(r.at, r.at + r.length), w[r.row : r.row + r.length], b[r.row : r.row + r.length])
        for r in runs
    ]
    if len(rest_columns):
        blocks.append((rest_at, w.index_select(0, rest_columns), b.index_select(0, rest_columns)))
    return [(at, wb.to(dtype), bb.to(dtype)) for at, wb, bb in blocks]


class SampledOutputLoss(torch.autograd.Function):
    """The binary loss on a subset of item columns, each negative term weighted by its column
    weight.

    The columns are the batch's positives (weight 1) plus sampled negatives (weight 1/inclusion
    probability), so the loss and its gradient are unbiased estimates of the full ones. Gradients of
    the decoder weights and biases are row-sparse (only these columns).
    """

    @staticmethod
    def forward(ctx, h, w, b, columns, col_weight, rows, local, neg_weight: float, bf16: bool):
        n_rows = h.shape[0]
        hm = h.bfloat16() if bf16 else h
        blocks = _decoder_blocks(w, b, columns, hm.dtype)
        # the logits transposed, [columns × rows]: a tall-skinny product W_c · hᵀ runs about twice
        # as fast on the CPU as h · W_cᵀ (benchmarks/dae.py), and each column's weight is a row's
        zt = hm.new_empty(len(columns), n_rows)
        for at, wm, bm in blocks:
            if isinstance(at, slice):
                torch.addmm(bm[:, None], wm, hm.T, out=zt[at])
            else:
                zt[at] = torch.addmm(bm[:, None], wm, hm.T)
        zt = zt.float()
        zp = zt[local, rows]
        scale = (neg_weight / n_rows) * col_weight
        total = (scale @ F.softplus(zt)).sum(dtype=torch.float64) * n_rows
        total += (F.softplus(-zp) - neg_weight * col_weight[local] * F.softplus(zp)).sum(
            dtype=torch.float64
        )
        gt = torch.sigmoid(zt)
        gt[local, rows] = gt[local, rows] - 1.0
        gt.mul_(scale[:, None])
        gt[local, rows] = gt[local, rows] / (neg_weight * col_weight[local])
        gm = gt.bfloat16() if bf16 else gt
        grad_h = torch.zeros_like(h)
        for at, wm, _ in blocks:
            grad_h += (gm[at].T @ wm).float()
        grad_w = torch.sparse_coo_tensor(
            columns.unsqueeze(0), (gm @ hm).float(), w.shape, check_invariants=False
        )
        grad_b = torch.sparse_coo_tensor(
            columns.unsqueeze(0), gt.sum(1), b.shape, check_invariants=False
        )
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        return (total / n_rows).to(h.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        return *_scaled(ctx.saved_tensors, grad_out), *([None] * 6)
