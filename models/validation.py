"""Score a recommender on challenge-shaped validation queries (for epochs, weights and reports)."""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from mmcf.mpd.challenge import Query
from mmcf.mpd.metrics import Answer, score_all, summarize

from .base import Recommender


def validate(
    model: Recommender, queries: Sequence[Query], answers: Mapping[int, Answer], n: int = 500
) -> pd.DataFrame:
    """Mean R-precision, NDCG and clicks overall ('all') and per category."""
    recs = dict(zip((q.pid for q in queries), model.recommend(queries, n)))
    return summarize(score_all(recs, answers, model.vocab.artist_of()))
