"""The challenge's metrics: R-precision with artist credit, NDCG and recommended-songs clicks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

MAX_CLICKS = 51
METRICS = ("r_precision", "ndcg", "ndcg_g", "clicks")
NDCG_FORMS = {"rules": "ndcg", "g": "ndcg_g"}  # `--ndcg` choices → metric column


@dataclass
class Answer:
    """The hidden part of one held-out playlist."""

    category: int
    tracks: list[str]  # held-out track URIs (duplicates allowed)
    artists: list[str] = field(default_factory=list)  # their artists' URIs


def r_precision(
    recs: Sequence[str], targets: set[str], target_artists: set[str], artist_of: Mapping[str, str]
) -> float:
    """Hits among the first |G| recommendations; a miss by a held-out artist earns 0.25, once per
    artist."""
    if not targets:
        return 0.0
    credited: set[str] = set()
    score = 0.0
    for uri in recs[: len(targets)]:
        if uri in targets:
            score += 1.0
            continue
        artist = artist_of.get(uri)
        if artist in target_artists and artist not in credited:
            credited.add(artist)
            score += 0.25
    return score / len(targets)


def ndcg(recs: Sequence[str], targets: set[str], ideal_hits: int | None = None) -> float:
    """The challenge's NDCG: rank 1 undiscounted, rank i ≥ 2 discounted by log2(i).

    The rules text takes the ideal DCG over the hits within the recommendations (`ideal_hits` None);
    the top teams' evaluators, and the leaderboard's figures, over |G| (`ideal_hits=len(targets)`).
    """
    hits = [i for i, uri in enumerate(recs, start=1) if uri in targets]
    if not hits:
        return 0.0
    dcg = sum(1.0 if i == 1 else 1.0 / math.log2(i) for i in hits)
    idcg = 1.0 + sum(1.0 / math.log2(i) for i in range(2, (ideal_hits or len(hits)) + 1))
    return dcg / idcg


def first_hit(recs: Sequence[str], targets: set[str]) -> int | None:
    """0-based position of the first held-out track among the recommendations; None without one."""
    return next((i for i, uri in enumerate(recs) if uri in targets), None)


def clicks(recs: Sequence[str], targets: set[str]) -> int:
    """Pages of ten a user refreshes before the first hit; 51 without one."""
    hit = first_hit(recs, targets)
    return MAX_CLICKS if hit is None else hit // 10


def score_playlist(
    recs: Sequence[str], answer: Answer, artist_of: Mapping[str, str]
) -> dict[str, float | None]:
    targets = set(answer.tracks)
    return {
        "r_precision": r_precision(recs, targets, set(answer.artists), artist_of),
        "ndcg": ndcg(recs, targets),
        "ndcg_g": ndcg(recs, targets, len(targets)),
        "clicks": clicks(recs, targets),
        "first_hit": first_hit(recs, targets),
    }


def score_all(
    recs: Mapping[int, Sequence[str]] | Iterable[tuple[int, Sequence[str]]],
    answers: Mapping[int, Answer],
    artist_of: Mapping[str, str],
) -> pd.DataFrame:
    """One row per answered playlist, in the answers' order: pid, category, the three metrics and
    the first hit's position (NaN without one); missing recs score as nothing.

    `recs`: pid → URIs, or (pid, URIs) pairs as a stream (each row is scored as it comes and let
    go, so a 10,000-playlist submission is never held whole; a repeated pid's last row counts)."""
    rows = recs.items() if isinstance(recs, Mapping) else recs
    scored = {
        pid: score_playlist(uris, answers[pid], artist_of) for pid, uris in rows if pid in answers
    }
    table = [
        {
            "pid": pid,
            "category": a.category,
            **(scored.get(pid) or score_playlist([], a, artist_of)),
        }
        for pid, a in answers.items()
    ]
    return pd.DataFrame(table, columns=["pid", "category", *METRICS, "first_hit"]).astype(
        {"first_hit": float}
    )


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean metrics overall and per category, indexed 'all', 1, 2, …"""
    per_category = scores.groupby("category")[list(METRICS)].mean()
    per_category.index = per_category.index.astype(object)
    overall = scores[list(METRICS)].mean().to_frame("all").T
    table = pd.concat([overall, per_category])
    table["playlists"] = [len(scores)] + scores.groupby("category").size().tolist()
    return table


def coverage(answers: Mapping[int, Answer], known: set[str] | Mapping[str, int]) -> float:
    """Share of held-out track occurrences a vocabulary can recommend at all."""
    total = sum(len(a.tracks) for a in answers.values())
    hit = sum(uri in known for a in answers.values() for uri in a.tracks)
    return hit / total if total else float("nan")


def mean_metric(scores: pd.DataFrame, metric: str = "r_precision") -> float:
    return float(np.mean(scores[metric])) if len(scores) else 0.0
