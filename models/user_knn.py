"""User-kNN: the training playlists that share most seeds with the query, and what they held."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from mmcf.mpd.matrix import PlaylistCorpus, query_matrix, top_k_per_row
from mmcf.mpd.vocab import Vocab

from .base import Query, Recommender, with_tie_break
from .knn import track_matrix
from .store import load_sparse, save_sparse, write_manifest

MATRIX_FILE = "playlists.npz"


@dataclass
class UserKNNConfig:
    neighbours: int = 200  # training playlists kept per query
    alpha: float = 0.5  # similarity = shared seeds / (playlist length ** alpha)
    power: float = 2.0  # neighbour weight = similarity ** power (sharpens towards the closest)


class UserKNN(Recommender):
    kind = "userknn"
    config_class = UserKNNConfig

    def __init__(self, config: UserKNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or UserKNNConfig()
        self.playlists: sp.csr_matrix | None = None  # binary training playlists × tracks
        self.length_weights: sp.dia_matrix | None = None  # derived from `playlists` (fit, load)

    def fit(self, corpus: PlaylistCorpus, vocab: Vocab) -> "UserKNN":
        self.vocab = vocab
        self.playlists = track_matrix(corpus, vocab.n_tracks)
        self.length_weights = length_weights(self.playlists, self.config.alpha)
        return self

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        seeds = query_matrix(queries, self.vocab)[:, : self.vocab.n_tracks]
        seeds.data[:] = 1.0
        similarity = (seeds @ self.playlists.T) @ self.length_weights
        neighbours = top_k_per_row(similarity.tocsr().astype(np.float32), self.config.neighbours)
        neighbours.data **= self.config.power
        scores = np.asarray((neighbours @ self.playlists).todense(), dtype=np.float32)
        return with_tie_break(torch.from_numpy(scores), self.vocab)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        save_sparse(directory / MATRIX_FILE, self.playlists)
        write_manifest(directory, self.kind, self.vocab, self.config)  # last: marks it complete

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "UserKNN":
        directory = Path(directory)
        model, _ = cls.from_manifest(directory, vocab)
        model.playlists = load_sparse(directory / MATRIX_FILE)
        model.length_weights = length_weights(model.playlists, model.config.alpha)
        return model


def length_weights(playlists: sp.csr_matrix, alpha: float) -> sp.dia_matrix:
    """1 / length ** alpha of each training playlist, as a diagonal matrix."""
    lengths = np.asarray(playlists.sum(axis=1)).ravel()
    return sp.diags(1 / np.maximum(lengths, 1) ** alpha)
