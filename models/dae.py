"""MMCF's denoising autoencoder with hide-and-seek: one network per group of challenge categories.

A playlist is a sparse vector over [tracks | artists]. The encoder is an embedding-bag over its
non-zero entries (never a dense playlists × items input); the decoder's weighted cross-entropy over
every track and artist is computed item-chunk by item-chunk with its gradients in one pass
(`_OutputLoss`), so memory stays at batch × chunk whatever the vocabulary.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from tqdm import tqdm

from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import InputWeights, PlaylistCorpus, item_matrix, query_matrix
from mmcf.mpd.metrics import score_all, summarize
from mmcf.mpd.split import Validation
from mmcf.mpd.vocab import Vocab

from . import distributed
from .base import Recommender, top_n
from .store import config_from, load_tensors, read_manifest, save_tensors, write_manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """One of the four per-category networks: which prefixes it trains on and what it serves."""

    name: str
    categories: tuple[int, ...]
    prefix: str  # "fraction" of the playlist, first "count" tracks, or the "whole" one
    low: float
    high: float
    keep: tuple[float, float]  # input keep probability, drawn U(low, high) per minibatch
    tied_only: bool = False


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("0to1", (1, 2), "fraction", 0.0, 0.3, (0.75, 0.75), tied_only=True),
        Variant("5", (3, 4), "count", 1, 50, (0.75, 0.75)),
        Variant("10to100", (5, 6, 7, 9), "fraction", 0.3, 0.6, (0.75, 0.75)),
        Variant("25to100random", (8, 10), "whole", 1.0, 1.0, (0.5, 0.8)),
    )
}
ALL_VARIANTS = tuple(VARIANTS)


@dataclass
class DAEConfig:
    """Settings of the DAE. `DAEConfig.reference()` is the published MMCF setting.

    The defaults depart from the reference where measurement on small data said so: loss on the batch's
    positives, the 32,768 most frequent items (exact) and 4,096 negatives sampled from the rest
    (re-weighted, unbiased) with lazy Adam; Adam lr 0.03 tied / 0.015 untied; batch 64; L2 instead of
    L1 row normalisation; the decoder bias at each item's log-odds; at most 6 epochs (1 tied + 5
    untied, the tied-only 0to1 network up to 10), early-stopped on validation R-precision. They were
    re-measured on a tuning split that no reported number comes from (`benchmarks/dae_ablation.py`,
    synthetic seed 1): the figures are in `benchmarks/results/dae_ablation_tuning.json` and the README.
    """

    configs: tuple[str, ...] = ALL_VARIANTS  # which networks to train (the rest route to these)
    hidden: int = 256
    batch_size: int = 64
    epochs: int = 6  # at most, tied + untied, per network
    tied_only_epochs: int = 10  # at most, for the tied-only network (0to1); 0 = `epochs`
    tied_epochs: int = 1  # pre-training epochs with tied weights before untying
    patience: int = 2  # stop after this many epochs without a better validation R-precision
    lr_tied: float = 0.03
    lr_untied: float = 0.015
    keep_hidden: float = 0.8
    neg_weight: float = 0.55
    norm: str = "l2"  # input row normalisation: "l1" (reference) or "l2"
    hide_and_seek: bool = True
    tied_pretrain: bool = True  # False: untied from a random start (tied-only networks stay tied)
    init_scale: float = 0.0  # std of the initial weights; 0 = Glorot uniform (the reference)
    bias_init: str = "prior"  # decoder bias: "zeros" (reference) or "prior" (log-odds of each item)
    bf16: bool = False  # bf16 matmuls (autocast-like) in training and scoring
    device: str = "auto"  # auto | cpu | cuda
    negatives: int = 4096  # sampled negative items per minibatch; 0 = exact loss over every item
    negative_power: float = 0.5  # negatives drawn ∝ (playlist count + 1) ** power
    head_negatives: int = (
        32768  # the most frequent items always in the loss (exact), the rest sampled
    )
    chunk_items: int = 32768  # output items per chunk of the exact loss
    score_batch: int = 512
    seed: int = 0
    inputs: InputWeights = field(default_factory=InputWeights)

    def __post_init__(self) -> None:
        self.configs = tuple(self.configs)
        if isinstance(self.inputs, dict):
            self.inputs = InputWeights(**self.inputs)
        unknown = [c for c in self.configs if c not in VARIANTS]
        if unknown or not self.configs:
            raise UserError(
                f"DAE configs {unknown or '()'} unknown; choose from {', '.join(ALL_VARIANTS)}"
            )
        if self.norm not in ("l1", "l2"):
            raise UserError(f"DAE norm must be 'l1' or 'l2', not {self.norm!r}")
        if self.bias_init not in ("zeros", "prior"):
            raise UserError(f"DAE bias_init must be 'zeros' or 'prior', not {self.bias_init!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"DAE device must be auto, cpu or cuda, not {self.device!r}")

    @classmethod
    def reference(cls, **changes) -> "DAEConfig":
        """The published setting: exact loss, batch 250, L1 input, zero bias, Adam 0.01 / 0.005, ~20 epochs.

        The split of the 20 epochs into 10 tied + 10 untied is our assumption (not published).
        """
        values = dict(
            batch_size=250,
            norm="l1",
            bias_init="zeros",
            negatives=0,
            lr_tied=0.01,
            lr_untied=0.005,
            epochs=20,
            tied_epochs=10,
            patience=3,
        )
        return cls(**{**values, **changes})


# ---------------------------------------------------------------- the network


class _Net(torch.nn.Module):
    """Sparse input → sigmoid hidden → sigmoid over all items; tied means decoder = encoder weights."""

    def __init__(
        self, n_items: int, hidden: int, generator: torch.Generator, init_scale: float = 0.0
    ) -> None:
        super().__init__()
        # Glorot uniform (tf.get_variable's default) unless a scale is given: uniform with that std
        bound = (
            math.sqrt(6.0 / (n_items + hidden)) if init_scale <= 0 else math.sqrt(3.0) * init_scale
        )
        self.w_enc = torch.nn.Parameter(
            torch.empty(n_items, hidden).uniform_(-bound, bound, generator=generator)
        )
        self.b_enc = torch.nn.Parameter(torch.zeros(hidden))
        self.register_parameter("w_dec", None)
        self.b_dec = torch.nn.Parameter(torch.zeros(n_items))

    @property
    def tied(self) -> bool:
        return self.w_dec is None

    @property
    def decoder(self) -> torch.Tensor:
        return self.w_enc if self.w_dec is None else self.w_dec

    def untie(self) -> None:
        """Give the decoder its own weights, starting from the tied ones."""
        self.w_dec = torch.nn.Parameter(self.w_enc.detach().clone())

    def encode(self, batch: "_Inputs", sparse_grad: bool = False) -> torch.Tensor:
        pre = F.embedding_bag(
            batch.ids,
            self.w_enc,
            batch.offsets,
            mode="sum",
            per_sample_weights=batch.weights,
            sparse=sparse_grad,
        )
        return torch.sigmoid(pre + self.b_enc)

    def decode(
        self, hidden: torch.Tensor, stop: int | None = None, bf16: bool = False
    ) -> torch.Tensor:
        """Sigmoid outputs of the first `stop` items (all by default)."""
        w, b = self.decoder[:stop], self.b_dec[:stop]
        if bf16:
            return torch.sigmoid(
                torch.addmm(b.bfloat16(), hidden.bfloat16(), w.bfloat16().T).float()
            )
        return torch.sigmoid(torch.addmm(b, hidden, w.T))

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"w_enc": self.w_enc, "b_enc": self.b_enc, "b_dec": self.b_dec}
        if self.w_dec is not None:
            out["w_dec"] = self.w_dec
        return {k: v.detach().cpu().clone() for k, v in out.items()}

    def assign(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load weights (untying first if they are untied)."""
        if "w_dec" in tensors and self.tied:
            self.untie()
        with torch.no_grad():
            for name, value in tensors.items():
                getattr(self, name).copy_(value)


