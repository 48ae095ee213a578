"""MMCF's count-weighted ensemble of the DAE (seeds) and the CharCNN (title)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from models.base import POPULARITY_TIE_BREAK, Query, Recommender, popularity_scores
from models.charcnn import CharCNN
from models.dae import DAE
from mpd.matrix import PlaylistCorpus, query_matrix
from mpd.vocab import Vocab


def title_weight(has_title: np.ndarray, seed_mass: np.ndarray) -> np.ndarray:
    """w_title = has_title / (has_title + x), x = sum of the DAE input weights; 0/0 (nothing) → 0."""
    has_title = has_title.astype(np.float32)
    total = has_title + seed_mass
    return np.divide(has_title, total, out=np.zeros_like(total, dtype=np.float32), where=total > 0)


class MMCF(Recommender):
    """score = w_title · CNN + (1 − w_title) · DAE; DAE alone without title, CNN alone without seeds."""

    kind = "mmcf"

    def __init__(self, dae: DAE, cnn: CharCNN) -> None:
        super().__init__()
        self.dae, self.cnn, self.vocab = dae, cnn, dae.vocab

    def fit(self, corpus: PlaylistCorpus, vocab: Vocab) -> "MMCF":
        raise NotImplementedError("train the parts: `mmcf train --model dae`, then `--model cnn`")

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        seed_mass = np.asarray(query_matrix(queries, self.vocab, self.dae.config.inputs).sum(axis=1),
                               dtype=np.float32).ravel()
        titles = [q.title or "" for q in queries]
        title_scores, usable = self.cnn.title_scores(titles)
        w = torch.from_numpy(title_weight(usable.numpy(), seed_mass)).unsqueeze(1)
        has_seeds = seed_mass > 0
        dae_scores = torch.zeros_like(title_scores)
        if has_seeds.any():
            rows = np.flatnonzero(has_seeds)
            dae_scores[torch.from_numpy(rows)] = self.dae.score([queries[i] for i in rows])
        blend = w * title_scores + (1 - w) * dae_scores
        return blend + POPULARITY_TIE_BREAK * popularity_scores(self.vocab, len(queries))

    def save(self, directory: str | Path) -> None:
        self.dae.save(Path(directory) / DAE.kind)
        self.cnn.save(Path(directory) / CharCNN.kind)

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "MMCF":
        return cls(DAE.load(Path(directory) / DAE.kind, vocab), CharCNN.load(Path(directory) / CharCNN.kind, vocab))
