"""Playlists as vocabulary ids: the training corpus and sparse [tracks | artists] matrices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from .challenge import Query
from .errors import UserError
from .vocab import Vocab, VocabConfig, vocab_from_counts


@dataclass
class PlaylistCorpus:
    """Training playlists, ordered track ids in CSR layout (-1 = track outside the vocabulary)."""

    pids: np.ndarray
    titles: list[str]
    indptr: np.ndarray
    track_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.pids)

    def tracks(self, row: int, known_only: bool = True) -> np.ndarray:
        ids = self.track_ids[self.indptr[row] : self.indptr[row + 1]]
        return ids[ids >= 0] if known_only else ids

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def subset(self, rows: Sequence[int]) -> "PlaylistCorpus":
        rows = np.asarray(rows, dtype=np.int64)
        parts = [self.track_ids[self.indptr[r] : self.indptr[r + 1]] for r in rows]
        lengths = np.array([len(p) for p in parts], dtype=np.int64)
        return PlaylistCorpus(
            pids=self.pids[rows],
            titles=[self.titles[r] for r in rows],
            indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            track_ids=np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64),
        )


class CorpusRecorder:
    """Records playlists as they stream by (provisional track ids), to map onto a vocabulary later.

    This lets one reading pass count the vocabulary, keep the corpus and carve validation playlists:
    the provisional ids cost one int32 per track occurrence; each distinct track keeps its URI, name
    and artist, each distinct artist its URI and name.
    """

    def __init__(self) -> None:
        self.track_ids: dict[str, int] = {}
        self.track_names: list[str] = []
        self.track_artist: list[int] = []  # provisional artist id of each track
        self.artist_ids: dict[str, int] = {}
        self.artist_names: list[str] = []
        self.pids: list[int] = []
        self.titles: list[str] = []
        self.chunks: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.pids)

    def record(self, playlists: Iterable[dict]) -> Iterator[dict]:
        """Pass the playlists through, recording each."""
        for playlist in playlists:
            tracks = playlist["tracks"]
            self.chunks.append(
                np.fromiter(map(self._track_id, tracks), dtype=np.int32, count=len(tracks))
            )
            self.pids.append(playlist["pid"])
            self.titles.append(playlist.get("name") or "")
            yield playlist

    def _track_id(self, track: dict) -> int:
        index = self.track_ids.get(track["track_uri"])
        if index is None:
            index = self.track_ids[track["track_uri"]] = len(self.track_names)
            self.track_names.append(track["track_name"])
            artist = self.artist_ids.setdefault(track["artist_uri"], len(self.artist_ids))
            if artist == len(self.artist_names):
                self.artist_names.append(track["artist_name"])
            self.track_artist.append(artist)
        return index

    def add_tracks(
        self, uris: list[str], names: list[str], artist_uris: list[str], artist_names: list[str]
    ) -> None:
        """Register tracks not seen yet (each once), in order, as `record` would have met them."""
        start = len(self.track_names)
        self.track_ids.update(zip(uris, range(start, start + len(uris))))
        self.track_names += names
        for uri, name in zip(artist_uris, artist_names):
            if uri not in self.artist_ids:
                self.artist_ids[uri] = len(self.artist_names)
                self.artist_names.append(name)
        self.track_artist += map(self.artist_ids.__getitem__, artist_uris)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(c) for c in self.chunks], dtype=np.int64)

    def playlists(self, rows: Sequence[int]) -> list[dict]:
        """Recorded playlists in MPD form (pid, name, tracks with URIs and names)."""
        track_uris, artist_uris = list(self.track_ids), list(self.artist_ids)

        def track(i: int) -> dict:
            artist = self.track_artist[i]
            return {
                "track_uri": track_uris[i],
                "track_name": self.track_names[i],
                "artist_uri": artist_uris[artist],
                "artist_name": self.artist_names[artist],
            }

        return [
            {
                "pid": self.pids[r],
                "name": self.titles[r],
                "tracks": [track(i) for i in self.chunks[r].tolist()],
            }
            for r in rows
        ]

    def vocab(self, config: VocabConfig | None = None, rows: Sequence[int] | None = None) -> Vocab:
        """The vocabulary counted over the recorded playlists (or some of their rows)."""
        chunks = self.chunks if rows is None else [self.chunks[r] for r in rows]
        if not chunks:
            raise UserError("no training playlists: cannot build a vocabulary")
        offsets = np.cumsum([0, *map(len, chunks)], dtype=np.int64)
        flat = np.concatenate(chunks).astype(np.int64)
        track_artist = np.array(self.track_artist, dtype=np.int64)
        track_counts = distinct_counts(flat, offsets, len(self.track_names))
        artist_counts = distinct_counts(track_artist[flat], offsets, len(self.artist_names))
        artist_uris = list(self.artist_ids)
        tracks = {
            uri: (int(count), name, artist_uris[artist])
            for uri, count, name, artist in zip(
                self.track_ids, track_counts, self.track_names, self.track_artist
            )
            if count > 0
        }
        artists = {
            uri: (int(count), name)
            for uri, count, name in zip(artist_uris, artist_counts, self.artist_names)
            if count > 0
        }
        return vocab_from_counts(tracks, artists, config)

    def corpus(self, vocab: Vocab, rows: Sequence[int] | None = None) -> PlaylistCorpus:
        """The recorded playlists (or some of their rows) as vocabulary ids, in order."""
        rows = range(len(self.chunks)) if rows is None else rows
        index = vocab.track_index
        lookup = np.fromiter(
            (index.get(u, -1) for u in self.track_ids), dtype=np.int64, count=len(self.track_ids)
        )
        chunks = [self.chunks[r] for r in rows]
        lengths = np.array([len(c) for c in chunks], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        track_ids = lookup[np.concatenate(chunks)] if chunks else np.zeros(0, np.int64)
        return PlaylistCorpus(
            np.array([self.pids[r] for r in rows], dtype=np.int64),
            [self.titles[r] for r in rows],
            indptr,
            track_ids,
        )


def distinct_counts(ids: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
    """How many rows contain each of the ids 0..n-1 (row r: ids[offsets[r]:offsets[r + 1]])."""
    if not n:
        return np.zeros(0, np.int64)
    shape = (len(offsets) - 1, n)
    rows = sp.csr_matrix((np.ones(len(ids), np.int8), np.array(ids), np.array(offsets)), shape)
    rows.sum_duplicates()  # sorts each row's ids and merges repeats, in C (4× a global sort)
    return np.bincount(rows.indices, minlength=n)


def record_all(playlists: Iterable[dict]) -> CorpusRecorder:
    recorder = CorpusRecorder()
    for _ in recorder.record(playlists):
        pass
    return recorder


def build_vocab(playlists: Iterable[dict], config: VocabConfig | None = None) -> Vocab:
    """Count tracks and artists per playlist over a stream and keep those above the cutoffs."""
    return record_all(playlists).vocab(config)


def build_corpus(playlists: Iterable[dict], vocab: Vocab) -> PlaylistCorpus:
    """Map a playlist stream onto vocabulary ids, keeping order."""
    return record_all(playlists).corpus(vocab)


def top_k_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The k largest entries of each row of a CSR matrix (the rest dropped); of entries tied with
    the k-th largest, those of the lowest columns are kept (the same on every CPU and numpy
    version)."""
    data, indices, indptr = [], [], [0]
    for i in range(m.shape[0]):
        lo, hi = m.indptr[i], m.indptr[i + 1]
        row, cols = m.data[lo:hi], m.indices[lo:hi]
        if hi - lo > k:
            kth = np.partition(row, hi - lo - k)[hi - lo - k]
            above, tied = np.flatnonzero(row > kth), np.flatnonzero(row == kth)
            tied = tied[np.argsort(cols[tied], kind="stable")[: k - len(above)]]
            top = np.sort(np.concatenate([above, tied]))
            row, cols = row[top], cols[top]
        data.append(row)
        indices.append(cols)
        indptr.append(indptr[-1] + len(row))
    return sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=m.shape
    )


