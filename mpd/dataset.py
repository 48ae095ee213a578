"""Read a training MPD directory into a vocabulary and a corpus, in one streaming pass."""
from __future__ import annotations

import logging
from pathlib import Path

from tqdm import tqdm

from .matrix import CorpusRecorder, PlaylistCorpus, build_corpus
from .reader import count_playlists, read_playlists
from .vocab import Vocab, VocabConfig, build_vocab

log = logging.getLogger(__name__)


def _stream(path: str | Path, desc: str, validate: bool):
    return tqdm(read_playlists(path, validate=validate), total=count_playlists(path), desc=desc,
                unit=" playlists", unit_scale=True, leave=False)


def load_training(path: str | Path, config: VocabConfig | None = None,
                  vocab: Vocab | None = None) -> tuple[Vocab, PlaylistCorpus]:
    """Vocabulary (built unless given) and corpus of the playlists under `path`."""
    if vocab is None:
        recorder = CorpusRecorder()
        vocab = build_vocab(recorder.record(_stream(path, "reading", validate=True)), config)
        corpus = recorder.corpus(vocab)
    else:
        corpus = build_corpus(_stream(path, "reading", validate=False), vocab)
    log.info("%d playlists, %d tracks and %d artists in the vocabulary", len(corpus), vocab.n_tracks,
             vocab.n_artists)
    return vocab, corpus
