"""Parse MPD slices into compact tables, fast and in parallel, validated like `reader.read_slice`.

The fast path decodes with msgspec into typed structs (types and required fields checked in C) and
checks URIs in one regex run. Anything it rejects, or any slice when msgspec is not installed, goes
through the reference reader (ujson + `check_playlist`), so bad input fails with its own message.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import ujson

from .fingerprint import SourceDigest, digest_bytes
from .reader import read_slice

try:
    import msgspec
except ImportError:  # a dependency (setup.cfg); without it the reference reader parses every slice
    msgspec = None

WORKERS_ENV = "MMCF_READ_WORKERS"
MAX_WORKERS = 8  # each worker holds a whole parsed slice in memory; more is not measured
SEP = "\x00"
T, R = TypeVar("T"), TypeVar("R")
# reader.URI_PATTERN's `^...$` (`$` also matches before a final newline), over SEP-ended URIs
URI_RUN = {
    kind: re.compile(rf"(?:spotify:{kind}:[0-9A-Za-z]{{22}}\n?{SEP})*")
    for kind in ("track", "artist")
}


@dataclass
class SliceData:
    """One slice's playlists as local tables: its distinct tracks (first-seen order) and their ids.

    Strings travel between processes as a few long strings (cheap to pickle): URIs joined by NUL
    (validated URIs cannot hold it), names concatenated with offsets.
    """

    name: str
    size: int
    digest: str
    pids: list[int]
    titles: list[str]  # the playlist name, "" when absent
    lengths: list[int]
    uris: str  # the distinct track URIs, NUL-joined
    artists: str  # the artist URI of each distinct track (at its first occurrence), NUL-joined
    names: str  # track names, then artist names (first occurrence): each NUL-ended, or concatenated
    name_offsets: np.ndarray | None  # int64, 2 × tracks + 1, when a name holds a NUL; else None
    ids: (
        np.ndarray
    )  # int32 index into the distinct tracks of every occurrence, playlist by playlist

    def distinct(self) -> tuple[list[str], list[str]]:
        """Track URIs and their artist URIs."""
        return (self.uris.split(SEP), self.artists.split(SEP)) if len(self.ids) else ([], [])

    def names_of(self, rows: Sequence[int]) -> tuple[list[str], list[str]]:
        """Track names and artist names of some distinct tracks."""
        if self.name_offsets is None:
            names = self.names.split(SEP)
        else:
            bounds = self.name_offsets.tolist()
            names = [self.names[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        n = len(names) // 2
        return [names[i] for i in rows], [names[n + i] for i in rows]


if msgspec is not None:
    Int, Str = int | None, str | None

    class _Track(msgspec.Struct, gc=False):
        track_uri: str
        artist_uri: str
        track_name: str
        artist_name: str
        pos: Int = None
        album_uri: Str = None
        album_name: Str = None
        duration_ms: Int = None

    class _Playlist(msgspec.Struct, gc=False):
        pid: int
        tracks: list[_Track]
        name: Str = None
        description: Str = None
        collaborative: Str = None
        modified_at: Int = None
        num_tracks: Int = None
        num_albums: Int = None
        num_artists: Int = None
        num_followers: Int = None
        num_edits: Int = None
        duration_ms: Int = None

    class _Slice(msgspec.Struct, gc=False):
        playlists: list[_Playlist]

    SLICE_DECODER: Any = msgspec.json.Decoder(_Slice)


def read_slice_fast(path: Path, digest: SourceDigest) -> list[dict]:
    """A slice's playlists as plain dicts (unvalidated), msgspec's decode where it takes the file,
    else the reader's (which names what is wrong); `digest` records the file's bytes."""
    if msgspec is not None:
        try:
            raw, text = _read_bytes(path)
            playlists = msgspec.json.decode(text)["playlists"]
            if isinstance(playlists, list):
                digest.add(path.name, raw)
                return playlists
        except (OSError, EOFError, ValueError, KeyError, TypeError, msgspec.DecodeError):
            pass
    return read_slice(path, validate=False, digest=digest)


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII characters as they are (msgspec: ~3.5× ujson's dumps)."""
    if msgspec is not None:
        return msgspec.json.encode(value)
    return ujson.dumps(value, ensure_ascii=False).encode("utf-8")