class _OutputLoss(torch.autograd.Function):
    """Mean over rows of −Σ_items [y log p + w (1−y) log(1−p)], p = sigmoid(h @ W.T + b).

    Targets are sparse (rows, cols of the ones, sorted by col). Forward walks the items in chunks and
    computes the gradients on the way, so nothing of size batch × items is ever held.
    """

    @staticmethod
    def forward(ctx, h, w, b, rows, cols, neg_weight: float, chunk: int, bf16: bool):
        n_rows, n_items = h.shape[0], w.shape[0]
        grad_h, grad_w, grad_b = torch.zeros_like(h), torch.empty_like(w), torch.empty_like(b)
        total = torch.zeros((), dtype=torch.float64, device=h.device)
        hm = h.bfloat16() if bf16 else h
        bounds = torch.searchsorted(
            cols, torch.arange(0, n_items + chunk, chunk, device=cols.device)
        ).tolist()
        for i, start in enumerate(range(0, n_items, chunk)):
            stop = min(start + chunk, n_items)
            wc = w[start:stop].bfloat16() if bf16 else w[start:stop]
            z = torch.addmm(b[start:stop].to(hm.dtype), hm, wc.T).float()
            r, c = rows[bounds[i] : bounds[i + 1]], cols[bounds[i] : bounds[i + 1]] - start
            zp = z[r, c]
            total += neg_weight * F.softplus(z).sum(dtype=torch.float64)
            total += (F.softplus(-zp) - neg_weight * F.softplus(zp)).sum(dtype=torch.float64)
            g = torch.sigmoid(z)
            g[r, c] = g[r, c] - 1.0  # y = 1: p − 1; y = 0: w·p (scaled below)
            g.mul_(neg_weight / n_rows)
            g[r, c] = g[r, c] * (1.0 / neg_weight)
            gm = g.bfloat16() if bf16 else g
            grad_h.add_((gm @ wc).float())
            grad_w[start:stop] = (gm.T @ hm).float()
            grad_b[start:stop] = g.sum(0)
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        return (total / n_rows).to(h.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w, grad_b = ctx.saved_tensors
        return grad_h * grad_out, grad_w * grad_out, grad_b * grad_out, None, None, None, None, None


def output_loss(
    hidden: torch.Tensor,
    net: _Net,
    targets: "_Targets",
    neg_weight: float,
    chunk: int,
    bf16: bool = False,
) -> torch.Tensor:
    """The weighted cross-entropy: exact over all items, or over the sampled columns if the targets have them."""
    if targets.columns is not None:
        return _SampledOutputLoss.apply(
            hidden,
            net.decoder,
            net.b_dec,
            targets.columns,
            targets.col_weight,
            targets.rows,
            targets.local,
            neg_weight,
            bf16,
        )
    return _OutputLoss.apply(
        hidden, net.decoder, net.b_dec, targets.rows, targets.cols, neg_weight, chunk, bf16
    )


def dense_loss(logits: torch.Tensor, y: torch.Tensor, neg_weight: float) -> torch.Tensor:
    """The same loss on dense tensors (reference for tests)."""
    return -(y * F.logsigmoid(logits) + neg_weight * (1 - y) * F.logsigmoid(-logits)).sum(1).mean()


class _SampledOutputLoss(torch.autograd.Function):
    """The same loss on a subset of item columns, each negative term weighted by its column weight.

    The columns are the batch's positives (weight 1) plus sampled negatives (weight 1/inclusion
    probability), so the loss and its gradient are unbiased estimates of the full ones. Gradients of
    the decoder weights and biases are row-sparse (only these columns).
    """

    @staticmethod
    def forward(ctx, h, w, b, columns, col_weight, rows, local, neg_weight: float, bf16: bool):
        n_rows = h.shape[0]
        wc, bc = w.index_select(0, columns), b.index_select(0, columns)
        hm, wm = (h.bfloat16(), wc.bfloat16()) if bf16 else (h, wc)
        z = torch.addmm(bc.to(hm.dtype), hm, wm.T).float()
        zp = z[rows, local]
        scale = (neg_weight / n_rows) * col_weight
        total = (F.softplus(z) @ scale).sum(dtype=torch.float64) * n_rows
        total += (F.softplus(-zp) - neg_weight * col_weight[local] * F.softplus(zp)).sum(
            dtype=torch.float64
        )
        g = torch.sigmoid(z)
        g[rows, local] = g[rows, local] - 1.0
        g.mul_(scale)
        g[rows, local] = g[rows, local] / (neg_weight * col_weight[local])
        gm = g.bfloat16() if bf16 else g
        grad_h = (gm @ wm).float()
        grad_w = torch.sparse_coo_tensor(
            columns.unsqueeze(0), (gm.T @ hm).float(), w.shape, check_invariants=False
        )
        grad_b = torch.sparse_coo_tensor(
            columns.unsqueeze(0), g.sum(0), b.shape, check_invariants=False
        )
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        return (total / n_rows).to(h.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w, grad_b = ctx.saved_tensors
        return (
            grad_h * grad_out,
            grad_w * grad_out,
            grad_b * grad_out,
            None,
            None,
            None,
            None,
            None,
            None,
        )


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
                grad = p.grad.coalesce()
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


# ---------------------------------------------------------------- batches


@dataclass
class _Inputs:
    """A batch of sparse input rows in embedding-bag form."""

    ids: torch.Tensor
    offsets: torch.Tensor
    weights: torch.Tensor

    def to(self, device: torch.device) -> "_Inputs":
        return _Inputs(self.ids.to(device), self.offsets.to(device), self.weights.to(device))

    def select(self, lo: int, hi: int) -> "_Inputs":
        """Rows lo..hi-1."""
        a = int(self.offsets[lo])
        b = int(self.offsets[hi]) if hi < len(self.offsets) else len(self.ids)
        return _Inputs(self.ids[a:b], self.offsets[lo:hi] - a, self.weights[a:b])


@dataclass
class _Targets:
    """The ones of a batch's targets (row, col sorted by col); with sampling, the columns to score."""

    rows: torch.Tensor
    cols: torch.Tensor
    columns: torch.Tensor | None = None  # positives' columns + sampled negatives
    col_weight: torch.Tensor | None = None  # 1 for positives' columns, 1/inclusion for sampled ones
    local: torch.Tensor | None = None  # each one's column within `columns`

    def to(self, device: torch.device) -> "_Targets":
        return _Targets(*(None if t is None else t.to(device) for t in vars(self).values()))

    def select(self, lo: int, hi: int) -> "_Targets":
        """Rows lo..hi-1, scored on the same columns."""
        keep = (self.rows >= lo) & (self.rows < hi)
        return _Targets(
            self.rows[keep] - lo,
            self.cols[keep],
            self.columns,
            self.col_weight,
            None if self.local is None else self.local[keep],
        )


def normalise(rows: np.ndarray, values: np.ndarray, n_rows: int, norm: str) -> np.ndarray:
    """Scale each row's values to unit L1 or L2 norm (empty rows stay empty)."""
    if norm == "l1":
        sums = np.bincount(rows, weights=np.abs(values), minlength=n_rows)
    else:
        sums = np.sqrt(np.bincount(rows, weights=values * values, minlength=n_rows))
    return (values / np.maximum(sums[rows], 1e-12)).astype(np.float32)


def csr_inputs(matrix: sp.csr_matrix, norm: str) -> _Inputs:
    """Embedding-bag form of weighted input rows, normalised."""
    matrix = matrix.tocsr()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    values = normalise(rows, matrix.data.astype(np.float64), matrix.shape[0], norm)
    return _Inputs(
        torch.from_numpy(matrix.indices.astype(np.int64)),
        torch.from_numpy(matrix.indptr[:-1].astype(np.int64)),
        torch.from_numpy(values),
    )


def entries_inputs(rows: np.ndarray, cols: np.ndarray, n_rows: int, norm: str) -> _Inputs:
    """Embedding-bag form of binary entries (row, col), normalised."""
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))[:-1]])
    values = normalise(rows, np.ones(len(rows)), n_rows, norm)
    return _Inputs(
        torch.from_numpy(cols.astype(np.int64)),
        torch.from_numpy(offsets.astype(np.int64)),
        torch.from_numpy(values),
    )


