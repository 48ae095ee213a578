"""Stream playlists from MPD slice files, validating the schema as they go."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Any, Iterator

import ujson

from .atomic import open_text
from .errors import DataError, UserError, quoted
from .fingerprint import SourceDigest

SLICE_PATTERN = re.compile(r"^mpd\.slice\.(\d+)-(\d+)\.json(\.gz)?$")
URI_PATTERN = {
    kind: re.compile(rf"^spotify:{kind}:[0-9A-Za-z]{{22}}$")
    for kind in ("track", "artist", "album")
}
TRACK_FIELDS: dict[str, type] = {
    "track_uri": str,
    "artist_uri": str,
    "track_name": str,
    "artist_name": str,
}
OPTIONAL_TRACK_FIELDS: dict[str, type] = {
    "pos": int,
    "album_uri": str,
    "album_name": str,
    "duration_ms": int,
}
PLAYLIST_FIELDS: dict[str, type] = {"pid": int, "tracks": list}
OPTIONAL_PLAYLIST_FIELDS: dict[str, type] = {
    "name": str,
    "description": str,
    "collaborative": str,
    "modified_at": int,
    "num_tracks": int,
    "num_albums": int,
    "num_artists": int,
    "num_followers": int,
    "num_edits": int,
    "duration_ms": int,
}


def slice_files(path: str | Path) -> list[Path]:
    """The slice files of an MPD directory in pid order (or the one file given)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if not path.is_dir():
        raise UserError(f"{path}: not a file or directory")
    found = [(int(m.group(1)), p) for p in path.iterdir() if (m := SLICE_PATTERN.match(p.name))]
    if not found:
        raise UserError(f"{path}: no MPD slice files (mpd.slice.A-B.json) in this directory")
    return [p for _, p in sorted(found)]


def load_json(path: str | Path, digest: SourceDigest | None = None) -> Any:
    """Parse one JSON file (gzipped if `.gz`), turning every read or parse failure into a DataError
    naming the file; `digest` records the file's bytes as they are read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if digest is not None:
            digest.add(path.name, raw)
        return ujson.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(path, f"truncated or corrupt gzip file ({exc})") from None
    except (ValueError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise DataError(
            path, f"not valid JSON ({exc})", line=_syntax_error_line(path, exc)
        ) from None


def _syntax_error_line(path: str | Path, exc: Exception) -> int | None:
    """The line of a JSON syntax error: ujson does not say, so re-parse (only on failure) with the
    stdlib."""
    if not isinstance(exc, ujson.JSONDecodeError):
        return None
    try:
        with open_text(path) as f:
            json.load(f)
    except json.JSONDecodeError as err:
        return err.lineno
    except (ValueError, EOFError, OSError):
        pass
    return None


def _check_fields(obj: Any, required: dict, optional: dict, path, pid, what: str) -> None:
    if not isinstance(obj, dict):
        raise DataError(path, f"{what} is not a JSON object", pid)
    for name, kind in required.items():
        if name not in obj:
            raise DataError(path, f"{what} has no '{name}'", pid)
    for name, kind in {**required, **optional}.items():
        value = obj.get(name)
        if value is None and name in optional:
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DataError(
                path,
                f"{what} field '{name}' should be {kind.__name__}, got {quoted(value, 40)}",
                pid,
            )


def check_track(track: Any, path, pid, index: int) -> None:
    """Validate one track object of a playlist or challenge set."""
    what = f"track {index}"
    _check_fields(track, TRACK_FIELDS, OPTIONAL_TRACK_FIELDS, path, pid, what)
    for kind in ("track", "artist"):
        uri = track[f"{kind}_uri"]
        if not URI_PATTERN[kind].match(uri):
            raise DataError(path, f"{what} has a malformed {kind}_uri {quoted(uri, 60)}", pid)


def check_playlist(playlist: Any, path, index: int | None = None) -> None:
    """Validate one MPD playlist: required fields, types, URIs, non-empty; `index` names it when it
    has no pid."""
    pid = playlist.get("pid") if isinstance(playlist, dict) else None
    what = f"playlist #{index}" if pid is None and index is not None else "playlist"
    _check_fields(playlist, PLAYLIST_FIELDS, OPTIONAL_PLAYLIST_FIELDS, path, pid, what)
    if not playlist["tracks"]:
        raise DataError(path, "playlist has no tracks", pid)
    for i, track in enumerate(playlist["tracks"]):
        check_track(track, path, pid, i)


def read_slice(path: Path, validate: bool = True, digest: SourceDigest | None = None) -> list[dict]:
    """All playlists of one slice file."""
    data = load_json(path, digest)
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise DataError(path, "expected an object with a 'playlists' list (is this an MPD slice?)")
    if validate:
        for index, playlist in enumerate(data["playlists"]):
            check_playlist(playlist, path, index)
    return data["playlists"]


def read_playlists(
    path: str | Path, validate: bool = True, digest: SourceDigest | None = None
) -> Iterator[dict]:
    """Stream every playlist of an MPD directory (slice order) or one slice file; pids must be
    unique."""
    seen: set[int] = set()
    for file in slice_files(path):
        for playlist in read_slice(file, validate, digest):
            pid = playlist["pid"]
            if pid in seen:
                raise DataError(file, "duplicate pid (already seen in an earlier playlist)", pid)
            seen.add(pid)
            yield playlist


def count_playlists(path: str | Path) -> int:
    """Number of playlists, from slice names when they follow MPD's naming, else by reading."""
    files = slice_files(path)
    names = [SLICE_PATTERN.match(f.name) for f in files]
    if all(names):
        return sum(int(m.group(2)) - int(m.group(1)) + 1 for m in names)
    return sum(len(read_slice(f, validate=False)) for f in files)
