"""The contract every recommender shares:
fit on a corpus, score or recommend for queries, save, load."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import ClassVar, Sequence

import torch

from mmcf.mpd.challenge import Query
from mmcf.mpd.matrix import PlaylistCorpus, seed_ids
from mmcf.mpd.vocab import Vocab

from .allocator import reuse_freed_memory
from .store import config_from, read_manifest

__all__ = ["Query", "Recommender", "top_n"]
# added to model scores so queries with nothing usable rank by popularity
POPULARITY_TIE_BREAK = 1e-6


class Recommender(abc.ABC):
    """A model over one vocabulary. Subclasses implement fit, score, save and load."""

    # What the pipeline reads to train and use a model (it probes nothing else):
    kind: ClassVar[str]
    # the settings dataclass, if the model has settings
    config_class: ClassVar[type | None] = None
    # fit takes `validation` (epochs or weights are chosen on it)
    uses_validation: ClassVar[bool] = False
    # fit takes `checkpoint_dir` and `resume`
    resumable: ClassVar[bool] = False
    # kinds that must be trained first; fit takes them as `members={kind: model}`
    requires: ClassVar[tuple[str, ...]] = ()
    # kinds passed in `members` too when they are trained in the model directory
    uses_if_trained: ClassVar[tuple[str, ...]] = ()
    # scores use the playlist title (see `knows_title`)
    reads_titles: ClassVar[bool] = False
    # fit trains data-parallel under torchrun
    data_parallel: ClassVar[bool] = False

    def __init__(self) -> None:
        self.vocab: Vocab | None = None

    @abc.abstractmethod
    def fit(self, corpus: PlaylistCorpus, vocab: Vocab, **capabilities) -> "Recommender":
        """Train on the corpus; `vocab` defines the items.

        The pipeline passes only what the class declares: `validation` (uses_validation),
        `checkpoint_dir` and `resume` (resumable), `members` (requires, uses_if_trained).
        """

    @abc.abstractmethod
    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        """Scores [len(queries), vocab.n_tracks] (higher is better), float32 on the CPU."""

    @abc.abstractmethod
    def save(self, directory: str | Path) -> None:
        """Write the model's own files into `directory` (the vocabulary is saved beside it)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "Recommender":
        """Read a model written by `save`."""

    @classmethod
    def from_manifest(cls, directory: str | Path, vocab: Vocab) -> tuple["Recommender", dict]:
        """A new model of this class with the settings saved in `directory`'s manifest (refused if
        of another kind or vocabulary), and the manifest, for `load` to fill in."""
        manifest = read_manifest(directory, cls.kind, vocab)
        if cls.config_class is None:
            model = cls()
        else:
            where = Path(directory) / "manifest.json"
            model = cls(config_from(cls.config_class, manifest["config"], where))
        model.vocab = vocab
        return model, manifest

    def knows_title(self, title: str | None) -> bool:
        """Does the model read anything in this title (False for models that ignore titles)?"""
        return False

    def recommend(
        self, queries: Sequence[Query], n: int = 500, batch_size: int = 256
    ) -> list[list[str]]:
        """Top-n track URIs per query, seeds excluded,
        filled by popularity if the vocabulary runs out."""
        out: list[list[str]] = []
        with reuse_freed_memory():
            for start in range(0, len(queries), batch_size):
                batch = queries[start : start + batch_size]
                out += top_n(self.score(batch), batch, self.vocab, n)
        return out


def top_n(scores: torch.Tensor, queries: Sequence[Query], vocab: Vocab, n: int) -> list[list[str]]:
    """Rank vocabulary tracks by score without seeds;
    fill from popular tracks when fewer than n remain."""
    scores = scores.clone()
    for row, query in enumerate(queries):
        ids = seed_ids(query, vocab)
        if len(ids):
            scores[row, torch.from_numpy(ids)] = -torch.inf
    values, indices = stable_top_k(scores, min(n, vocab.n_tracks))
    result = []
    for row, query in enumerate(queries):
        ids = indices[row][torch.isfinite(values[row])].tolist()
        uris = [vocab.track_uris[i] for i in ids]
        if len(uris) < n:
            uris += fill(uris, query.seeds, vocab.fill_uris, n - len(uris))
        result.append(uris)
    return result


def stable_top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.topk with ties ranked by index (lower first),
    so rankings do not depend on topk's tie order."""
    values, indices = torch.topk(scores, k, dim=1)
    kth = values[:, -1:]
    straddling = ((scores == kth).sum(1) > (values == kth).sum(1)).nonzero().ravel().tolist()
    for row in straddling:  # ties cross the k-th place: keep the lowest indices among them
        above = (scores[row] > kth[row]).nonzero().ravel()
        indices[row] = torch.cat(
            [above, (scores[row] == kth[row]).nonzero().ravel()[: k - len(above)]]
        )
        values[row] = scores[row, indices[row]]
    indices, order = indices.sort(dim=1)
    values, order = values.gather(1, order).sort(dim=1, descending=True, stable=True)
    return values, indices.gather(1, order)


def fill(chosen: list[str], seeds: list[str], pool: list[str], count: int) -> list[str]:
    """Up to `count` URIs from `pool` that are neither chosen nor seeds."""
    taken = set(chosen) | set(seeds)
    return [u for u in pool if u not in taken][:count]


def with_tie_break(scores: torch.Tensor, vocab: Vocab) -> torch.Tensor:
    """`scores` [queries, tracks] plus POPULARITY_TIE_BREAK × log playlist count, so that equal
    scores rank the more popular track first."""
    return scores + POPULARITY_TIE_BREAK * popularity_scores(vocab, 1)


def popularity_scores(vocab: Vocab, rows: int) -> torch.Tensor:
    """Log playlist counts of vocabulary tracks,
    one row per query (a read-only view: do not modify it)."""
    return torch.from_numpy(vocab.log_counts).expand(rows, -1)