class _Training:
    """The training playlists: known track ids per row (CSR) and their full [tracks | artists] targets."""

    def __init__(self, corpus: PlaylistCorpus, vocab: Vocab, rows: np.ndarray) -> None:
        parts = [corpus.tracks(int(r)) for r in rows]
        self.lengths = np.array([len(p) for p in parts], dtype=np.int64)
        self.indptr = np.concatenate([[0], np.cumsum(self.lengths)])
        self.ids = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        self.targets = item_matrix(corpus, vocab, rows)
        self.track_artist = vocab.track_artist
        self.n_tracks, self.n_artists = vocab.n_tracks, vocab.n_artists

    def __len__(self) -> int:
        return len(self.lengths)

    def prefix_lengths(
        self, batch: np.ndarray, variant: Variant, rng: np.random.Generator
    ) -> np.ndarray:
        n = self.lengths[batch]
        if variant.prefix == "whole":
            return n
        if variant.prefix == "count":
            return np.minimum(n, rng.integers(int(variant.low), int(variant.high) + 1, size=len(n)))
        return np.round(n * rng.uniform(variant.low, variant.high, size=len(n))).astype(np.int64)

    def inputs(
        self,
        batch: np.ndarray,
        variant: Variant,
        rng: np.random.Generator,
        hide_and_seek: bool,
        norm: str,
    ) -> _Inputs:
        """Prefix tracks and their artists, input dropout, hide-and-seek (tracks or artists only), norm."""
        size = self.prefix_lengths(batch, variant, rng)
        starts = np.repeat(self.indptr[batch] - np.cumsum(size) + size, size)
        rows = np.repeat(np.arange(len(batch)), size)
        tracks = self.ids[starts + np.arange(len(rows))]
        artist = self.track_artist[tracks]
        known = artist >= 0
        keys = np.unique(rows[known] * self.n_artists + artist[known])
        a_rows, artists = keys // self.n_artists, keys % self.n_artists + self.n_tracks
        part = rng.integers(2) if hide_and_seek else -1  # 0: tracks only, 1: artists only
        rows = {0: rows, 1: a_rows}.get(part, np.concatenate([rows, a_rows]))
        cols = {0: tracks, 1: artists}.get(part, np.concatenate([tracks, artists]))
        keep = rng.uniform(*variant.keep)
        kept = rng.random(len(rows)) < keep
        return entries_inputs(rows[kept], cols[kept], len(batch), norm)

    def batch_targets(
        self,
        batch: np.ndarray,
        sampler: "_NegativeSampler | None" = None,
        rng: np.random.Generator | None = None,
    ) -> _Targets:
        coo = self.targets[batch].tocoo()
        order = np.lexsort((coo.row, coo.col))
        rows, cols = coo.row[order].astype(np.int64), coo.col[order].astype(np.int64)
        targets = _Targets(torch.from_numpy(rows), torch.from_numpy(cols))
        if sampler is not None:
            positives, local = np.unique(cols, return_inverse=True)
            negatives, weight = sampler.draw(positives, rng)
            targets.columns = torch.from_numpy(np.concatenate([positives, negatives]))
            targets.col_weight = torch.from_numpy(
                np.concatenate([np.ones(len(positives)), weight]).astype(np.float32)
            )
            targets.local = torch.from_numpy(local.astype(np.int64))
        return targets


