"""Shape statistics of an MPD-format directory, beside the real MPD's published figures."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .reader import count_playlists, read_playlists

# The real MPD (challenge.md). "tracks_once_share" is only given as "roughly half".
MPD_PUBLISHED: dict[str, float] = {
    "playlists": 1_000_000,
    "track_occurrences": 66_346_428,
    "unique_tracks": 2_262_292,
    "unique_artists": 295_860,
    "unique_albums": 734_684,
    "tracks_once_share": 0.5,
    "length_min": 5,
    "length_mean": 66.3,
    "length_max": 250,
    "distinct_titles": 92_944,
    "distinct_normalised_titles": 17_381,
    "min_artists_per_playlist": 3,
    "min_albums_per_playlist": 2,
}
ROWS: tuple[tuple[str, str], ...] = (
    ("playlists", "playlists"),
    ("track_occurrences", "track occurrences"),
    ("unique_tracks", "unique tracks"),
    ("unique_artists", "unique artists"),
    ("unique_albums", "unique albums"),
    ("tracks_once_share", "share of tracks seen once"),
    ("length_min", "length min"),
    ("length_25", "length 25%"),
    ("length_50", "length median"),
    ("length_mean", "length mean"),
    ("length_75", "length 75%"),
    ("length_max", "length max"),
    ("distinct_titles", "distinct titles"),
    ("distinct_normalised_titles", "distinct normalised titles"),
    ("titles_non_ascii_share", "share of non-ASCII titles"),
    ("min_artists_per_playlist", "min artists per playlist"),
    ("min_albums_per_playlist", "min albums per playlist"),
)
_SPACE = re.compile(r"\s+")


def normalise_title(title: str) -> str:
    """Lower-case, drop punctuation and symbols (emoji too), collapse whitespace; letters of any
    script stay."""
    kept = "".join(ch if ch.isalnum() or ch.isspace() else "" for ch in title.lower())
    return _SPACE.sub(" ", kept).strip()


def mpd_stats(path: str | Path) -> dict[str, Any]:
    """Stream over an MPD directory (or slice file) and measure its shape."""
    track_count: Counter[str] = Counter()
    artists: set[str] = set()
    albums: set[str] = set()
    titles: Counter[str] = Counter()
    lengths, min_artists, min_albums = [], [], []
    for playlist in tqdm(
        read_playlists(path),
        total=count_playlists(path),
        desc="stats",
        unit=" playlists",
        unit_scale=True,
        leave=False,
    ):
        tracks = playlist["tracks"]
        track_count.update(t["track_uri"] for t in tracks)
        its_artists = {t["artist_uri"] for t in tracks}
        its_albums = {t.get("album_uri") for t in tracks} - {None}
        artists |= its_artists
        albums |= its_albums
        titles[playlist.get("name") or ""] += 1
        lengths.append(len(tracks))
        min_artists.append(len(its_artists))
        min_albums.append(len(its_albums))
    lengths_a = np.array(lengths)
    once = sum(1 for c in track_count.values() if c == 1)
    return {
        "playlists": len(lengths),
        "track_occurrences": int(lengths_a.sum()),
        "unique_tracks": len(track_count),
        "unique_artists": len(artists),
        "unique_albums": len(albums),
        "tracks_once_share": once / max(1, len(track_count)),
        "length_min": int(lengths_a.min()),
        "length_25": float(np.percentile(lengths_a, 25)),
        "length_50": float(np.percentile(lengths_a, 50)),
        "length_mean": float(lengths_a.mean()),
        "length_75": float(np.percentile(lengths_a, 75)),
        "length_max": int(lengths_a.max()),
        "distinct_titles": len(titles),
        "distinct_normalised_titles": len({normalise_title(t) for t in titles}),
        "titles_non_ascii_share": sum(c for t, c in titles.items() if not t.isascii())
        / len(lengths),
        "min_artists_per_playlist": min(min_artists),
        "min_albums_per_playlist": min(min_albums),
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}" if value < 1 else f"{value:,.1f}"
    return f"{int(value):,}"


def format_stats(stats: dict[str, Any], reference: dict[str, Any] | None = None) -> str:
    """A plain-text table of the statistics, with a reference column (e.g. MPD_PUBLISHED) when
    given."""
    header = ["", "this set"] + (["MPD (published)"] if reference is not None else [])
    rows = [
        [label, _cell(stats.get(key))]
        + ([_cell(reference.get(key))] if reference is not None else [])
        for key, label in ROWS
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in [header, *rows]
    ]
    return "\n".join(lines)
