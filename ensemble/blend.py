"""MMCF's count-weighted ensemble of the DAE (seeds) and the CharCNN (title), with optional peer members.

    seed part = (1 − Σ β_m) · DAE + Σ β_m · peer_m (each peer rescaled to the DAE's row maximum)
    score     = w_title · CNN + (1 − w_title) · seed part,   w_title = has_title / (has_title + x)

With no members (β all 0) this is exactly the published MMCF. The β are chosen on validation playlists
carved from the training set (ensemble/weights.py, `mmcf train --model mmcf`) and saved in MODEL_DIR/mmcf.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import ujson

from mmcf.models.base import POPULARITY_TIE_BREAK, Query, Recommender, popularity_scores
from mmcf.models.charcnn import CharCNN
from mmcf.models.dae import DAE
from mmcf.models.registry import model_class
from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import PlaylistCorpus, query_matrix
from mmcf.mpd.reader import load_json
from mmcf.mpd.vocab import Vocab

KIND = "mmcf"
WEIGHTS_FILE = "blend.json"


def title_weight(has_title: np.ndarray, seed_mass: np.ndarray) -> np.ndarray:
    """w_title = has_title / (has_title + x), x = sum of the DAE input weights; 0/0 (nothing) → 0."""
    has_title = has_title.astype(np.float32)
    total = has_title + seed_mass
    return np.divide(has_title, total, out=np.zeros_like(total, dtype=np.float32), where=total > 0)


def mix_members(
    dae: torch.Tensor, members: Mapping[str, torch.Tensor], weights: Mapping[str, float]
) -> torch.Tensor:
    """(1 − Σβ) · DAE + Σ β · peer, every peer row rescaled so its maximum is the DAE row's maximum."""
    used = {name: beta for name, beta in weights.items() if beta > 0}
    if not used:
        return dae
    top = dae.amax(dim=1, keepdim=True)
    mixed = (1.0 - sum(used.values())) * dae
    for name, beta in used.items():
        peer = members[name]
        mixed = mixed + beta * peer * (top / peer.amax(dim=1, keepdim=True).clamp_min(1e-12))
    return mixed


def combine(
    title: torch.Tensor,
    w: torch.Tensor,
    seeded: np.ndarray,
    dae: torch.Tensor,
    members: Mapping[str, torch.Tensor],
    weights: Mapping[str, float],
    vocab: Vocab,
) -> torch.Tensor:
    """The final scores [B, n_tracks]: DAE and member scores are given for the `seeded` rows only."""
    seed_scores = torch.zeros_like(title)
    if seeded.any():
        seed_scores[torch.from_numpy(np.flatnonzero(seeded))] = mix_members(dae, members, weights)
    blend = w * title + (1 - w) * seed_scores
    return blend + POPULARITY_TIE_BREAK * popularity_scores(vocab, len(title))


class MMCF(Recommender):
    """score = w_title · CNN + (1 − w_title) · seed part; seed part alone without title, CNN alone without seeds."""

    kind = KIND
    reads_titles = True

    def __init__(
        self,
        dae: DAE,
        cnn: CharCNN,
        members: Mapping[str, Recommender] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.dae, self.cnn, self.vocab = dae, cnn, dae.vocab
        self.members = dict(members or {})
        self.weights = {name: float(weights[name]) for name in self.members} if weights else {}

    def fit(self, corpus: PlaylistCorpus, vocab: Vocab) -> "MMCF":
        raise NotImplementedError(
            "train the parts (`mmcf train --model dae`, then `--model cnn`), then "
            "`mmcf train --model mmcf` chooses the member weights"
        )

    def knows_title(self, title: str | None) -> bool:
        return self.cnn.knows_title(title)

    def title_and_seed_weight(
        self, queries: Sequence[Query]
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """CNN scores, w_title [B, 1], and which queries have seeds the DAE can use."""
        seed_mass = np.asarray(
            query_matrix(queries, self.vocab, self.dae.config.inputs).sum(axis=1), dtype=np.float32
        ).ravel()
        title_scores, usable = self.cnn.title_scores([q.title or "" for q in queries])
        w = torch.from_numpy(title_weight(usable.numpy(), seed_mass)).unsqueeze(1)
        return title_scores, w, seed_mass > 0

    def seed_parts(self, queries: Sequence[Query]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """DAE scores and each weighted member's scores for queries with seeds."""
        if not queries:
            return torch.zeros(0, self.vocab.n_tracks), {}
        return self.dae.score(queries), {
            name: m.score(queries)
            for name, m in self.members.items()
            if self.weights.get(name, 0) > 0
        }

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        title_scores, w, has_seeds = self.title_and_seed_weight(queries)
        dae, members = self.seed_parts([queries[i] for i in np.flatnonzero(has_seeds)])
        return combine(title_scores, w, has_seeds, dae, members, self.weights, self.vocab)

    def save(self, directory: str | Path) -> None:
        """The parts under MODEL_DIR/dae and MODEL_DIR/cnn; member weights in MODEL_DIR/mmcf/blend.json."""
        directory = Path(directory)
        self.dae.save(directory / DAE.kind)
        self.cnn.save(directory / CharCNN.kind)
        save_weights(directory, self.weights)

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "MMCF":
        directory = Path(directory)
        weights = load_weights(directory)
        members = {
            name: model_class(name).load(directory / name, vocab)
            for name, beta in weights.items()
            if beta > 0
        }
        return cls(
            DAE.load(directory / DAE.kind, vocab),
            CharCNN.load(directory / CharCNN.kind, vocab),
            members,
            weights,
        )


def save_weights(model_dir: Path, weights: Mapping[str, float], report: dict | None = None) -> None:
    with atomic_write(Path(model_dir) / KIND / WEIGHTS_FILE) as f:
        ujson.dump({"weights": dict(weights), **(report or {})}, f, indent=2)


def load_weights(model_dir: Path) -> dict[str, float]:
    """Member weights chosen by `mmcf train --model mmcf`; none (plain MMCF) if it was not run."""
    path = Path(model_dir) / KIND / WEIGHTS_FILE
    if not path.exists():
        return {}
    data = load_json(path)
    weights = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict) or not all(
        isinstance(v, (int, float)) and 0 <= v <= 1 for v in weights.values()
    ):
        raise UserError(
            f"{path}: 'weights' must map member models to numbers in [0, 1]; retrain the blend"
        )
    return {str(k): float(v) for k, v in weights.items()}