class _NegativeSampler:
    """Negatives for the loss: the `head` most frequent items always (weight 1, exact), plus `size` draws
    with replacement from the rest, P(item) ∝ (playlist count + 1) ** power; positives excluded.

    A tail item drawn k times stands for the tail items not drawn with weight k / (size · P(item)), so
    the negative term is an unbiased estimate of the full sum over all non-positive items. The head is
    where the negative gradient is largest (a popular item's predicted probability is high for every
    playlist); summing it exactly removes most of the estimate's variance.
    """

    def __init__(self, counts: np.ndarray, size: int, power: float, head: int = 0) -> None:
        self.head = np.sort(np.argsort(-counts, kind="stable")[:head]).astype(np.int64)
        p = (counts.astype(np.float64) + 1.0) ** power
        p[self.head] = 0.0
        total = p.sum()
        self.p = p / total if total > 0 else p
        self.cdf = np.cumsum(self.p)
        self.cdf[-1] = 1.0
        self.size = size if total > 0 else 0

    def draw(
        self, positives: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        drawn = np.searchsorted(self.cdf, rng.random(self.size), side="right")
        items, counts = np.unique(drawn, return_counts=True)
        keep = ~np.isin(items, positives, assume_unique=True)
        items, counts = items[keep], counts[keep]
        head = self.head[~np.isin(self.head, positives, assume_unique=True)]
        return (
            np.concatenate([head, items]).astype(np.int64),
            np.concatenate([np.ones(len(head)), counts / (self.size * self.p[items])]),
        )


# ---------------------------------------------------------------- the recommender


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "DAE device 'cuda' requested but torch sees no GPU; use --device cpu or auto"
        )
    return torch.device(name)


