"""Score a recommender on challenge-shaped validation queries (for epochs, weights and reports)."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import pandas as pd
import torch

from mmcf.mpd.challenge import Query
from mmcf.mpd.metrics import Answer, score_all, summarize
from mmcf.mpd.vocab import Vocab

from .allocator import reuse_freed_memory
from .base import Recommender, top_n

Scores = Callable[[Sequence[Query]], torch.Tensor]  # queries → scores [len(queries), n_tracks]


def validate(
    model: Recommender, queries: Sequence[Query], answers: Mapping[int, Answer], n: int = 500
) -> pd.DataFrame:
    """Mean R-precision, NDCG and clicks overall ('all') and per category."""
    recs = dict(zip((q.pid for q in queries), model.recommend(queries, n)))
    return summarize(score_all(recs, answers, model.vocab.artist_of()))


@reuse_freed_memory()
def r_precision(
    scores: Scores,
    queries: Sequence[Query],
    answers: Mapping[int, Answer],
    vocab: Vocab,
    n: int = 500,
    batch_size: int | None = None,
) -> float:
    """Mean R-precision of the top-n tracks by `scores` (seeds excluded) over the queries.

    `scores` is asked `batch_size` queries at a time (None: all at once).
    """
    step = batch_size or max(len(queries), 1)
    recs = {}
    for start in range(0, len(queries), step):
        batch = queries[start : start + step]
        recs.update(zip((q.pid for q in batch), top_n(scores(batch), batch, vocab, n)))
    mine = {q.pid: answers[q.pid] for q in queries}
    return float(summarize(score_all(recs, mine, vocab.artist_of())).loc["all", "r_precision"])
