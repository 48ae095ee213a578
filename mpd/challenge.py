"""The challenge set: its ten categories, the Query every model answers, and reading
challenge_set.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import DataError, quoted
from .reader import _check_fields, check_track, load_json


@dataclass(frozen=True)
class Category:
    number: int
    seeds: int  # seed tracks shown
    title: bool  # is the title shown
    in_order: bool  # first k tracks (True) or k random tracks (False)
    min_length: int  # held-out playlist lengths (whole playlist, seeds included)
    max_length: int


COUNT_FIELDS = {
    "num_tracks": int,
    "num_samples": int,
    "num_holdouts": int,
}  # optional, but ints when given
CATEGORIES: tuple[Category, ...] = (
    Category(1, 0, True, True, 10, 50),
    Category(2, 1, True, True, 10, 78),
    Category(3, 5, True, True, 10, 100),
    Category(4, 5, False, True, 40, 100),
    Category(5, 10, True, True, 40, 100),
    Category(6, 10, False, True, 40, 100),
    Category(7, 25, True, True, 101, 250),
    Category(8, 25, True, False, 101, 250),
    Category(9, 100, True, True, 150, 250),
    Category(10, 100, True, False, 150, 250),
)


@dataclass
class Query:
    """One playlist to continue: what a model is given."""

    pid: int
    title: str | None = None
    seeds: list[str] = field(default_factory=list)  # seed track URIs, in playlist order
    category: int | None = None
    in_order: bool = True  # False when the seeds are a random sample
    seed_artists: list[str] = field(default_factory=list)


def infer_category(num_seeds: int, has_title: bool, in_order: bool) -> int | None:
    """The challenge category a playlist's shape (seeds, title, order) belongs to, or None."""
    for c in CATEGORIES:
        if (
            c.seeds == num_seeds
            and c.title == has_title
            and (c.in_order == in_order or c.seeds <= 1)
        ):
            return c.number
    return None


def query_from_challenge(playlist: dict, path, index: int) -> Query:
    """Validate one challenge playlist and turn it into a Query."""
    if not isinstance(playlist, dict) or not isinstance(playlist.get("pid"), int):
        raise DataError(path, f"challenge playlist #{index} has no integer 'pid'")
    pid = playlist["pid"]
    _check_fields(playlist, {}, COUNT_FIELDS, path, pid, "challenge playlist")
    tracks = playlist.get("tracks")
    if not isinstance(tracks, list):
        raise DataError(path, "challenge playlist has no 'tracks' list", pid)
    for i, track in enumerate(tracks):
        check_track(track, path, pid, i)
    title = playlist.get("name")
    if title is not None and not isinstance(title, str):
        raise DataError(path, f"'name' should be a string, got {quoted(title, 40)}", pid)
    if not tracks and not (title and title.strip()):
        raise DataError(
            path, "playlist has neither seed tracks nor a title: nothing to continue from", pid
        )
    positions = [t.get("pos") for t in tracks]
    in_order = (
        all(isinstance(p, int) for p in positions) and positions == list(range(len(tracks)))
        if tracks and positions[0] is not None
        else True
    )
    category = infer_category(len(tracks), bool(title), in_order)
    if category is None:
        order = "in-order" if in_order else "random"
        shape = f"{len(tracks)} {order} seeds, {'a' if title else 'no'} title"
        raise DataError(path, f"shape matches no challenge category ({shape})", pid)
    return Query(
        pid=pid,
        title=title,
        seeds=[t["track_uri"] for t in tracks],
        category=category,
        in_order=in_order,
        seed_artists=[t["artist_uri"] for t in tracks],
    )


def read_challenge(path: str | Path) -> list[Query]:
    """Read and validate a challenge_set.json (official format); pids must be unique."""
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise DataError(
            path, "expected an object with a 'playlists' list (is this a challenge_set.json?)"
        )
    if not data["playlists"]:
        raise DataError(path, "the challenge set has no playlists")
    queries, seen = [], set()
    for i, playlist in enumerate(data["playlists"]):
        query = query_from_challenge(playlist, path, i)
        if query.pid in seen:
            raise DataError(path, "duplicate pid in the challenge set", query.pid)
        seen.add(query.pid)
        queries.append(query)
    return queries
