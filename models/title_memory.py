"""Title memory: per distinct normalised title, the mean tracks of the training playlists with it.

A title seen in training ("90s country") has an exact answer — what its playlists held — that the
CharCNN only approximates; the CNN scores blend with it (`CNNConfig.memory_weight`) and still answer
every unseen title alone. The gain is measured by benchmarks/titles.py (results in
benchmarks/results/ and the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
import ujson

from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import PlaylistCorpus, item_matrix, top_k_per_row
from mmcf.mpd.reader import load_json
from mmcf.mpd.vocab import Vocab

from .store import load_sparse, save_sparse

MATRIX_FILE = "title_memory.npz"
TITLES_FILE = "title_memory.json"


def group_means(
    corpus: PlaylistCorpus, vocab: Vocab, groups: Sequence[np.ndarray]
) -> sp.csr_matrix:
    """Per group of corpus rows, the mean binary [tracks | artists] vector of its playlists (sparse,
    float32)."""
    rows = np.concatenate(groups)
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    average = sp.csr_matrix(
        (1.0 / counts[owner], (owner, np.arange(len(rows)))),
        shape=(len(counts), len(rows)),
        dtype=np.float32,
    )
    return (average @ item_matrix(corpus, vocab, rows)).astype(np.float32).tocsr()


@dataclass
class TitleMemory:
    texts: list[str]  # distinct normalised training titles
    matrix: sp.csr_matrix  # [titles, n_tracks] mean tracks of each title's playlists

    def __post_init__(self) -> None:
        self._row = {text: i for i, text in enumerate(self.texts)}

    @classmethod
    def build(
        cls,
        corpus: PlaylistCorpus,
        vocab: Vocab,
        texts: list[str],
        groups: Sequence[np.ndarray],
        top: int,
    ) -> "TitleMemory":
        return cls(
            list(texts),
            top_k_per_row(group_means(corpus, vocab, groups)[:, : vocab.n_tracks].tocsr(), top),
        )

    def row(self, text: str) -> int | None:
        """The memory's row of a normalised title, None if no training playlist had it."""
        return self._row.get(text)

    def scores(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Remembered track scores [B, n_tracks] of normalised titles, and which titles were
        remembered."""
        found = torch.tensor([t in self._row for t in texts], dtype=torch.bool)
        out = torch.zeros(len(texts), self.matrix.shape[1])
        index = found.nonzero().ravel()
        if len(index):
            out[index] = torch.from_numpy(
                self.matrix[[self._row[texts[i]] for i in index.tolist()]].toarray()
            )
        return out, found

    def save(self, directory: Path) -> None:
        save_sparse(directory / MATRIX_FILE, self.matrix)
        with atomic_write(directory / TITLES_FILE) as f:
            ujson.dump(self.texts, f, ensure_ascii=False)

    @classmethod
    def load(cls, directory: Path, n_tracks: int) -> "TitleMemory | None":
        """The saved memory, or None if the model has none (saved without it)."""
        if not (directory / MATRIX_FILE).exists():
            return None
        texts = load_json(directory / TITLES_FILE)
        try:
            matrix = load_sparse(directory / MATRIX_FILE)
        except (ValueError, OSError) as exc:
            raise UserError(
                f"{directory / MATRIX_FILE}: unreadable title memory ({exc}); retrain"
            ) from None
        if not isinstance(texts, list) or matrix.shape != (len(texts), n_tracks):
            raise UserError(
                f"{directory / MATRIX_FILE}: title memory does not fit the model beside it; retrain"
            )
        return cls(texts, matrix.astype(np.float32))