def parse_slice(path: Path) -> SliceData:
    """The compact tables of one slice file; raises the reader's DataError/UserError if bad."""
    if msgspec is not None:
        try:
            return _parse_fast(path)
        except (OSError, EOFError, ValueError, msgspec.DecodeError):
            pass  # the reference reader decides, and names the problem
    digest = SourceDigest()
    playlists = read_slice(path, validate=True, digest=digest)
    size, hexdigest = digest.files[path.name]
    return _compact(path.name, size, hexdigest, playlists, structs=False)


def _read_bytes(path: Path) -> tuple[bytes, bytes]:
    """The file's bytes as stored (what the fingerprint digests) and as JSON text (gunzipped)."""
    raw = path.read_bytes()
    return raw, gzip.decompress(raw) if path.suffix == ".gz" else raw


def _parse_fast(path: Path) -> SliceData:
    raw, text = _read_bytes(path)
    playlists = SLICE_DECODER.decode(text).playlists
    if not all(p.tracks for p in playlists):
        raise ValueError("a playlist has no tracks")
    return _compact(path.name, len(raw), digest_bytes(raw), playlists, structs=True)


def _compact(
    name: str, size: int, digest: str, playlists: Sequence[Any], structs: bool
) -> SliceData:
    """Local tables of parsed playlists (msgspec structs or dicts); a distinct track keeps the
    fields of its first occurrence. Structs (not yet validated) have their URIs checked."""
    get = attrgetter if structs else itemgetter
    lists = list(map(get("tracks"), playlists))
    flat = [t for tracks in lists for t in tracks]
    uris = list(map(get("track_uri"), flat))
    index = dict.fromkeys(uris)  # first-seen order
    index = dict(zip(index, range(len(index))))
    ids = np.fromiter(map(index.__getitem__, uris), dtype=np.int32, count=len(uris))
    firsts = [flat[i] for i in np.unique(ids, return_index=True)[1].tolist()]
    artists = list(map(get("artist_uri"), firsts))
    if structs and not (
        _all_match("track", index) and _all_match("artist", set(map(get("artist_uri"), flat)))
    ):
        raise ValueError("a malformed URI")
    names = [*map(get("track_name"), firsts), *map(get("artist_name"), firsts)]
    return SliceData(
        name,
        size,
        digest,
        list(map(get("pid"), playlists)),
        [(p.name if structs else p.get("name")) or "" for p in playlists],
        [len(tracks) for tracks in lists],
        SEP.join(index),
        SEP.join(artists),
        *_join(names),
        ids,
    )


def _join(names: list[str]) -> tuple[str, np.ndarray | None]:
    """Names as one string: NUL-joined (split in C) unless a name holds a NUL, then with offsets."""
    text = "".join(name + SEP for name in names)
    if text.count(SEP) == len(names):
        return text[:-1], None
    return "".join(names), np.cumsum([0, *map(len, names)], dtype=np.int64)


def _all_match(kind: str, uris: Iterable[str]) -> bool:
    """Does every URI (of a non-empty set) pass `reader.URI_PATTERN[kind]`? One regex run."""
    return URI_RUN[kind].fullmatch(SEP.join(uris) + SEP) is not None


def workers(files: int) -> int:
    """Processes to use: $MMCF_READ_WORKERS, else one per usable core (at most MAX_WORKERS); 0 (one
    process or one file) means this process."""
    wanted = os.environ.get(WORKERS_ENV)
    if wanted:
        count = int(wanted)
    else:
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        count = min(MAX_WORKERS, len(cores) if cores else os.cpu_count() or 1)
    return 0 if count <= 1 or files <= 1 else min(count, files)


def parse_all(files: Sequence[Path]) -> Iterator[SliceData]:
    """Parse the slices in a process pool (see `in_order`), yielding in file order."""
    return in_order(parse_slice, files)


def in_order(function: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """`map(function, items)` in a process pool ($MMCF_READ_WORKERS), results in order.

    Workers are forked (as torch's DataLoader does on Linux: no re-import of the main script, and
    they start no threads but a watchdog), spawned where fork does not exist; a worker whose parent
    is gone (killed) exits instead of waiting for work forever.
    """
    count = workers(len(items))
    if not count:
        yield from map(function, items)
        return
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    with warnings.catch_warnings():  # Python ≥ 3.12 warns on fork beside threads; ours start none
        warnings.simplefilter("ignore", DeprecationWarning)
        pool = ProcessPoolExecutor(
            count, get_context(method), initializer=_watch_parent, initargs=(os.getpid(),)
        )
        results = pool.map(function, items)
    try:
        yield from results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _watch_parent(parent: int) -> None:
    """In a worker: exit as soon as the process that made the pool is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
