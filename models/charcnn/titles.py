"""The title model's training data: distinct normalised titles, their targets and loss weights.

Training runs on *distinct* normalised titles: many playlists share a title, and the weighted
cross-entropy is linear in the target, so the loss summed over the n playlists of a title equals n
times the loss against their mean target. A teacher's targets are likewise averaged per title, once
before training (over a sample of the title's playlists, top entries kept), so both kinds of targets
are sparse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch
from tqdm import tqdm

from mmcf.mpd.matrix import PlaylistCorpus
from mmcf.mpd.vocab import Vocab

from ..allocator import reuse_freed_memory
from ..base import Recommender
from ..title_memory import group_means

Teacher = Callable[[np.ndarray], torch.Tensor]  # corpus rows → targets [len(rows), n_items]


@dataclass
class TitleData:
    """Distinct normalised titles of the training rows and the corpus rows that carry each."""

    texts: list[str]
    groups: list[np.ndarray]

    @property
    def counts(self) -> np.ndarray:
        return np.array([len(g) for g in self.groups], dtype=np.int64)


def group_titles(
    corpus: PlaylistCorpus, rows: np.ndarray, normalize: Callable[[str | None], str]
) -> TitleData:
    """Group the rows by normalised title; rows whose title normalises to nothing are left out."""
    groups: dict[str, list[int]] = {}
    for row in rows:
        text = normalize(corpus.titles[row])
        if text:
            groups.setdefault(text, []).append(int(row))
    texts = sorted(groups)
    return TitleData(texts, [np.array(groups[t], dtype=np.int64) for t in texts])


def mean_targets(corpus: PlaylistCorpus, vocab: Vocab, data: TitleData) -> sp.csr_matrix:
    """Per distinct title, the mean binary [tracks | artists] vector of its playlists (sparse,
    float32)."""
    return group_means(corpus, vocab, data.groups)


def dae_teacher(dae: Recommender, corpus: PlaylistCorpus, outputs: int) -> Teacher:
    """The frozen DAE's targets for corpus rows over the first `outputs` items, which the title
    model learns to reproduce."""
    return lambda rows: dae.teacher_targets(corpus, rows, outputs=outputs)


@reuse_freed_memory()
def teacher_targets(
    teacher: Teacher,
    data: TitleData,
    n_outputs: int,
    per_title: int,
    top: int,
    seed: int,
    rows_per_call: int = 1024,
    call_bytes: int = 2**30,
) -> sp.csr_matrix:
    """Per distinct title, its mean teacher target over up to `per_title` of its playlists (a seeded
    sample; 0: all), keeping the `top` largest entries (sparse, float32, [titles, n_outputs]).

    Computed once before training: the teacher is frozen, and the sparse targets make every step as
    cheap as training against the true items. Titles go in blocks of about `rows_per_call`
    playlists; the teacher sees at most `call_bytes` of output at once (its rows are ≤ 2 × n_outputs
    wide), so a title with 10,000 playlists or a 2 M-item vocabulary stays within memory.
    """
    rng = np.random.default_rng([seed, 13])
    picked = [
        g
        if len(g) <= per_title or per_title <= 0
        else np.sort(rng.choice(g, per_title, replace=False))
        for g in data.groups
    ]
    call_rows = max(rows_per_call, call_bytes // (8 * n_outputs))
    blocks, titles, size = [], [], 0
    for t, rows in enumerate(tqdm(picked, desc="teacher targets", leave=False)):
        titles.append(t)
        size += len(rows)
        if size >= rows_per_call or t == len(picked) - 1:
            blocks.append(
                _top_means(teacher, [picked[i] for i in titles], n_outputs, top, call_rows)
            )
            titles, size = [], 0
    return sp.vstack(blocks).tocsr()


def _top_means(
    teacher: Teacher, groups: list[np.ndarray], n_outputs: int, top: int, call_rows: int
) -> sp.csr_matrix:
    rows = np.concatenate(groups)
    owner = torch.from_numpy(np.repeat(np.arange(len(groups)), [len(g) for g in groups]))
    means = torch.zeros(len(groups), n_outputs)
    for start in range(0, len(rows), call_rows):
        y = teacher(rows[start : start + call_rows])[:, :n_outputs].float().cpu()
        means.index_add_(0, owner[start : start + call_rows], y)
    means /= torch.tensor([len(g) for g in groups], dtype=torch.float32)[:, None]
    values, cols = torch.topk(means, min(top, n_outputs), dim=1)
    keep = values > 0
    row_of = torch.arange(len(groups))[:, None].expand_as(cols)
    return sp.csr_matrix(
        (values[keep].numpy(), (row_of[keep].numpy(), cols[keep].numpy())),
        shape=(len(groups), n_outputs),
        dtype=np.float32,
    )


def title_weights(counts: np.ndarray, kind: str) -> np.ndarray:
    """Loss weight of each distinct title, mean 1 over titles."""
    w = {"count": counts.astype(np.float64), "sqrt": np.sqrt(counts), "one": np.ones(len(counts))}[
        kind
    ]
    return (w / w.mean()).astype(np.float32)
