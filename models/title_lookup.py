"""Title lookup: what training playlists with the same title held, or with the same title words.

For a title seen in training (after normalising), the tracks its playlists held, weighed by how
many playlists share it; for the rest (and, less, for every title), the playlists whose titles share
words with it, matched by BM25 over title words. The exact-title lookup of the challenge's teams is
the special case `word_weight = 0`, `prior = 0`.
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
from mmcf.mpd.matrix import PlaylistCorpus, top_k_per_row
from mmcf.mpd.reader import load_json
from mmcf.mpd.titles import normalize_title
from mmcf.mpd.vocab import Vocab

from .base import Query, Recommender, with_tie_break
from .charcnn.titles import group_titles
from .store import write_manifest
from .title_memory import TitleMemory

COUNTS_FILE = "title_counts.json"


@dataclass
class TitleLookupConfig:
    normalizer: str = "unicode"  # see mmcf.mpd.titles
    top: int = 1000  # tracks kept per distinct title
    prior: float = 2.0  # exact weight n / (n + prior) for a title n training playlists share
    word_weight: float = 1.0  # weight of the word match where no playlist has the exact title
    neighbours: int = 50  # distinct titles kept per query by the word match
    k1: float = 1.2  # BM25 term saturation
    b: float = 0.75  # BM25 length normalisation


class TitleLookup(Recommender):
    kind = "title"
    config_class = TitleLookupConfig
    reads_titles = True

    def __init__(self, config: TitleLookupConfig | None = None) -> None:
        super().__init__()
        self.config = config or TitleLookupConfig()
        self.memory: TitleMemory | None = None
        self.counts = np.zeros(0, np.int64)  # training playlists per distinct title
        self.words: dict[str, int] = {}
        self.bm25: sp.csr_matrix | None = None  # [words, titles] BM25 weight of a word in a title

    def normalize(self, title: str | None) -> str:
        return normalize_title(title, self.config.normalizer)

    def fit(self, corpus: PlaylistCorpus, vocab: Vocab) -> "TitleLookup":
        self.vocab = vocab
        data = group_titles(corpus, np.arange(len(corpus)), self.normalize)
        self.memory = TitleMemory.build(corpus, vocab, data.texts, data.groups, self.config.top)
        self.counts = data.counts
        self._index_words()
        return self

    def _index_words(self) -> None:
        """BM25 weights of the words of every distinct title (documents = distinct titles)."""
        rows, cols = [], []
        for col, text in enumerate(self.memory.texts):
            for word in sorted(set(text.split())):
                rows.append(self.words.setdefault(word, len(self.words)))
                cols.append(col)
        n_titles = len(self.memory.texts)
        present = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(self.words), n_titles)
        )
        df = np.asarray(present.sum(axis=1)).ravel()
        idf = np.log1p((n_titles - df + 0.5) / (df + 0.5)).astype(np.float32)
        length = np.array([len(t.split()) for t in self.memory.texts], np.float32)
        k1, b = self.config.k1, self.config.b
        tf_part = (k1 + 1) / (1 + k1 * (1 - b + b * length / max(length.mean(), 1e-6)))
        self.bm25 = (sp.diags(idf) @ present @ sp.diags(tf_part.astype(np.float32))).tocsr()

    def title_counts(self, queries: Sequence[Query]) -> np.ndarray:
        """How many training playlists carry each query's normalised title (0: unseen title)."""
        rows = [self.memory.row(self.normalize(q.title)) for q in queries]
        return np.array([self.counts[r] if r is not None else 0 for r in rows], np.int64)

    def exact_and_word_scores(self, queries: Sequence[Query]) -> tuple[torch.Tensor, torch.Tensor]:
        """Track frequencies among same-title playlists, and among word-matched titles."""
        texts = [self.normalize(q.title) for q in queries]
        exact, _ = self.memory.scores(texts)
        return exact, self._word_scores(texts)

    def _word_scores(self, texts: Sequence[str]) -> torch.Tensor:
        """Per title, the memory of its `neighbours` best BM25-matching training titles, averaged
        with the match scores as weights."""
        rows, cols = [], []
        for row, text in enumerate(texts):
            ids = {self.words[w] for w in text.split() if w in self.words}
            rows += [row] * len(ids)
            cols += sorted(ids)
        words = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(texts), len(self.words))
        )
        match = top_k_per_row((words @ self.bm25).tocsr(), self.config.neighbours)
        total = np.asarray(match.sum(axis=1)).ravel()
        match = sp.diags(1 / np.maximum(total, 1e-12)) @ match
        return torch.from_numpy(np.asarray((match @ self.memory.matrix).todense(), np.float32))

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        exact, words = self.exact_and_word_scores(queries)
        n = torch.from_numpy(self.title_counts(queries).astype(np.float32)).unsqueeze(1)
        # prior 0: weight 1 wherever the title is known, 0 elsewhere
        w_exact = n / (n + self.config.prior).clamp(min=1e-12)
        w_words = self.config.word_weight * (1 - w_exact)
        scores = w_exact * exact + w_words * words
        return with_tie_break(scores, self.vocab)

    def knows_title(self, title: str | None) -> bool:
        text = self.normalize(title)
        return self.memory.row(text) is not None or any(w in self.words for w in text.split())

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.memory.save(directory)
        with atomic_write(directory / COUNTS_FILE) as f:
            ujson.dump(self.counts.tolist(), f)
        write_manifest(directory, self.kind, self.vocab, self.config)  # last: marks it complete

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "TitleLookup":
        directory = Path(directory)
        model, _ = cls.from_manifest(directory, vocab)
        model.memory = TitleMemory.load(directory, vocab.n_tracks)
        model.counts = np.array(load_json(directory / COUNTS_FILE), np.int64)
        model._index_words()
        return model
