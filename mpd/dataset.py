"""Read a training MPD directory in one pass: vocabulary, corpus, validation carve, fingerprint."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tqdm import tqdm

from .fingerprint import SourceDigest
from .cache import load_corpus
from .matrix import CorpusRecorder, PlaylistCorpus, record_all
from .reader import count_playlists, read_playlists
from .split import Validation, ValidationConfig, carve_validation
from .vocab import Vocab, VocabConfig

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """What every model trains on: the playlists left after the validation carve, and the carve."""

    vocab: Vocab
    corpus: PlaylistCorpus  # training playlists, validation playlists removed
    validation: Validation
    source: dict  # fingerprint of the files read (mpd.fingerprint)


def load_training(
    path: str | Path,
    config: VocabConfig | None = None,
    vocab: Vocab | None = None,
    validation: Validation | ValidationConfig | None = None,
) -> TrainingData:
    """Read the playlists under `path` (see `from_recorder`), with the fingerprint of the files.

    The corpus comes from the binary cache when the files are unchanged (mpd.cache), else the JSON.
    """
    corpus = load_corpus(path, validate=vocab is None)
    if corpus is None:  # data only the unvalidated reader takes
        digest = SourceDigest()
        stream = tqdm(
            read_playlists(path, validate=False, digest=digest),
            total=count_playlists(path),
            desc="reading",
            unit=" playlists",
            unit_scale=True,
            leave=False,
        )
        data = from_playlists(stream, config, vocab, validation)
        data.source = digest.summary()
        return data
    data = from_recorder(corpus.recorder, config, vocab, validation)
    data.source = corpus.source
    return data


def from_playlists(
    playlists: Iterable[dict],
    config: VocabConfig | None = None,
    vocab: Vocab | None = None,
    validation: Validation | ValidationConfig | None = None,
) -> TrainingData:
    """Record a playlist stream, then as `from_recorder`."""
    return from_recorder(record_all(playlists), config, vocab, validation)


def from_recorder(
    recorder: CorpusRecorder,
    config: VocabConfig | None = None,
    vocab: Vocab | None = None,
    validation: Validation | ValidationConfig | None = None,
) -> TrainingData:
    """Carve validation playlists (or drop those of a given carve), then count the vocabulary
    (unless given) over the rest and map them onto it."""
    if not isinstance(validation, Validation):
        validation = carve_validation(recorder, validation or ValidationConfig(per_category=0))
    held = validation.pids
    rows = [r for r, pid in enumerate(recorder.pids) if pid not in held]
    vocab = vocab or recorder.vocab(config, rows)
    corpus = recorder.corpus(vocab, rows)
    log.info(
        "%d training playlists (%d held out for validation), "
        "%d tracks and %d artists in the vocabulary",
        len(corpus),
        len(held),
        vocab.n_tracks,
        vocab.n_artists,
    )
    return TrainingData(vocab, corpus, validation, {})
