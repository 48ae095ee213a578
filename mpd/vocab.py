"""Track and artist vocabularies with occurrence cutoffs, and the track → artist map."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Mapping

import numpy as np
import ujson

from .atomic import atomic_write, open_text
from .errors import UserError

VARIOUS_ARTISTS = "Various Artists"
FILL_SIZE = 1000
MMCF_TRACK_CUTOFF = 5
SEP = "\x00"


@dataclass
class VocabConfig:
    # keep tracks seen in at least this many training playlists; 0 = follow the data size: the
    # smallest cutoff (1 to 5, MMCF's) that keeps at most `max_tracks` tracks (`track_cutoff`)
    min_track_playlists: int = 0
    max_tracks: int = 200_000
    min_artist_playlists: int = 3
    drop_various_artists: bool = True


@dataclass
class Vocab:
    """Items a model can see and recommend. Tracks first, most frequent first; artists follow."""

    track_uris: list[str]
    track_names: list[str]
    track_artist_uris: list[
        str
    ]  # the artist of each vocabulary track (even if the artist is not kept)
    track_counts: np.ndarray  # playlists containing the track
    artist_uris: list[str]
    artist_names: list[str]
    artist_counts: np.ndarray
    fill_uris: list[str] = field(
        default_factory=list
    )  # most popular training tracks, vocabulary or not
    config: VocabConfig = field(default_factory=VocabConfig)

    def __post_init__(self) -> None:
        self.track_index = {u: i for i, u in enumerate(self.track_uris)}
        self.artist_index = {u: i for i, u in enumerate(self.artist_uris)}
        self.track_artist = np.array(
            [self.artist_index.get(a, -1) for a in self.track_artist_uris], dtype=np.int64
        )

    @property
    def n_tracks(self) -> int:
        return len(self.track_uris)

    @property
    def n_artists(self) -> int:
        return len(self.artist_uris)

    @property
    def n_items(self) -> int:
        """Width of the [tracks | artists] vectors."""
        return self.n_tracks + self.n_artists

    @cached_property
    def log_counts(self) -> np.ndarray:
        """log(1 + playlist count) per track, float32; computed once."""
        return np.log1p(self.track_counts.astype(np.float32))

    def artist_of(self) -> dict[str, str]:
        """Track URI → artist URI for every vocabulary track."""
        return dict(zip(self.track_uris, self.track_artist_uris))

    def save(self, path: str | Path) -> None:
        data = {
            "config": self.config.__dict__,
            "tracks": [
                list(t)
                for t in zip(
                    self.track_uris,
                    self.track_names,
                    self.track_artist_uris,
                    self.track_counts.tolist(),
                )
            ],
            "artists": [
                list(a)
                for a in zip(self.artist_uris, self.artist_names, self.artist_counts.tolist())
            ],
            "fill": self.fill_uris,
        }
        with atomic_write(path) as f:
            ujson.dump(data, f, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        try:
            with open_text(path) as f:
                data = ujson.load(f)
            tracks, artists = data["tracks"], data["artists"]
            return cls(
                track_uris=[t[0] for t in tracks],
                track_names=[t[1] for t in tracks],
                track_artist_uris=[t[2] for t in tracks],
                track_counts=np.array([t[3] for t in tracks], dtype=np.int64),
                artist_uris=[a[0] for a in artists],
                artist_names=[a[1] for a in artists],
                artist_counts=np.array([a[2] for a in artists], dtype=np.int64),
                fill_uris=data["fill"],
                config=VocabConfig(**data["config"]),
            )
        except FileNotFoundError:
            raise UserError(
                f"{path}: no vocabulary here (train a model into this directory first)"
            ) from None
        except (ValueError, KeyError, IndexError, TypeError, EOFError, OSError) as exc:
            raise UserError(f"{path}: unreadable vocabulary ({exc})") from None


def vocab_from_counts(
    tracks: Mapping[str, tuple[int, str, str]],
    artists: Mapping[str, tuple[int, str]],
    config: VocabConfig | None = None,
) -> Vocab:
    """Keep the tracks and artists above the cutoffs, most frequent first (ties by URI).

    `tracks`: URI → (playlists containing it, name, artist URI); `artists`: URI → (playlists, name).
    """
    config = config or VocabConfig()
    various = {
        a
        for a, (_, name) in artists.items()
        if name == VARIOUS_ARTISTS and config.drop_various_artists
    }
    ranked = _by_count(list(tracks), [t[0] for t in tracks.values()])
    cutoff = track_cutoff(np.array([t[0] for t in tracks.values()], np.int64), config)
    kept = [u for u in ranked if tracks[u][0] >= cutoff]
    kept_artists = sorted(
        (
            a
            for a, (count, _) in artists.items()
            if count >= config.min_artist_playlists and a not in various
        ),
        key=lambda a: (-artists[a][0], a),
    )
    return Vocab(
        track_uris=kept,
        track_names=[tracks[u][1] for u in kept],
        track_artist_uris=[tracks[u][2] for u in kept],
        track_counts=np.array([tracks[u][0] for u in kept], dtype=np.int64),
        artist_uris=kept_artists,
        artist_names=[artists[a][1] for a in kept_artists],
        artist_counts=np.array([artists[a][0] for a in kept_artists], dtype=np.int64),
        fill_uris=ranked[:FILL_SIZE],
        config=config,
    )


def track_cutoff(counts: np.ndarray, config: VocabConfig) -> int:
    """Playlists a track needs to be kept: the configured cutoff, or with 0 the smallest of 1…5
    that keeps at most `max_tracks` (small data sets keep every track; the MPD gets MMCF's 5)."""
    if config.min_track_playlists > 0:
        return config.min_track_playlists
    for cutoff in range(1, MMCF_TRACK_CUTOFF):
        if (counts >= cutoff).sum() <= config.max_tracks:
            return cutoff
    return MMCF_TRACK_CUTOFF


def _by_count(uris: list[str], counts: list[int]) -> list[str]:
    """URIs most counted first, ties by URI: `sorted(key=(-count, uri))`, in numpy for millions."""
    if not uris or SEP in "".join(uris):  # numpy strings drop trailing NULs: compare in Python
        return [u for _, u in sorted(zip((-c for c in counts), uris))]
    order = np.argsort(np.array(uris), kind="stable")
    order = order[np.argsort(-np.array(counts, dtype=np.int64)[order], kind="stable")]
    return [uris[i] for i in order.tolist()]
