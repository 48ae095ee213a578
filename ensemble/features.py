"""The second stage's candidates and features.

Candidates of a query: the union of every source's top K tracks (seeds excluded). A source is a
member model's scores; the title lookup gives two (same title, title words) and item-kNN a third,
from the last few seeds only (where an in-order playlist is heading). Features of a (query,
candidate) pair: each source's score and rank, the track's and its artist's popularity, how many
seeds share its artist, and the query's shape (seeds, title, order, how common the title is).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from mmcf.models.base import Query, Recommender
from mmcf.models.title_lookup import TitleLookup
from mmcf.mpd.matrix import seed_ids
from mmcf.mpd.vocab import Vocab

QUERY_FEATURES = ("seeds", "known_seeds", "has_title", "in_order", "title_playlists")
TRACK_FEATURES = ("track_playlists", "artist_playlists", "artist_seeds", "artist_share")
# feature groups an ablation can leave out
GROUPS = {
    "ranks": (),  # every source's rank (scores stay)
    "popularity": ("track_playlists", "artist_playlists"),
    "artist": ("artist_seeds", "artist_share"),
    "query": QUERY_FEATURES,
}


@dataclass
class Candidates:
    """Candidate tracks of a batch of queries, grouped by query, with their features."""

    rows: np.ndarray  # [n] query index of each candidate (ascending)
    tracks: np.ndarray  # [n] vocabulary id of each candidate
    features: np.ndarray  # [n, len(names)] float32
    names: list[str]

    def group_sizes(self, n_queries: int) -> np.ndarray:
        return np.bincount(self.rows, minlength=n_queries)


def source_scores(
    queries: Sequence[Query], members: Mapping[str, Recommender], recent: int
) -> dict[str, torch.Tensor]:
    """Every source's scores [B, n_tracks] for the queries."""
    scores = {}
    for name, member in members.items():
        if isinstance(member, TitleLookup):
            scores["title_exact"], scores["title_words"] = member.exact_and_word_scores(queries)
        else:
            scores[name] = member.score(queries)
        if name == "knn" and recent > 0:
            scores["knn_recent"] = member.score([recent_part(q, recent) for q in queries])
    return scores


def recent_part(query: Query, recent: int) -> Query:
    """The query with only its last `recent` seeds if they are in order (all of them if not)."""
    seeds = query.seeds[-recent:] if query.in_order else query.seeds
    return Query(pid=query.pid, seeds=seeds, in_order=query.in_order)


def candidates(
    queries: Sequence[Query],
    members: Mapping[str, Recommender],
    vocab: Vocab,
    per_source: int,
    recent: int,
    without: Sequence[str] = (),
) -> Candidates:
    """The union of each source's top `per_source` tracks per query, with every feature."""
    scores = source_scores(queries, members, recent)
    seeds = [seed_ids(q, vocab) for q in queries]
    k = min(per_source, vocab.n_tracks)
    tops = {name: top_ids(s, seeds, k) for name, s in scores.items()}
    chosen = torch.zeros(len(queries), vocab.n_tracks, dtype=torch.bool)
    for top in tops.values():
        chosen.scatter_(1, top, True)
    for row, ids in enumerate(seeds):
        chosen[row, torch.from_numpy(ids)] = False
    rows_t, tracks_t = chosen.nonzero(as_tuple=True)
    rows, tracks = rows_t.numpy(), tracks_t.numpy()
    columns, names = [], []
    for name, s in scores.items():
        columns += [s[rows_t, tracks_t].numpy(), rank_in(tops[name], rows, tracks, k)]
        names += [f"{name}_score", f"{name}_rank"]
    columns += track_features(queries, seeds, vocab, rows, tracks)
    columns += [q[rows] for q in query_features(queries, seeds, members)]
    names += [*TRACK_FEATURES, *QUERY_FEATURES]
    kept = [i for i, name in enumerate(names) if not left_out(name, without)]
    features = np.column_stack([columns[i].astype(np.float32) for i in kept])
    return Candidates(rows, tracks, features, [names[i] for i in kept])