def rows_to_matrix(
    rows: Sequence[np.ndarray],
    vocab: Vocab,
    track_weights: Sequence[np.ndarray] | None = None,
    artist_weight: float = 1.0,
) -> sp.csr_matrix:
    """Sparse [tracks | artists] matrix, a row per track-id list; artists weigh `artist_weight`."""
    data, cols, indptr = [], [], [0]
    for i, tracks in enumerate(rows):
        tracks = np.asarray(tracks, dtype=np.int64)
        weights = np.ones(len(tracks), np.float32) if track_weights is None else track_weights[i]
        artists = np.unique(vocab.track_artist[tracks]) if len(tracks) else np.zeros(0, np.int64)
        artists = artists[artists >= 0]
        cols += [tracks, artists + vocab.n_tracks]
        data += [np.asarray(weights, np.float32), np.full(len(artists), artist_weight, np.float32)]
        indptr.append(indptr[-1] + len(tracks) + len(artists))
    matrix = sp.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(cols) if cols else np.zeros(0, np.int64),
            np.array(indptr),
        ),
        shape=(len(rows), vocab.n_items),
    )
    matrix.sum_duplicates()
    if track_weights is None and artist_weight == 1.0:
        matrix.data[:] = 1.0
    return matrix


def item_matrix(
    corpus: PlaylistCorpus, vocab: Vocab, rows: Sequence[int] | None = None
) -> sp.csr_matrix:
    """Binary playlist × [tracks | artists] matrix of the corpus (or of some of its rows)."""
    rows = range(len(corpus)) if rows is None else rows
    return rows_to_matrix([corpus.tracks(r) for r in rows], vocab)


