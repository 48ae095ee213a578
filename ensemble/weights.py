"""Choose the blend's member weights on validation playlists no member trained on.

Every part scores the validation queries once as it is, and a grid over the weights (coordinate
ascent, a few rounds) keeps the best mean R-precision. A weight of 0 drops the member: a peer joins
only if it helped on validation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from mmcf.models.allocator import reuse_freed_memory
from mmcf.models.base import top_n, with_tie_break
from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.metrics import Answer, score_all, summarize
from mmcf.mpd.vocab import Vocab

from .blend import combine, mix_members, peer_scales


@dataclass
class BlendConfig:
    members: tuple[str, ...] = ("knn", "als")  # peers tried as members (when trained)
    steps: int = 10  # weights tried: 0, 1/steps, …, max_weight
    max_weight: float = 0.9  # the DAE always keeps at least 1 − Σβ ≥ 0.1 in total
    rounds: int = 2  # coordinate-ascent passes over the members

    def __post_init__(self) -> None:
        self.members = tuple(self.members)
        if self.steps < 1 or not 0 <= self.max_weight <= 1:
            raise UserError("blend: steps must be ≥ 1 and max_weight in [0, 1]")


@dataclass
class BlendParts:
    """Everything a candidate blend needs, computed once:
    title scores, w_title, DAE and peer scores."""

    queries: list[Query]
    answers: dict[int, Answer]
    title: torch.Tensor
    w: torch.Tensor
    seeded: np.ndarray
    dae: torch.Tensor
    peers: dict[str, torch.Tensor] = field(default_factory=dict)


@reuse_freed_memory()
def search_weights(
    parts: BlendParts, members: Sequence[str], config: BlendConfig, vocab: Vocab
) -> tuple[dict[str, float], list[dict]]:
    """Coordinate ascent over a grid of member weights; returns the weights and each improvement."""
    trials = Trials(parts, vocab)
    weights = {m: 0.0 for m in members}
    best = trials.r_precision(weights)
    history = [{"weights": dict(weights), "r_precision": best}]
    grid = np.linspace(0, config.max_weight, int(round(config.steps * config.max_weight)) + 1)
    for _, member in itertools.product(range(config.rounds), members):
        for beta in grid:
            others = sum(v for m, v in weights.items() if m != member)
            if beta + others > config.max_weight or beta == weights[member]:
                continue
            trial = {**weights, member: float(round(beta, 4))}
            value = trials.r_precision(trial)
            if value > best + 1e-6:
                best, weights = value, trial
                history.append({"weights": dict(weights), "r_precision": best})
    return weights, history


class Trials:
    """Mean validation R-precision of the blend under member weights, as `combine` scores it.

    What no weight changes is computed once: the rankings of the queries without seeds (their
    blend is the title's alone), and for the queries with seeds the title's term, the DAE's share
    (1 − w_title) and each peer's rescaling. A trial recombines the seeded rows only, element for
    element as `combine` does.
    """

    def __init__(self, parts: BlendParts, vocab: Vocab) -> None:
        self.parts, self.vocab = parts, vocab
        seeded = np.flatnonzero(parts.seeded)
        rows = torch.from_numpy(seeded)
        self.seeded_queries = [parts.queries[i] for i in seeded]
        self.title_term = (parts.w * parts.title)[rows]
        self.dae_share = (1 - parts.w)[rows]
        self.scales = peer_scales(parts.dae, parts.peers)
        self.title_only_recs = self.title_only_rankings()

    def title_only_rankings(self) -> dict[int, list[str]]:
        parts, rows = self.parts, np.flatnonzero(~self.parts.seeded)
        queries = [parts.queries[i] for i in rows]
        at, no_seeds = torch.from_numpy(rows), np.zeros(len(rows), bool)
        scores = combine(parts.title[at], parts.w[at], no_seeds, parts.dae, {}, {}, self.vocab)
        return self.rankings(scores, queries)

    def rankings(self, scores: torch.Tensor, queries: list[Query]) -> dict[int, list[str]]:
        if not queries:
            return {}
        return dict(zip((q.pid for q in queries), top_n(scores, queries, self.vocab, 500)))

    def seeded_scores(self, weights: Mapping[str, float]) -> torch.Tensor:
        """The blend's scores [queries with seeds, tracks] under these member weights."""
        mixed = mix_members(self.parts.dae, self.parts.peers, weights, self.scales)
        scores = self.title_term + self.dae_share * mixed
        return with_tie_break(scores, self.vocab)

    def r_precision(self, weights: Mapping[str, float]) -> float:
        seeded_recs = self.rankings(self.seeded_scores(weights), self.seeded_queries)
        recs = {**self.title_only_recs, **seeded_recs}
        summary = summarize(score_all(recs, self.parts.answers, self.vocab.artist_of()))
        return float(summary.loc["all", "r_precision"])
