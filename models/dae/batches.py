"""DAE training data: prefix batches with hide-and-seek corruption, targets, negative sampling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from mmcf.mpd.matrix import PlaylistCorpus, item_matrix
from mmcf.mpd.vocab import Vocab

from ..training.losses import SparseTargets
from .config import Variant


@dataclass
class Inputs:
    """A batch of sparse input rows in embedding-bag form."""

    ids: torch.Tensor
    offsets: torch.Tensor
    weights: torch.Tensor

    def to(self, device: torch.device) -> "Inputs":
        return Inputs(self.ids.to(device), self.offsets.to(device), self.weights.to(device))

    def select(self, lo: int, hi: int) -> "Inputs":
        """Rows lo..hi-1."""
        a = int(self.offsets[lo])
        b = int(self.offsets[hi]) if hi < len(self.offsets) else len(self.ids)
        return Inputs(self.ids[a:b], self.offsets[lo:hi] - a, self.weights[a:b])


def normalise(rows: np.ndarray, values: np.ndarray, n_rows: int, norm: str) -> np.ndarray:
    """Scale each row's values to unit L1 or L2 norm (empty rows stay empty)."""
    if norm == "l1":
        sums = np.bincount(rows, weights=np.abs(values), minlength=n_rows)
    else:
        sums = np.sqrt(np.bincount(rows, weights=values * values, minlength=n_rows))
    return (values / np.maximum(sums[rows], 1e-12)).astype(np.float32)


def csr_inputs(matrix: sp.csr_matrix, norm: str) -> Inputs:
    """Embedding-bag form of weighted input rows, normalised."""
    matrix = matrix.tocsr()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    values = normalise(rows, matrix.data.astype(np.float64), matrix.shape[0], norm)
    return Inputs(
        torch.from_numpy(matrix.indices.astype(np.int64)),
        torch.from_numpy(matrix.indptr[:-1].astype(np.int64)),
        torch.from_numpy(values),
    )


def entries_inputs(rows: np.ndarray, cols: np.ndarray, n_rows: int, norm: str) -> Inputs:
    """Embedding-bag form of binary entries (row, col), normalised."""
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))[:-1]])
    values = normalise(rows, np.ones(len(rows)), n_rows, norm)
    return Inputs(
        torch.from_numpy(cols.astype(np.int64)),
        torch.from_numpy(offsets.astype(np.int64)),
        torch.from_numpy(values),
    )


class TrainingData:
    """The training playlists: known track ids per row (CSR) and their full [tracks | artists]
    targets."""

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
    ) -> Inputs:
        """Prefix tracks and their artists, input dropout, hide-and-seek (tracks or artists only),
        norm."""
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
        sampler: "NegativeSampler | None" = None,
        rng: np.random.Generator | None = None,
    ) -> SparseTargets:
        """The batch's targets, with sampled negative columns if given a sampler."""
        coo = self.targets[batch].tocoo()
        order = np.lexsort((coo.row, coo.col))
        return binary_targets(coo.row[order], coo.col[order], sampler, rng)


def binary_targets(
    rows: np.ndarray,
    cols: np.ndarray,
    sampler: "NegativeSampler | None" = None,
    rng: np.random.Generator | None = None,
) -> SparseTargets:
    """Binary targets from the (row, col) of the ones sorted by col; with a sampler, the columns to
    score: the positives' columns and sampled negatives."""
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    targets = SparseTargets(torch.from_numpy(rows), torch.from_numpy(cols))
    if sampler is not None:
        positives, local = np.unique(cols, return_inverse=True)
        negatives, weight = sampler.draw(positives, rng)
        columns = np.concatenate([positives, negatives])
        # sorted columns make the decoder's row-sparse gradients coalesced as built (no re-sort)
        order = np.argsort(columns, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        targets.columns = torch.from_numpy(columns[order])
        targets.col_weight = torch.from_numpy(
            np.concatenate([np.ones(len(positives)), weight])[order].astype(np.float32)
        )
        targets.local = torch.from_numpy(position[local].astype(np.int64))
    return targets


class NegativeSampler:
    """Negatives for the loss: the `head` most frequent items always (weight 1, exact), plus `size`
    draws with replacement from the rest, P(item) ∝ (playlist count + 1) ** power; positives
    excluded.

    A tail item drawn k times stands for the tail items not drawn with weight k / (size · P(item)),
    so the negative term is an unbiased estimate of the full sum over all non-positive items. The
    head is where the negative gradient is largest (a popular item's predicted probability is high
    for every playlist); summing it exactly removes most of the estimate's variance.
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
