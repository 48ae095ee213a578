"""The MMCF ensemble as a model: `fit` chooses member weights over already-trained members.

Like scikit-learn's prefit ensembles, fit takes trained members (the DAE and the CharCNN, which it
requires, and item-kNN / ALS when trained) and learns only the blend on the validation playlists.
Its own files are MODEL_DIR/blend/{manifest.json, blend.json}; the members stay in their own
directories beside it (MODEL_DIR/dae, MODEL_DIR/cnn, ...), from where `load` reads them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import ujson

from mmcf.models.base import Query, Recommender
from mmcf.models.registry import load_trained
from mmcf.models.store import write_manifest
from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import PlaylistCorpus, query_matrix
from mmcf.mpd.reader import load_json
from mmcf.mpd.split import Validation
from mmcf.mpd.vocab import Vocab

from .blend import combine, title_weight
from .weights import BlendConfig, BlendParts, search_weights

log = logging.getLogger(__name__)
WEIGHTS_FILE = "blend.json"


class MMCF(Recommender):
    """score = w_title · CNN + (1 − w_title) · seed part; seed part alone without title, CNN alone
    without seeds."""

    kind = "blend"
    config_class = BlendConfig
    uses_validation = True
    requires = ("dae", "cnn")
    reads_titles = True

    def __init__(self, config: BlendConfig | None = None) -> None:
        super().__init__()
        self.config = config or BlendConfig()
        self.dae: Recommender | None = None
        self.cnn: Recommender | None = None
        self.members: dict[str, Recommender] = {}
        self.weights: dict[str, float] = {}
        self.report: dict = {}

    @property
    def uses_if_trained(self) -> tuple[str, ...]:
        return self.config.members

    def assemble(
        self,
        dae: Recommender,
        cnn: Recommender,
        members: Mapping[str, Recommender] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> "MMCF":
        """Use these trained parts and peers with their weights (no peers: the published MMCF)."""
        self.dae, self.cnn, self.vocab = dae, cnn, dae.vocab
        self.members = dict(members or {})
        self.weights = {name: float(weights[name]) for name in self.members} if weights else {}
        return self

    def fit(
        self,
        corpus: PlaylistCorpus,
        vocab: Vocab,
        *,
        members: Mapping[str, Recommender],
        validation: Validation | None = None,
    ) -> "MMCF":
        """Choose the peers' weights on `validation` (none there: the published MMCF, no peers)."""
        peers = {m: members[m] for m in self.config.members if m in members}
        self.assemble(members["dae"], members["cnn"])
        if validation is None or not validation.queries:
            log.warning("no validation playlists: the ensemble is the published MMCF, no peers")
            return self
        parts = self.parts(peers, validation.queries, validation.answers)
        weights, history = search_weights(parts, list(peers), self.config, vocab)
        used = {m: peer for m, peer in peers.items() if weights[m] > 0}
        self.assemble(members["dae"], members["cnn"], used, weights)
        self.report = {
            "validation_queries": len(validation.queries),
            "validation_r_precision": history,
            "plain_mmcf_r_precision": history[0]["r_precision"],
            "r_precision": history[-1]["r_precision"],
        }
        log.info(
            "blend weights %s: validation R-precision %.4f (plain MMCF %.4f)",
            weights,
            self.report["r_precision"],
            self.report["plain_mmcf_r_precision"],
        )
        return self

    def knows_title(self, title: str | None) -> bool:
        return self.cnn.knows_title(title)

    def title_and_seed_weight(
        self, queries: Sequence[Query]
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """CNN scores, w_title [B, 1], and which queries have seeds the DAE can use."""
        inputs = query_matrix(queries, self.vocab, self.dae.config.inputs)
        seed_mass = np.asarray(inputs.sum(axis=1), dtype=np.float32).ravel()
        title_scores, usable = self.cnn.title_scores([q.title or "" for q in queries])
        w = torch.from_numpy(title_weight(usable.numpy(), seed_mass)).unsqueeze(1)
        return title_scores, w, seed_mass > 0

    def seed_parts(self, queries: Sequence[Query]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """DAE scores and each weighted member's scores for queries with seeds."""
        if not queries:
            return torch.zeros(0, self.vocab.n_tracks), {}
        used = {name: m for name, m in self.members.items() if self.weights.get(name, 0) > 0}
        return self.dae.score(queries), {name: m.score(queries) for name, m in used.items()}

    def parts(self, peers: Mapping[str, Recommender], queries: list[Query], answers) -> BlendParts:
        """Every part's scores for validation queries, computed once for the weight search."""
        title, w, seeded = self.title_and_seed_weight(queries)
        with_seeds = [queries[i] for i in np.flatnonzero(seeded)]
        dae, _ = self.seed_parts(with_seeds)
        peer_scores = {name: peer.score(with_seeds) for name, peer in peers.items()}
        return BlendParts(queries, answers, title, w, seeded, dae, peer_scores)

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        title_scores, w, has_seeds = self.title_and_seed_weight(queries)
        dae, members = self.seed_parts([queries[i] for i in np.flatnonzero(has_seeds)])
        return combine(title_scores, w, has_seeds, dae, members, self.weights, self.vocab)

    def save(self, directory: str | Path) -> None:
        """The weights and their validation report;
        the members are saved in their own directories."""
        directory = Path(directory)
        with atomic_write(directory / WEIGHTS_FILE) as f:
            ujson.dump({"weights": self.weights, **self.report}, f, indent=2)
        members = ["dae", "cnn", *self.members]
        write_manifest(directory, self.kind, self.vocab, self.config, members=members)

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "MMCF":
        """The ensemble saved in MODEL_DIR/blend, with its members from MODEL_DIR/<member>."""
        directory = Path(directory)
        model, _ = cls.from_manifest(directory, vocab)
        weights = load_weights(directory)
        root = directory.parent
        peers = load_trained(root, [m for m, beta in weights.items() if beta > 0], vocab)
        dae, cnn = load_trained(root, cls.requires, vocab).values()
        return model.assemble(dae, cnn, peers, weights)


def load_weights(directory: Path) -> dict[str, float]:
    """The member weights in MODEL_DIR/blend/blend.json, checked."""
    path = Path(directory) / WEIGHTS_FILE
    data = load_json(path)
    weights = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict) or not all(
        isinstance(v, (int, float)) and 0 <= v <= 1 for v in weights.values()
    ):
        raise UserError(
            f"{path}: 'weights' must map member models to numbers in [0, 1]; retrain the ensemble"
        )
    return {str(k): float(v) for k, v in weights.items()}
