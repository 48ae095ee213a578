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

from mmcf.models.base import top_n
from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.metrics import Answer, score_all, summarize
from mmcf.mpd.vocab import Vocab

from .blend import combine


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


def search_weights(
    parts: BlendParts, members: Sequence[str], config: BlendConfig, vocab: Vocab
) -> tuple[dict[str, float], list[dict]]:
    """Coordinate ascent over a grid of member weights; returns the weights and each improvement."""
    weights = {m: 0.0 for m in members}
    best = blend_r_precision(parts, weights, vocab)
    history = [{"weights": dict(weights), "r_precision": best}]
    grid = np.linspace(0, config.max_weight, int(round(config.steps * config.max_weight)) + 1)
    for _, member in itertools.product(range(config.rounds), members):
        for beta in grid:
            others = sum(v for m, v in weights.items() if m != member)
            if beta + others > config.max_weight or beta == weights[member]:
                continue
            trial = {**weights, member: float(round(beta, 4))}
            value = blend_r_precision(parts, trial, vocab)
            if value > best + 1e-6:
                best, weights = value, trial
                history.append({"weights": dict(weights), "r_precision": best})
    return weights, history


def blend_r_precision(parts: BlendParts, weights: Mapping[str, float], vocab: Vocab) -> float:
    """Mean validation R-precision of the blend with these member weights."""
    scores = combine(parts.title, parts.w, parts.seeded, parts.dae, parts.peers, weights, vocab)
    recs = dict(zip((q.pid for q in parts.queries), top_n(scores, parts.queries, vocab, 500)))
    summary = summarize(score_all(recs, parts.answers, vocab.artist_of()))
    return float(summary.loc["all", "r_precision"])