def _generator(*seeds: int) -> torch.Generator:
    return torch.Generator().manual_seed(
        int(np.random.SeedSequence(list(seeds)).generate_state(1)[0])
    )


def variant_for(query: Query) -> str:
    """The variant serving a query's category, or (no known category) the one for its shape."""
    for variant in VARIANTS.values():
        if query.category in variant.categories:
            return variant.name
    n = len(query.seeds)
    if n <= 1:
        return "0to1"
    if n < 10:
        return "5"
    return "10to100" if query.in_order else "25to100random"


class DAE(Recommender):
    """The MMCF denoising autoencoder: one network per variant, queries routed by category."""

    kind = "dae"
    config_class = DAEConfig
    uses_validation = (
        True  # each network is early-stopped on the validation playlists of its categories
    )
    resumable = True  # fit takes checkpoint_dir and resume
    data_parallel = True  # fit trains data-parallel under torchrun (models/distributed.py)

    def __init__(self, config: DAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or DAEConfig()
        self.nets: dict[str, _Net] = {}
        self.history: dict[str, list[dict]] = {}
        self.device = _device(self.config.device)

    # ---- routing and scoring

    def route(self, query: Query) -> str:
        """The trained network that answers a query (its own variant if trained, else the first one)."""
        name = variant_for(query)
        return name if name in self.nets else next(iter(self.nets))

    @torch.no_grad()
    def _outputs(self, net: _Net, inputs: sp.csr_matrix, stop: int | None) -> torch.Tensor:
        out = []
        for start in range(0, inputs.shape[0], self.config.score_batch):
            batch = csr_inputs(
                inputs[start : start + self.config.score_batch], self.config.norm
            ).to(self.device)
            out.append(net.decode(net.encode(batch), stop, self.config.bf16).float().cpu())
        return (
            torch.cat(out) if out else torch.zeros(0, net.b_dec.shape[0] if stop is None else stop)
        )

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        self._check_trained()
        scores = torch.empty(len(queries), self.vocab.n_tracks)
        names = [self.route(q) for q in queries]
        for name in dict.fromkeys(names):
            index = [i for i, n in enumerate(names) if n == name]
            inputs = query_matrix([queries[i] for i in index], self.vocab, self.config.inputs)
            scores[index] = self._outputs(self.nets[name], inputs, self.vocab.n_tracks)
        return scores

    def item_scores(self, inputs: sp.csr_matrix, config_name: str) -> torch.Tensor:
        """Sigmoid outputs over all tracks + artists [B, n_items] for weighted input rows (normalised here)."""
        self._check_trained()
        if config_name not in self.nets:
            raise UserError(
                f"DAE network {config_name!r} not trained (have {', '.join(self.nets)})"
            )
        return self._outputs(self.nets[config_name], inputs, None)

    def teacher_targets(
        self,
        corpus: PlaylistCorpus,
        rows: Sequence[int],
        keep: float = 0.01,
        seed: int = 0,
        config_name: str | None = None,
    ) -> torch.Tensor:
        """Soft targets [len(rows), n_items] for the title model: max(true items, DAE output).

        The DAE (network `config_name`, default the one serving category 1) sees each playlist's
        binary [tracks | artists] vector with each entry kept with probability `keep`.
        """
        self._check_trained()
        name = config_name or self.route(Query(pid=-1, category=1))
        truth = item_matrix(corpus, self.vocab, rows).tocsr()
        rng = np.random.default_rng(seed)
        dropped = truth.copy()
        dropped.data = dropped.data * (rng.random(dropped.nnz) < keep)
        dropped.eliminate_zeros()
        out = self.item_scores(dropped, name)
        coo = truth.tocoo()
        out[
            torch.from_numpy(coo.row.astype(np.int64)), torch.from_numpy(coo.col.astype(np.int64))
        ] = 1.0
        return out

    def _check_trained(self) -> None:
        if not self.nets:
            raise UserError("the DAE is not trained: call fit or load first")

    # ---- training

    def fit(
        self,
        corpus: PlaylistCorpus,
        vocab: Vocab,
        validation: Validation | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> "DAE":
        """Train every configured network on the corpus, each early-stopped on its validation categories
        (without `validation`, each runs all its epochs).

        Under torchrun (WORLD_SIZE > 1) the processes train data-parallel: see `_Run.epoch`.
        """
        distributed.init_from_env(self.device)
        self.vocab = vocab
        cfg = self.config
        data = _Training(corpus, vocab, np.arange(len(corpus)))
        if len(data) == 0:
            raise UserError("no training playlists left for the DAE")
        fingerprint = _fingerprint(data)
        for index, name in enumerate(cfg.configs):
            variant = VARIANTS[name]
            queries, answers = (
                validation.of_categories(variant.categories) if validation else ([], {})
            )
            run = _Run(
                self,
                variant,
                index,
                data,
                queries,
                answers,
                fingerprint,
                Path(checkpoint_dir) if checkpoint_dir else None,
            )
            self.nets[name], self.history[name] = run.train(resume)
        return self

    # ---- files

    def save(self, directory: str | Path) -> None:
        self._check_trained()
        directory = Path(directory)
        write_manifest(
            directory,
            self.kind,
            self.vocab,
            self.config,
            networks=list(self.nets),
            history=self.history,
        )
        for name, net in self.nets.items():
            save_tensors(directory / f"{name}.pt", net.tensors())

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "DAE":
        manifest = read_manifest(directory, cls.kind, vocab)
        model = cls(config_from(DAEConfig, manifest["config"], Path(directory) / "manifest.json"))
        model.vocab = vocab
        model.history = manifest.get("history", {})
        for name in manifest.get("networks", []):
            net = _Net(vocab.n_items, model.config.hidden, torch.Generator())
            net.assign(load_tensors(Path(directory) / f"{name}.pt"))
            model.nets[name] = net.to(model.device).eval()
        if not model.nets:
            raise UserError(f"{directory}: the DAE manifest lists no trained network")
        return model


def _fingerprint(data: _Training) -> int:
    return zlib.crc32(
        data.ids.tobytes() + data.lengths.tobytes() + np.int64(data.targets.shape[1]).tobytes()
    )


class _Run:
    """Training of one network: epochs, validation, early stopping, checkpoints, resume."""

    def __init__(
        self,
        model: DAE,
        variant: Variant,
        index: int,
        data: _Training,
        queries: list[Query],
        answers: dict,
        fingerprint: int,
        checkpoint_dir: Path | None,
    ) -> None:
        self.model, self.cfg, self.variant, self.index = model, model.config, variant, index
        self.data, self.queries, self.answers, self.fingerprint = (
            data,
            queries,
            answers,
            fingerprint,
        )
        self.ckpt = checkpoint_dir / f"dae-{variant.name}.ckpt.pt" if checkpoint_dir else None
        self.best_path = checkpoint_dir / f"dae-{variant.name}.best.pt" if checkpoint_dir else None
        self.max_epochs = (
            self.cfg.tied_only_epochs
            if variant.tied_only and self.cfg.tied_only_epochs
            else self.cfg.epochs
        )
        self.tied_epochs = (
            self.max_epochs
            if variant.tied_only
            else (self.cfg.tied_epochs if self.cfg.tied_pretrain else 0)
        )
        self.sampler = (
            _NegativeSampler(
                np.bincount(data.targets.indices, minlength=data.targets.shape[1]),
                self.cfg.negatives,
                self.cfg.negative_power,
                self.cfg.head_negatives,
            )
            if self.cfg.negatives
            else None
        )

    def new_net(self) -> _Net:
        net = _Net(
            self.data.targets.shape[1],
            self.cfg.hidden,
            _generator(self.cfg.seed, self.index, 0),
            self.cfg.init_scale,
        )
        if self.cfg.bias_init == "prior":
            freq = (np.bincount(self.data.targets.indices, minlength=net.b_dec.shape[0]) + 0.5) / (
                len(self.data) + 1
            )
            net.b_dec.data = torch.from_numpy(np.log(freq / (1 - freq)).astype(np.float32))
        if self.tied_epochs == 0:
            net.untie()
        return net.to(self.model.device)

    def optimizer(self, net: _Net) -> "torch.optim.Optimizer | LazyAdam":
        lr = self.cfg.lr_tied if net.tied else self.cfg.lr_untied
        if self.sampler is not None:
            return LazyAdam(net.parameters(), lr=lr)
        return torch.optim.Adam(net.parameters(), lr=lr, fused=True)

    def train(self, resume: bool) -> tuple[_Net, list[dict]]:
        net = self.new_net()
        opt = self.optimizer(net)
        state = {"epoch": 0, "best": -1.0, "best_epoch": 0, "history": []}
        best = net.tensors()
        if resume and self.ckpt is not None and distributed.from_main(self.ckpt.exists):
            net, opt, state, best = self.restore()
            if state.get("done"):
                log.info("DAE %s: already trained (checkpoint %s)", self.variant.name, self.ckpt)
        while not state.get("done") and state["epoch"] < self.max_epochs:
            epoch = state["epoch"]
            if epoch == self.tied_epochs and net.tied:
                net.untie()
                opt = self.optimizer(net)
            loss = self.epoch(net, opt, epoch)
            rprec = distributed.from_main(lambda: self.validate(net)) if self.queries else None
            state["history"].append(
                {"epoch": epoch + 1, "tied": net.tied, "loss": loss, "r_precision": rprec}
            )
            if distributed.is_main():
                log.info(
                    "DAE %s epoch %d: loss %.3f, validation R-precision %s",
                    self.variant.name,
                    epoch + 1,
                    loss,
                    "-" if rprec is None else f"{rprec:.4f}",
                )
            state["epoch"] = epoch + 1
            if not self.queries or rprec > state["best"]:
                state["best"], state["best_epoch"] = (rprec if self.queries else -1.0), epoch + 1
                best = net.tensors()
                if self.best_path and distributed.is_main():
                    save_tensors(self.best_path, best)
            stale = state["epoch"] - state["best_epoch"]
            state["done"] = state["epoch"] >= self.max_epochs or (
                stale >= self.cfg.patience and state["epoch"] >= self.tied_epochs
            )
            self.checkpoint(net, opt, state)
        final = _Net(self.data.targets.shape[1], self.cfg.hidden, torch.Generator())
        final.assign(best)
        return final.to(self.model.device).eval(), state["history"]

    def epoch(self, net: _Net, opt: torch.optim.Optimizer, epoch: int) -> float:
        """One pass over the data; the mean minibatch loss.

        Data-parallel: every rank draws the same permutation, batches, corruption and sampled negatives
        (same seeded generators), runs the network on its own slice of each batch, and the gradients are
        summed over the ranks with each slice's loss weighted by its share of the batch, so a step is the
        single-process step on the whole batch (up to float rounding).
        """
        cfg, device = self.cfg, self.model.device
        rng = np.random.default_rng([cfg.seed, self.index, epoch + 1])
        gen = _generator(cfg.seed, self.index, epoch + 1, 1)
        order = rng.permutation(len(self.data))
        batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        net.train()
        quiet = {} if distributed.is_main() else {"disable": True}  # progress bar on rank 0 only
        total, bar = (
            0.0,
            tqdm(
                batches,
                desc=f"dae {self.variant.name} epoch {epoch + 1}",
                leave=False,
                unit=" batches",
                **quiet,
            ),
        )
        for step, batch in enumerate(bar):
            inputs = self.data.inputs(batch, self.variant, rng, cfg.hide_and_seek, cfg.norm)
            targets = self.data.batch_targets(batch, self.sampler, rng)
            mask = torch.bernoulli(
                torch.full((len(batch), cfg.hidden), cfg.keep_hidden), generator=gen
            )
            lo, hi, share = _shard(len(batch))
            hidden = net.encode(
                inputs.select(lo, hi).to(device), sparse_grad=self.sampler is not None
            )
            hidden = hidden * (mask[lo:hi] / cfg.keep_hidden).to(device)
            loss = (
                output_loss(
                    hidden,
                    net,
                    targets.select(lo, hi).to(device),
                    cfg.neg_weight,
                    cfg.chunk_items,
                    cfg.bf16,
                )
                * share
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            distributed.sum_gradients(net.parameters())
            opt.step()
            total += loss.detach().item()
            if step % 20 == 0:  # this rank's rows, scaled up to the whole batch
                bar.set_postfix(loss=f"{total * distributed.world_size() / (step + 1):.2f}")
        return distributed.sum_value(total) / max(len(batches), 1)

    def validate(self, net: _Net) -> float:
        net.eval()
        model = self.model
        inputs = query_matrix(self.queries, model.vocab, self.cfg.inputs)
        scores = model._outputs(net, inputs, model.vocab.n_tracks)
        recs = dict(
            zip((q.pid for q in self.queries), top_n(scores, self.queries, model.vocab, 500))
        )
        answers = {q.pid: self.answers[q.pid] for q in self.queries}
        return float(
            summarize(score_all(recs, answers, model.vocab.artist_of())).loc["all", "r_precision"]
        )

    # ---- checkpoints

    def checkpoint(self, net: _Net, opt: torch.optim.Optimizer, state: dict) -> None:
        if self.ckpt is None or not distributed.is_main():
            return
        save_tensors(
            self.ckpt,
            {
                "net": net.tensors(),
                "optimizer": opt.state_dict(),
                "state": state,
                "config": _plain(dataclasses.asdict(self.cfg)),
                "fingerprint": self.fingerprint,
                "variant": self.variant.name,
            },
        )

    def restore(self) -> tuple[_Net, torch.optim.Optimizer, dict, dict]:
        if not self.ckpt.exists():
            raise UserError(
                f"{self.ckpt}: rank {distributed.rank()} cannot see rank 0's checkpoint; with "
                "several machines the model directory must be on a shared filesystem"
            )
        saved = load_tensors(self.ckpt)
        same = {
            k: v
            for k, v in _plain(dataclasses.asdict(self.cfg)).items()
            if k not in ("device", "score_batch")
        }
        theirs = {k: v for k, v in saved["config"].items() if k in same}
        if saved["fingerprint"] != self.fingerprint or theirs != same:
            raise UserError(
                f"{self.ckpt}: checkpoint of a different training run (other data or settings); "
                "remove the checkpoint directory or train without --resume"
            )
        net = self.new_net()
        net.assign(saved["net"])
        net = net.to(self.model.device)
        opt = self.optimizer(net)
        opt.load_state_dict(saved["optimizer"])
        best = load_tensors(self.best_path) if self.best_path.exists() else net.tensors()
        log.info("DAE %s: resuming after epoch %d", self.variant.name, saved["state"]["epoch"])
        return net, opt, saved["state"], best


def _shard(n: int) -> tuple[int, int, float]:
    """This rank's rows lo..hi-1 of a minibatch of n, and its share of the batch (its loss weight).

    A rank left without rows (n < world size) runs row 0 with weight 0: its gradients are zero but have
    the layout of everyone else's, so the gradient sum stays in step.
    """
    world, rank = distributed.world_size(), distributed.rank()
    lo, hi = n * rank // world, n * (rank + 1) // world
    return (lo, hi, (hi - lo) / n) if hi > lo else (0, 1, 0.0)


def _plain(value):
    """JSON-like plain data (tuples → lists) so it round-trips through a weights_only checkpoint."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
