"""Choose the blend's member weights on the validation playlists carved before any model trained.

No member (DAE, CNN and its title memory, item-kNN, ALS) trained on those playlists, so every part
scores the validation queries once as it is, and a grid over the weights (coordinate ascent, a few
rounds) keeps the best mean R-precision. A weight of 0 drops the member: a peer joins the submission
only if it helped on validation.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from mmcf.models.base import top_n
from mmcf.models.charcnn import CharCNN
from mmcf.models.dae import DAE
from mmcf.models.registry import model_class
from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.metrics import Answer, score_all, summarize
from mmcf.mpd.split import Validation
from mmcf.mpd.vocab import Vocab

from .blend import MMCF, combine

log = logging.getLogger(__name__)


@dataclass
class BlendConfig:
    members: tuple[str, ...] = (
        "knn",
        "als",
    )  # peers tried as members (those trained in the model dir)
    steps: int = 10  # weights tried: 0, 1/steps, …, max_weight
    max_weight: float = 0.9  # the DAE always keeps at least 1 − Σβ ≥ 0.1 in total
    rounds: int = 2  # coordinate-ascent passes over the members

    def __post_init__(self) -> None:
        self.members = tuple(self.members)
        if self.steps < 1 or not 0 <= self.max_weight <= 1:
            raise UserError("blend: steps must be ≥ 1 and max_weight in [0, 1]")


@dataclass
class _Parts:
    """Everything a candidate blend needs, computed once: title scores, w_title, DAE and peer scores."""

    queries: list[Query]
    answers: dict[int, Answer]
    title: torch.Tensor
    w: torch.Tensor
    seeded: np.ndarray
    dae: torch.Tensor
    peers: dict[str, torch.Tensor] = field(default_factory=dict)


def fit_blend(
    dae: DAE,
    cnn: CharCNN,
    model_dir: str | Path,
    validation: Validation,
    vocab: Vocab,
    config: BlendConfig | None = None,
) -> tuple[MMCF, dict]:
    """The MMCF ensemble with validated member weights, and a report (weights, validation R-precision)."""
    config = config or BlendConfig()
    model_dir = Path(model_dir)
    available = [m for m in config.members if (model_dir / m / "manifest.json").exists()]
    skipped = sorted(set(config.members) - set(available))
    if skipped:
        log.info("blend: %s not trained in %s, not tried", ", ".join(skipped), model_dir)
    if not validation.queries:
        raise UserError(
            f"{model_dir}: no validation playlists to choose the blend's weights on "
            "(trained with --val-per-category 0)"
        )
    members = {m: model_class(m).load(model_dir / m, vocab) for m in available}
    parts = _score_parts(dae, cnn, members, validation.queries, validation.answers)
    weights, history = _search(parts, available, config, vocab)
    report = {
        "validation_queries": len(validation.queries),
        "validation_r_precision": history,
        "plain_mmcf_r_precision": history[0]["r_precision"],
        "r_precision": history[-1]["r_precision"],
    }
    log.info(
        "blend weights %s: validation R-precision %.4f (plain MMCF %.4f)",
        weights,
        report["r_precision"],
        report["plain_mmcf_r_precision"],
    )
    return MMCF(dae, cnn, {m: members[m] for m in available if weights[m] > 0}, weights), report


def _score_parts(
    dae: DAE, cnn: CharCNN, peers: Mapping, queries: list[Query], answers: dict
) -> _Parts:
    plain = MMCF(dae, cnn)
    title, w, seeded = plain.title_and_seed_weight(queries)
    with_seeds = [queries[i] for i in np.flatnonzero(seeded)]
    dae_scores, _ = plain.seed_parts(with_seeds)
    return _Parts(
        queries,
        answers,
        title,
        w,
        seeded,
        dae_scores,
        {name: peer.score(with_seeds) for name, peer in peers.items()},
    )


def _search(
    parts: _Parts, members: Sequence[str], config: BlendConfig, vocab: Vocab
) -> tuple[dict[str, float], list[dict]]:
    """Coordinate ascent over a grid of member weights; returns the weights and each improvement."""
    weights = {m: 0.0 for m in members}
    best = _evaluate(parts, weights, vocab)
    history = [{"weights": dict(weights), "r_precision": best}]
    grid = np.linspace(0, config.max_weight, int(round(config.steps * config.max_weight)) + 1)
    for _, member in itertools.product(range(config.rounds), members):
        for beta in grid:
            others = sum(v for m, v in weights.items() if m != member)
            if beta + others > config.max_weight or beta == weights[member]:
                continue
            trial = {**weights, member: float(round(beta, 4))}
            value = _evaluate(parts, trial, vocab)
            if value > best + 1e-6:
                best, weights = value, trial
                history.append({"weights": dict(weights), "r_precision": best})
    return weights, history


def _evaluate(parts: _Parts, weights: Mapping[str, float], vocab: Vocab) -> float:
    """Mean validation R-precision of the blend with these member weights."""
    scores = combine(parts.title, parts.w, parts.seeded, parts.dae, parts.peers, weights, vocab)
    recs = dict(zip((q.pid for q in parts.queries), top_n(scores, parts.queries, vocab, 500)))
    return float(
        summarize(score_all(recs, parts.answers, vocab.artist_of())).loc["all", "r_precision"]
    )
