"""Matrix factorisation peer:
implicit's ALS, folded in for new playlists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from mmcf.mpd.matrix import PlaylistCorpus, seed_ids
from mmcf.mpd.vocab import Vocab

from .base import Query, Recommender, with_tie_break
from .knn import track_matrix
from .store import load_tensors, save_tensors, write_manifest


@dataclass
class ALSConfig:
    factors: int = 128
    regularization: float = 0.05
    alpha: float = 20.0  # confidence of an observed track: 1 + alpha
    iterations: int = 15
    seed: int = 0


class ALS(Recommender):
    kind = "als"
    config_class = ALSConfig

    def __init__(self, config: ALSConfig | None = None) -> None:
        super().__init__()
        self.config = config or ALSConfig()
        self.item_factors: torch.Tensor | None = None
        self._gram: torch.Tensor | None = None  # YᵀY + λI, shared by every fold-in

    def fit(self, corpus: PlaylistCorpus, vocab: Vocab) -> "ALS":
        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self.vocab = vocab
        c = self.config
        # implicit runs its own threads: BLAS threads on top of them oversubscribe the cores, which
        # slows the fit by orders of magnitude on a loaded machine (implicit warns about it)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=c.factors,
                regularization=c.regularization,
                alpha=c.alpha,
                iterations=c.iterations,
                random_state=c.seed,
            )
            with tqdm(total=c.iterations, desc="ALS", unit=" iterations", leave=False) as bar:
                model.fit(
                    track_matrix(corpus, vocab.n_tracks),
                    show_progress=False,
                    callback=lambda *_: bar.update(),
                )
        self.item_factors = torch.from_numpy(np.asarray(model.item_factors, dtype=np.float32))
        self._gram = None
        return self

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        users = torch.stack([self.fold_in(seed_ids(q, self.vocab)) for q in queries])
        return with_tie_break(users @ self.item_factors.T, self.vocab)

    def fold_in(self, ids: np.ndarray) -> torch.Tensor:
        """The playlist's factors given its seeds: one ALS user step, (YᵀCY + λI)⁻¹ YᵀC p."""
        y = self.item_factors
        if not len(ids):
            return torch.zeros(y.shape[1])
        if self._gram is None:
            self._gram = y.T @ y + self.config.regularization * torch.eye(y.shape[1])
        seen = y[torch.from_numpy(np.unique(ids))]
        confidence = 1.0 + self.config.alpha
        gram = self._gram + (confidence - 1.0) * seen.T @ seen
        return torch.linalg.solve(gram, confidence * seen.sum(0))

    def save(self, directory: str | Path) -> None:
        save_tensors(Path(directory) / "factors.pt", {"item_factors": self.item_factors})
        write_manifest(
            directory, self.kind, self.vocab, self.config
        )  # last: it marks the model complete

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "ALS":
        model, _ = cls.from_manifest(directory, vocab)
        model.item_factors = load_tensors(Path(directory) / "factors.pt")["item_factors"]
        return model
