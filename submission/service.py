"""What `mmcf serve` answers, apart from HTTP: health, one playlist's continuation and track search.

Every request is validated here; a bad one raises RequestError (a UserError with an HTTP status)
whose message names the field at fault. The model is shared by all request threads and scored under
a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import ujson

from mmcf.models.base import Recommender
from mmcf.mpd.errors import UserError
from mmcf.mpd.vocab import Vocab

from .pipeline.query import has_title, name_and_artist, recommend_rows

MAX_BODY = 1 << 20  # bytes of a POST body
MAX_SEEDS = 500
MAX_TITLE = 500  # characters
MAX_N = 500  # tracks a continuation may ask for (the challenge's 500)
MAX_LIMIT = 100  # tracks a search returns
RECOMMEND_FIELDS = ("title", "tracks", "n")


class RequestError(UserError):
    """A request the service refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RecommendRequest:
    title: str | None
    tracks: list[str]
    n: int = 20


def parse_recommend(body: bytes) -> RecommendRequest:
    """The JSON body of POST /recommend, checked field by field."""
    data = _json_object(body)
    unknown = sorted(set(data) - set(RECOMMEND_FIELDS))
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r} (fields: {', '.join(RECOMMEND_FIELDS)})")
    title, tracks = data.get("title"), data.get("tracks", [])
    if title is not None and not isinstance(title, str):
        raise RequestError(f"title: expected a string, got {_json_type(title)}")
    if title is not None and len(title) > MAX_TITLE:
        raise RequestError(f"title: {len(title)} characters, at most {MAX_TITLE} allowed")
    if tracks is None:
        tracks = []
    if not isinstance(tracks, list):
        raise RequestError(f"tracks: expected a list of track URIs, got {_json_type(tracks)}")
    if len(tracks) > MAX_SEEDS:
        raise RequestError(f"tracks: {len(tracks)} seed tracks, at most {MAX_SEEDS} allowed")
    for i, uri in enumerate(tracks):
        if not isinstance(uri, str):
            raise RequestError(f"tracks[{i}]: expected a track URI string, got {_json_type(uri)}")
    if not tracks and not has_title(title):
        raise RequestError("title, tracks: give a title, one or more tracks, or both")
    return RecommendRequest(title, tracks, bounded_int(data.get("n", 20), "n", MAX_N))


def bounded_int(value: Any, name: str, top: int) -> int:
    """An integer in 1..top (JSON 20 or 20.0; not true, "20" or 2.5)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{name}: expected an integer from 1 to {top}, got {_json_type(value)}")
    if not 1 <= value <= top:
        raise RequestError(f"{name}: {value} is outside 1–{top}")
    return value


def _json_object(body: bytes) -> dict:
    try:
        data = ujson.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError("body: not UTF-8 text") from None
    except ValueError as exc:
        raise RequestError(f"body: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RequestError(f"body: expected a JSON object, got {_json_type(data)}")
    return data


def _json_type(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    names = {
        bool: "a boolean",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


class TrackSearch:
    """Case-insensitive substring search over the
    vocabulary's track and artist names, most popular first.

    Names are case-folded once into one text of `name<TAB>artist` lines;
    a search is `str.find` over it.
    """

    def __init__(self, vocab: Vocab) -> None:
        lines = ["\t".join(name_and_artist(vocab, i)).casefold() for i in range(vocab.n_tracks)]
        self.text = "\n".join(lines) + "\n"
        self.starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]], dtype=np.int64)

    def find(self, text: str, limit: int) -> list[int]:
        """Ids of up to `limit` tracks whose name or artist contains `text` (every track for "")."""
        needle = text.casefold()
        if "\t" in needle or "\n" in needle:
            return []
        ids: list[int] = []
        pos = 0
        while (
            len(ids) < limit and pos < len(self.text) and (hit := self.text.find(needle, pos)) >= 0
        ):
            i = int(np.searchsorted(self.starts, hit, side="right")) - 1
            ids.append(i)
            pos = int(self.starts[i + 1]) if i + 1 < len(self.starts) else len(self.text)
        return ids


class Service:
    """One loaded model, read-only, answering any number of request threads."""

    def __init__(self, model: Recommender, kind: str) -> None:
        self.model, self.kind = model, kind
        self.search = TrackSearch(model.vocab)
        self.lock = threading.Lock()  # torch scoring is not guaranteed to be thread-safe

    def health(self) -> dict:
        return {"status": "ok", "model": self.kind, "tracks": self.model.vocab.n_tracks}

    def recommend(self, body: bytes) -> dict:
        request = parse_recommend(body)
        with self.lock:
            rows = recommend_rows(self.model, request.title, request.tracks, request.n)
        return {
            "tracks": [
                {"uri": r["uri"], "name": r["track"], "artist": r["artist"], "score": r["score"]}
                for r in rows
            ]
        }

    def tracks(self, params: Mapping[str, Sequence[str]]) -> dict:
        """GET /tracks?q=TEXT&limit=20: the first matches by popularity."""
        unknown = sorted(set(params) - {"q", "limit"})
        if unknown:
            raise RequestError(f"unknown parameter {unknown[0]!r} (parameters: q, limit)")
        text = params.get("q", [""])[-1]
        raw_limit = params.get("limit", ["20"])[-1]
        try:
            limit = int(raw_limit)
        except ValueError:
            raise RequestError(
                f"limit: expected an integer from 1 to {MAX_LIMIT}, got {raw_limit!r}"
            ) from None
        limit = bounded_int(limit, "limit", MAX_LIMIT)
        return {"tracks": [self._track(i) for i in self.search.find(text, limit)]}

    def _track(self, i: int) -> dict:
        name, artist = name_and_artist(self.model.vocab, i)
        return {"uri": self.model.vocab.track_uris[i], "name": name, "artist": artist}