def left_out(name: str, groups: Sequence[str]) -> bool:
    """Is the feature in one of the groups an ablation leaves out?"""
    return any(name in GROUPS[g] or (g == "ranks" and name.endswith("_rank")) for g in groups)


def top_ids(scores: torch.Tensor, seeds: list[np.ndarray], k: int) -> torch.Tensor:
    """The k best tracks of each row, seeds excluded, best first [B, k]. The seeds are masked in
    place and restored afterwards: the same ranking as on a masked copy, without the copy."""
    scores = scores.contiguous()  # itself when contiguous: never an expanded (shared) view
    rows, columns = (torch.from_numpy(a) for a in seed_pairs(seeds))
    kept = scores[rows, columns]
    scores[rows, columns] = -torch.inf
    top = torch.topk(scores, k, dim=1).indices
    scores[rows, columns] = kept
    return top


def seed_pairs(seeds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(query row, seed id) of every seed of the batch, flattened."""
    rows = np.repeat(np.arange(len(seeds)), [len(ids) for ids in seeds])
    return rows, np.concatenate([np.zeros(0, np.int64), *seeds])


def lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray, missing) -> np.ndarray:
    """values[i] where keys[i] == wanted (keys sorted, not empty); `missing` where none is."""
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, values[at], missing)


def rank_in(top: torch.Tensor, rows: np.ndarray, tracks: np.ndarray, k: int) -> np.ndarray:
    """Each (row, track)'s place in its row of `top` (0 = best), k when absent."""
    n = int(max(top.max().item(), tracks.max(initial=0))) + 1
    keys = (torch.arange(len(top))[:, None] * n + top).ravel().numpy()
    places = np.tile(np.arange(top.shape[1]), len(top))
    order = np.argsort(keys)
    keys, places = keys[order], places[order]
    return lookup(keys, places, rows.astype(np.int64) * n + tracks, k)


def track_features(
    queries: Sequence[Query],
    seeds: list[np.ndarray],
    vocab: Vocab,
    rows: np.ndarray,
    tracks: np.ndarray,
) -> list[np.ndarray]:
    """Popularity of the track and its artist; how many of the query's seeds share the artist."""
    artist = vocab.track_artist[tracks]
    artist_counts = np.where(artist >= 0, vocab.artist_counts[np.maximum(artist, 0)], 0)
    seed_rows, seed_tracks = seed_pairs(seeds)
    same = count_in(seed_rows, vocab.track_artist[seed_tracks], rows, artist)
    n_seeds = np.array([max(len(ids), 1) for ids in seeds], np.float32)[rows]
    return [
        np.log1p(vocab.track_counts[tracks]),
        np.log1p(artist_counts),
        same,
        same / n_seeds,
    ]


def count_in(
    rows: np.ndarray, values: np.ndarray, at_rows: np.ndarray, at_values: np.ndarray
) -> np.ndarray:
    """How often each (at_rows, at_values) pair occurs among the (rows, values) pairs; negative
    values (unknown) never count."""
    kept = values >= 0
    if not kept.any():
        return np.zeros(len(at_values), np.float32)
    width = int(max(values.max(), at_values.max(initial=0))) + 1
    keys, counts = np.unique(rows[kept] * width + values[kept], return_counts=True)
    found = lookup(keys, counts, at_rows.astype(np.int64) * width + at_values, 0)
    return np.where(at_values >= 0, found, 0).astype(np.float32)


def query_features(
    queries: Sequence[Query], seeds: list[np.ndarray], members: Mapping[str, Recommender]
) -> list[np.ndarray]:
    """Per query: seeds given, seeds known, title given, in order, training playlists with its
    title."""
    lookup = next((m for m in members.values() if isinstance(m, TitleLookup)), None)
    title_playlists = lookup.title_counts(queries) if lookup else np.zeros(len(queries))
    return [
        np.array([len(q.seeds) for q in queries]),
        np.array([len(ids) for ids in seeds]),
        np.array([bool(q.title and q.title.strip()) for q in queries]),
        np.array([q.in_order for q in queries]),
        np.log1p(title_playlists),
    ]
