"""The second stage: a learning-to-rank model over every member's candidates (the default model).

As the challenge's leading teams did: each member proposes its top tracks, and a LightGBM lambdarank
model reorders their union from the members' scores and ranks, popularity, artist overlap and the
query's shape (`features.py`). Like the blend, `fit` takes already-trained members and learns only
on the validation playlists none of them trained on, early-stopped on a part of them it does not
fit. Queries with seeds and queries with a title alone get a booster each (the second learns
what the title sources are worth, which the many seeded examples would drown). Its own files are
MODEL_DIR/mmcf/{manifest.json, ranker_seeds.txt, ranker_title.txt, ranker.json}; the members stay in
their own directories beside it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import ujson

from mmcf.models.allocator import reuse_freed_memory
from mmcf.models.base import POPULARITY_TIE_BREAK, Query, Recommender, popularity_scores
from mmcf.models.registry import load_trained
from mmcf.models.store import write_manifest
from mmcf.models.validation import r_precision
from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import PlaylistCorpus
from mmcf.mpd.split import Validation
from mmcf.mpd.vocab import Vocab

from .examples import Example, training_examples
from .features import GROUPS, Candidates, candidates

log = logging.getLogger(__name__)
BOOSTER_FILE, REPORT_FILE = "ranker_{}.txt", "ranker.json"
SHAPES = ("seeds", "title")  # one booster for queries with seeds, one for a title alone
NOT_CANDIDATE = -1e4  # below every ranker score: tracks no member proposed come last


@dataclass
class RankerConfig:
    members: tuple[str, ...] = ("knn", "als", "title", "dae", "cnn")
    candidates: int = 300  # top tracks each source proposes
    recent: int = 5  # seeds of the item-kNN source that looks where an in-order playlist heads
    trees: int = 500  # at most; early stopping picks fewer
    learning_rate: float = 0.05
    leaves: int = 31
    min_child: int = 20  # candidates per leaf, at least
    stop_share: float = 0.2  # validation queries kept out of fitting, for early stopping
    patience: int = 30  # trees without a better early-stopping NDCG
    without: tuple[str, ...] = ()  # feature groups left out (ablations): see features.GROUPS
    batch: int = 128  # queries scored at a time
    seed: int = 0

    def __post_init__(self) -> None:
        self.members, self.without = tuple(self.members), tuple(self.without)
        unknown = set(self.without) - set(GROUPS)
        if unknown:
            raise UserError(
                f"ranker: unknown feature groups {sorted(unknown)} (known: {', '.join(GROUPS)})"
            )
        if not self.members or self.candidates < 1 or not 0 < self.stop_share < 1:
            raise UserError(
                "ranker: members must not be empty, candidates ≥ 1, stop_share in (0, 1)"
            )


class Ranker(Recommender):
    kind = "mmcf"
    config_class = RankerConfig
    uses_validation = True
    reads_titles = True

    def __init__(self, config: RankerConfig | None = None) -> None:
        super().__init__()
        self.config = config or RankerConfig()
        self.members: dict[str, Recommender] = {}
        self.boosters: dict = {}  # shape → lightgbm.Booster
        self.report: dict = {}

    @property
    def requires(self) -> tuple[str, ...]:
        return self.config.members

    @reuse_freed_memory()
    def fit(
        self,
        corpus: PlaylistCorpus,
        vocab: Vocab,
        *,
        members: Mapping[str, Recommender],
        validation: Validation | None = None,
    ) -> "Ranker":
        """Learn to rank the members' candidates for the validation playlists."""
        if validation is None or len(validation.queries) < 10:
            raise UserError(
                "the ranker learns on the validation playlists carved from the training set: "
                "train with --val-per-category > 0 on a larger training set, or use --model blend"
            )
        self.vocab, self.members = vocab, {m: members[m] for m in self.config.members}
        examples = training_examples(validation, self.config.seed)
        pids = sorted(validation.pids)
        rng = np.random.default_rng(self.config.seed)
        stopping = set(
            rng.choice(pids, max(1, int(len(pids) * self.config.stop_share)), replace=False)
        )
        fitting = [e for e in examples if e.query.pid not in stopping]
        held = [e for e in examples if e.query.pid in stopping]
        self.boosters = {}
        for shape in SHAPES:
            fit_part = [e for e in fitting if shape_of(e.query) == shape]
            stop_part = [e for e in held if shape_of(e.query) == shape]
            if fit_part and stop_part:
                self.boosters[shape] = train_booster(
                    self.labelled(fit_part), self.labelled(stop_part), self.config
                )
        if "seeds" not in self.boosters:
            raise UserError("the ranker found no validation playlist with seeds to learn from")
        stop_queries = [q for q in validation.queries if q.pid in stopping]
        self.report = {"examples": len(fitting), **self.compare(stop_queries, validation.answers)}
        log.info("ranker: %s", self.report)
        return self

    def labelled(self, examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of the examples' candidates, their labels (a hidden track: 1), group sizes."""
        features, labels, sizes = [], [], []
        for start in range(0, len(examples), self.config.batch):
            batch = examples[start : start + self.config.batch]
            part = self.candidates([e.query for e in batch])
            hidden = [{self.vocab.track_index.get(u, -1) for u in e.hidden} for e in batch]
            features.append(part.features)
            labels.append(np.array([t in hidden[r] for r, t in zip(part.rows, part.tracks)]))
            sizes.append(part.group_sizes(len(batch)))
        return (
            np.concatenate(features),
            np.concatenate(labels).astype(np.int32),
            np.concatenate(sizes),
        )

    def candidates(self, queries: Sequence[Query]) -> Candidates:
        return candidates(
            queries,
            self.members,
            self.vocab,
            self.config.candidates,
            self.config.recent,
            self.config.without,
        )

    def compare(self, queries: Sequence[Query], answers) -> dict:
        """R-precision of the ranker and of each member on the early-stopping queries."""
        scorers = {"ranker": self.score, **{m: model.score for m, model in self.members.items()}}
        values = {
            name: r_precision(fn, queries, answers, self.vocab, batch_size=self.config.batch)
            for name, fn in scorers.items()
        }
        return {
            "stop_queries": len(queries),
            "trees": {shape: int(b.best_iteration) for shape, b in self.boosters.items()},
            "r_precision": {k: round(v, 4) for k, v in values.items()},
        }

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        below = NOT_CANDIDATE + POPULARITY_TIE_BREAK * popularity_scores(self.vocab, 1)
        out = below.expand(len(queries), -1).clone()
        for start in range(0, len(queries), self.config.batch):
            batch = queries[start : start + self.config.batch]
            part = self.candidates(batch)
            shapes = np.array([shape_of(q) for q in batch])[part.rows]
            predicted = np.zeros(len(part.rows), np.float32)
            for shape in set(shapes.tolist()):
                booster = self.boosters.get(shape, self.boosters["seeds"])
                at = shapes == shape
                predicted[at] = booster.predict(
                    part.features[at], num_iteration=booster.best_iteration
                )
            out[start + part.rows, part.tracks] = torch.from_numpy(predicted)
        return out

    def knows_title(self, title: str | None) -> bool:
        return any(m.knows_title(title) for m in self.members.values())

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        for shape, booster in self.boosters.items():
            with atomic_write(directory / BOOSTER_FILE.format(shape)) as f:
                f.write(booster.model_to_string())
        with atomic_write(directory / REPORT_FILE) as f:
            ujson.dump(self.report, f, indent=2)
        write_manifest(
            directory,
            self.kind,
            self.vocab,
            self.config,
            members=list(self.members),
            boosters=list(self.boosters),
        )

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "Ranker":
        """The ranker saved in MODEL_DIR/mmcf, with its members from MODEL_DIR/<member>."""
        import lightgbm

        directory = Path(directory)
        model, manifest = cls.from_manifest(directory, vocab)
        model.members = load_trained(directory.parent, model.config.members, vocab)
        for shape in manifest.get("boosters", []):
            path = directory / BOOSTER_FILE.format(shape)
            try:
                model.boosters[shape] = lightgbm.Booster(model_file=str(path))
            except lightgbm.basic.LightGBMError as exc:
                raise UserError(f"{path}: unreadable ranker ({exc}); retrain") from None
        if "seeds" not in model.boosters:
            raise UserError(f"{directory}: the ranker's manifest lists no booster; retrain")
        return model


def shape_of(query: Query) -> str:
    return "seeds" if query.seeds else "title"


def train_booster(fit_part, stop_part, config: RankerConfig):
    """LightGBM lambdarank on the fitting queries, early-stopped on NDCG of the others."""
    import lightgbm

    params = {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [100],
        "learning_rate": config.learning_rate,
        "num_leaves": config.leaves,
        "min_data_in_leaf": config.min_child,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": torch.get_num_threads(),
        "verbosity": -1,
    }
    datasets = [lightgbm.Dataset(x, label=y, group=g) for x, y, g in (fit_part, stop_part)]
    return lightgbm.train(
        params,
        datasets[0],
        num_boost_round=config.trees,
        valid_sets=[datasets[1]],
        callbacks=[lightgbm.early_stopping(config.patience, verbose=False)],
    )
