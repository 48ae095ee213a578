"""Training examples for the second stage: more challenge-shaped queries out of the same
validation playlists.

Each validation playlist is a query of one category; the ranker learns from more shapes of it:
every other category, seeds cut from the same playlist (first seeds only where its whole order is
known: a playlist shown in order, or with at most one seed), whatever its length (measured better
on the tuning split than keeping the challenge's length ranges, which leave half as many). No member
saw these playlists, so every example is as clean as the validation query itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmcf.mpd.challenge import CATEGORIES, Query
from mmcf.mpd.split import Validation


@dataclass
class Example:
    query: Query
    hidden: list[str]  # the tracks to find


def training_examples(validation: Validation, seed: int = 0) -> list[Example]:
    """The validation queries and, from the same playlists, queries of the other categories."""
    rng = np.random.default_rng(seed)
    examples = []
    for query in validation.queries:
        hidden = validation.answers[query.pid].tracks
        ordered = query.in_order or len(query.seeds) <= 1
        examples.append(Example(query, hidden))
        examples += other_shapes(query, query.seeds + hidden, ordered, rng)
    return examples


def other_shapes(
    query: Query, tracks: list[str], ordered: bool, rng: np.random.Generator
) -> list[Example]:
    """The playlist as a query of every other category that leaves tracks to find: a title needs
    one, and first seeds need the playlist's order (`ordered`)."""
    out = []
    for category in CATEGORIES:
        fits = len(tracks) > category.seeds
        needs_order = category.in_order and category.seeds > 0
        if not fits or category.number == query.category or (category.title and not query.title):
            continue
        if needs_order and not ordered:
            continue
        if category.in_order:
            shown = np.arange(category.seeds)
        else:
            shown = np.sort(rng.choice(len(tracks), size=category.seeds, replace=False))
        mask = np.zeros(len(tracks), bool)
        mask[shown] = True
        seeds = [t for t, m in zip(tracks, mask) if m]
        hidden = [t for t, m in zip(tracks, mask) if not m]
        title = query.title if category.title else None
        shape = Query(query.pid, title, seeds, category.number, category.in_order)
        out.append(Example(shape, hidden))
    return out
