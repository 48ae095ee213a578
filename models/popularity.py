"""Popularity: the most frequent training tracks, the same list for every playlist."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from mmcf.mpd.matrix import PlaylistCorpus
from mmcf.mpd.vocab import Vocab

from .base import Query, Recommender, popularity_scores
from .store import read_manifest, write_manifest


class Popularity(Recommender):
    kind = "popularity"

    def fit(self, corpus: PlaylistCorpus, vocab: Vocab) -> "Popularity":
        self.vocab = vocab  # the vocabulary is ordered by playlist count already
        return self

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        return popularity_scores(self.vocab, len(queries)).clone()

    def save(self, directory: str | Path) -> None:
        write_manifest(directory, self.kind, self.vocab)

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "Popularity":
        read_manifest(directory, cls.kind, vocab)
        model = cls()
        model.vocab = vocab
        return model
