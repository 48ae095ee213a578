"""Item-kNN: the classic peer. Sparse item–item cosine with shrinkage, top-k neighbours per item."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from tqdm import tqdm

from mmcf.mpd.matrix import PlaylistCorpus, query_matrix, top_k_per_row
from mmcf.mpd.vocab import Vocab

from .base import Query, Recommender, with_tie_break
from .store import load_sparse, save_sparse, write_manifest


@dataclass
class KNNConfig:
    neighbours: int = 200  # kept per item
    shrink: float = 10.0  # sim = co / (sqrt(n_i n_j) + shrink)
    alpha: float = 0.5  # asymmetric cosine: n_i^alpha n_j^(1-alpha); 0.5 = cosine
    block: int = 4096  # items per block when building the similarity


class ItemKNN(Recommender):
    kind = "knn"
    config_class = KNNConfig

    def __init__(self, config: KNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or KNNConfig()
        self.similarity: sp.csr_matrix | None = None

    def fit(self, corpus: PlaylistCorpus, vocab: Vocab) -> "ItemKNN":
        self.vocab = vocab
        x = track_matrix(corpus, vocab.n_tracks)
        self.similarity = item_similarity(x, self.config)
        return self

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        q = query_matrix(queries, self.vocab)[:, : self.vocab.n_tracks]
        scores = np.asarray((q @ self.similarity).todense(), dtype=np.float32)
        return with_tie_break(torch.from_numpy(scores), self.vocab)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        save_sparse(directory / "similarity.npz", self.similarity)
        write_manifest(
            directory, self.kind, self.vocab, self.config
        )  # last: it marks the model complete

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "ItemKNN":
        model, _ = cls.from_manifest(directory, vocab)
        model.similarity = load_sparse(Path(directory) / "similarity.npz")
        return model


def track_matrix(corpus: PlaylistCorpus, n_tracks: int) -> sp.csr_matrix:
    """Binary playlist × track matrix (known tracks only)."""
    ids = corpus.track_ids
    rows = np.repeat(np.arange(len(corpus)), corpus.lengths)
    keep = ids >= 0
    x = sp.csr_matrix(
        (np.ones(keep.sum(), np.float32), (rows[keep], ids[keep])), shape=(len(corpus), n_tracks)
    )
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def item_similarity(x: sp.csr_matrix, config: KNNConfig) -> sp.csr_matrix:
    """Top-k shrunk cosine neighbours of every item (rows), built a block of items at a time."""
    counts = np.asarray(x.sum(axis=0)).ravel()
    xt = x.T.tocsr()
    blocks = []
    for start in tqdm(
        range(0, x.shape[1], config.block), desc="item-kNN", unit=" blocks", leave=False
    ):
        stop = min(start + config.block, x.shape[1])
        co = (xt[start:stop] @ x).tocoo()
        keep = co.row + start != co.col
        r, c, v = co.row[keep], co.col[keep], co.data[keep]
        norm = counts[r + start] ** config.alpha * counts[c] ** (1 - config.alpha) + config.shrink
        blocks.append(
            top_k_per_row(
                sp.csr_matrix((v / norm, (r, c)), shape=(stop - start, x.shape[1])),
                config.neighbours,
            )
        )
    return sp.vstack(blocks).tocsr().astype(np.float32)