@dataclass
class InputWeights:
    """How seeds become a model input: the MMCF inference weights."""

    track: float = 1.0
    artist: float = 0.5
    older_track: float = 0.15  # for in-order playlists longer than `long_playlist` seeds ...
    recent: int = 15  # ... all but the last `recent` seeds take `older_track`
    long_playlist: int = 50


def seed_ids(query: Query, vocab: Vocab) -> np.ndarray:
    """Vocabulary ids of a query's seeds (unknown seeds dropped), in order."""
    ids = [vocab.track_index.get(u, -1) for u in query.seeds]
    return np.array([i for i in ids if i >= 0], dtype=np.int64)


def seed_weights(query: Query, ids: np.ndarray, weights: InputWeights) -> np.ndarray:
    w = np.full(len(ids), weights.track, np.float32)
    if query.in_order and len(query.seeds) > weights.long_playlist and len(ids) > weights.recent:
        w[: -weights.recent] = weights.older_track
    return w


def query_matrix(
    queries: Sequence[Query], vocab: Vocab, weights: InputWeights | None = None
) -> sp.csr_matrix:
    """Weighted [tracks | artists] input of each query; unknown seeds are dropped."""
    weights = weights or InputWeights()
    ids = [seed_ids(q, vocab) for q in queries]
    track_w = [seed_weights(q, i, weights) for q, i in zip(queries, ids)]
    matrix = rows_to_matrix(ids, vocab, track_w, artist_weight=weights.artist)
    return _cap_duplicates(matrix, vocab.n_tracks, weights)


def _cap_duplicates(matrix: sp.csr_matrix, n_tracks: int, weights: InputWeights) -> sp.csr_matrix:
    """A track seeded twice still weighs at most `track`; artists are already one entry each."""
    cols = matrix.indices
    matrix.data = np.where(cols < n_tracks, np.minimum(matrix.data, weights.track), matrix.data)
    return matrix
