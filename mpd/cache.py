"""Read an MPD directory's JSON once: later reads load a compact corpus of memory-mapped arrays.

Where: $MMCF_CACHE_DIR, else $XDG_CACHE_HOME/mmcf/corpus, else ~/.cache/mmcf/corpus (the MPD
directory itself is never written, so it may be read-only); MMCF_CACHE_DIR=off disables the cache
(reads still parse in parallel). One entry per input: ROOT/<name>-<hash of its resolved path>/<hash
of the stats>/ with .npy arrays and manifest.json, built in a temp directory and renamed into place
whole, so a killed write leaves no entry (a later write removes its temp directory).

When an entry is used: the slice names (in order) and each file's size, mtime_ns and ctime_ns equal
those recorded. The content digest that outputs are fingerprinted with is then taken from the
manifest, where the first read recorded it from the bytes it parsed; it is not recomputed. ctime
cannot be set back by tools that keep mtime (cp -p, rsync -t), so a same-size edit is noticed too.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ujson
from tqdm import tqdm

from .atomic import atomic_write, process_alive
from .errors import DataError, UserError
from .fingerprint import SourceDigest, digest_json, digest_text
from .matrix import CorpusRecorder, distinct_counts
from .parse import SliceData, parse_all
from .reader import count_playlists, read_playlists, slice_files

log = logging.getLogger(__name__)
CACHE_ENV = "MMCF_CACHE_DIR"
OFF = {"off", "none", "0", "false", "no"}
FORMAT = 2
MANIFEST = "manifest.json"
STRINGS = ("titles", "track_uris", "track_names", "artist_uris", "artist_names")
TEMP = re.compile(r"\.tmp-(\d+)-\w+")
SEP = "\x00"


@dataclass
class CachedCorpus:
    """Every playlist of a slice directory as recorded ids, with the fingerprint and the layout."""

    recorder: CorpusRecorder
    occurrences: (
        np.ndarray
    )  # int32 provisional track id of every occurrence, playlist after playlist
    offsets: np.ndarray  # int64, len(playlists) + 1
    source: dict  # SourceDigest.summary() of the slice files
    slices: list[tuple[str, int]]  # (file name, playlists) in file order
    duplicate: tuple[int, int] | None  # (slice number, pid) of the first repeated pid

    def where(self) -> list[tuple[int, int]]:
        """(slice number, index within the slice) of every playlist."""
        return [(number, i) for number, (_, n) in enumerate(self.slices) for i in range(n)]

    def check_unique(self, files: list[Path]) -> None:
        if self.duplicate is not None:
            raise _duplicate_error(files, self.duplicate)


def _duplicate_error(files: list[Path], duplicate: tuple[int, int]) -> DataError:
    """The reader's error for a repeated pid."""
    number, pid = duplicate
    return DataError(files[number], "duplicate pid (already seen in an earlier playlist)", pid)


def cache_root() -> Path | None:
    """The cache directory, or None when disabled."""
    chosen = os.environ.get(CACHE_ENV, "").strip()
    if chosen:  # set but empty: the default, not the working directory
        return None if chosen.lower() in OFF else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmcf" / "corpus"


def file_stats(files: list[Path]) -> list[list]:
    """[name, size, mtime_ns, ctime_ns] of each file: what an entry is validated by."""
    stats = []
    for file in files:
        st = file.stat()
        stats.append([file.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns])
    return stats


def entry_dir(path: str | Path, stats: list[list]) -> Path | None:
    root = cache_root()
    if root is None:
        return None
    resolved = Path(path).resolve()
    return root / f"{resolved.name}-{digest_text(str(resolved))[:12]}" / digest_json(stats)[:20]


def load_corpus(
    path: str | Path, validate: bool = True, unique: bool = True
) -> CachedCorpus | None:
    """The corpus of `path` from the cache, else parsed (validated) and cached; None when it fails
    validation but `validate` is False (the caller then streams the JSON unvalidated, as before)."""
    files = slice_files(path)
    stats = file_stats(files)
    entry = entry_dir(path, stats)
    corpus = _load(entry, stats) if entry is not None else None
    if corpus is None:
        try:
            corpus = _build(files, count_playlists(path), unique)
        except UserError:
            if validate:
                raise
            return None
        if entry is not None and file_stats(files) == stats:
            _save(corpus, entry, stats)
    if unique:
        corpus.check_unique(files)
    return corpus


def _build(files: list[Path], total: int, unique: bool) -> CachedCorpus:
    """Parse every slice (in parallel, in order) into one recorder, as `record_all` records them."""
    recorder, digest = CorpusRecorder(), SourceDigest()
    chunks, lengths, slices, seen, duplicate = [], [], [], set(), None
    bar = tqdm(total=total, desc="reading", unit=" playlists", unit_scale=True, leave=False)
    parts = parse_all(files)
    try:
        for number in range(len(files)):
            try:
                part = next(parts)
            except UserError:
                if unique and duplicate is not None:  # the reader would have stopped there first
                    raise _duplicate_error(files, duplicate) from None
                raise
            local = np.array(_track_ids(recorder, part) or [0], np.int32)
            chunks.append(local[part.ids] if len(part.ids) else part.ids)
            recorder.pids += part.pids
            recorder.titles += part.titles
            here = set(part.pids)
            if duplicate is None and (len(here) < len(part.pids) or not seen.isdisjoint(here)):
                duplicate = (number, _first_repeat(seen, part.pids))
            seen |= here
            digest.files[part.name] = [part.size, part.digest]
            slices.append((part.name, len(part.pids)))
            lengths += part.lengths
            bar.update(len(part.pids))
    finally:
        parts.close()
        bar.close()
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    occurrences = np.concatenate(chunks) if chunks else np.zeros(0, np.int32)
    recorder.chunks = np.split(occurrences, offsets[1:-1]) if lengths else []
    return CachedCorpus(recorder, occurrences, offsets, digest.summary(), slices, duplicate)


def _track_ids(recorder: CorpusRecorder, part: SliceData) -> list[int]:
    """Provisional ids of a slice's distinct tracks, registering those new to the recorder."""
    uris, artists = part.distinct()
    ids = list(map(recorder.track_ids.get, uris))
    new = [i for i, known in enumerate(ids) if known is None]
    if not new:
        return ids
    start = len(recorder.track_names)
    names, artist_names = part.names_of(new)
    recorder.add_tracks([uris[i] for i in new], names, [artists[i] for i in new], artist_names)
    for number, i in enumerate(new, start):
        ids[i] = number
    return ids


def _first_repeat(seen: set[int], pids: list[int]) -> int:
    here: set[int] = set()
    for pid in pids:
        if pid in seen or pid in here:
            return pid
        here.add(pid)
    raise AssertionError("no repeated pid")


def _save(corpus: CachedCorpus, entry: Path, stats: list[list]) -> None:
    """Write the entry in a temp directory, then rename it into place; a failure costs the cache."""
    tmp = entry.parent / f".tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(entry.parent, keep=entry.name)
        tmp.mkdir()
        rec = corpus.recorder
        arrays = {
            "pids": np.array(rec.pids, dtype=np.int64),
            "offsets": corpus.offsets,
            "occurrences": corpus.occurrences.astype(np.int32, copy=False),
            "track_artist": np.array(rec.track_artist, dtype=np.int32),
        }
        strings = (rec.titles, list(rec.track_ids), rec.track_names, list(rec.artist_ids))
        nul_ended = []  # tables without NUL characters: each string NUL-ended (split in C)
        for name, values in zip(STRINGS, (*strings, rec.artist_names)):
            text = "".join(v + SEP for v in values)
            if text.count(SEP) == len(values):
                nul_ended.append(name)
            else:
                text = "".join(values)
            arrays[name] = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
            arrays[name + ".offsets"] = np.cumsum([0, *map(len, values)], dtype=np.int64)
        for name, array in arrays.items():
            with atomic_write(tmp / f"{name}.npy", "wb") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
        manifest = {
            "format": FORMAT,
            "stats": stats,
            "source": corpus.source,
            "slices": corpus.slices,
            "duplicate": corpus.duplicate,
            "nul_ended": nul_ended,
        }
        with atomic_write(tmp / MANIFEST) as f:
            ujson.dump(manifest, f)
        os.rename(tmp, entry)
        log.info("corpus cache written: %s", entry)
    except (OSError, UserError) as exc:
        if not (entry / MANIFEST).is_file():  # else another process wrote the same entry first
            log.warning("corpus cache not written (%s); later reads parse the JSON again", exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale(parent: Path, keep: str) -> None:
    """Remove older entries of this input and temp directories whose writer is gone."""
    for child in parent.iterdir():
        temp = TEMP.fullmatch(child.name)
        if child.name != keep and (not temp or not process_alive(int(temp.group(1)))):
            shutil.rmtree(child, ignore_errors=True)


def _load(entry: Path, stats: list[list]) -> CachedCorpus | None:
    """The entry's corpus if it is complete and its stats match, else None."""
    if not (entry / MANIFEST).is_file():
        return None
    try:
        manifest = ujson.loads((entry / MANIFEST).read_bytes())
        if manifest.get("format") != FORMAT or manifest.get("stats") != stats:
            return None
        arrays = {
            p.name[: -len(".npy")]: np.load(p, mmap_mode="r", allow_pickle=False)
            for p in entry.glob("*.npy")
        }
        titles, track_uris, track_names, artist_uris, artist_names = (
            _strings(arrays[name], arrays[name + ".offsets"], name in manifest["nul_ended"])
            for name in STRINGS
        )
    except (OSError, ValueError, KeyError) as exc:
        log.warning("corpus cache %s unreadable (%s); reading the JSON", entry, exc)
        return None
    rec = CorpusRecorder()
    rec.track_ids = dict(zip(track_uris, range(len(track_uris))))
    rec.artist_ids = dict(zip(artist_uris, range(len(artist_uris))))
    rec.track_names, rec.artist_names, rec.titles = track_names, artist_names, titles
    rec.track_artist = arrays["track_artist"].tolist()
    rec.pids = arrays["pids"].tolist()
    offsets, occurrences = np.asarray(arrays["offsets"]), np.asarray(arrays["occurrences"])
    rec.chunks = np.split(occurrences, offsets[1:-1]) if len(rec.pids) else []
    slices = [(name, count) for name, count in manifest["slices"]]
    duplicate = tuple(manifest["duplicate"]) if manifest["duplicate"] else None
    log.info("corpus cache loaded: %s", entry)
    return CachedCorpus(rec, occurrences, offsets, manifest["source"], slices, duplicate)


def _strings(blob: np.ndarray, offsets: np.ndarray, nul_ended: bool) -> list[str]:
    text = blob.tobytes().decode("utf-8", "surrogatepass")
    if nul_ended:
        return text.split(SEP)[:-1]
    bounds = offsets.tolist()
    return [text[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def track_artists(mpd_dir: str | Path) -> tuple[dict[str, str], dict[str, int]]:
    """Track → artist and track → playlist count over a training MPD (artist credit, coverage)."""
    corpus = load_corpus(mpd_dir, validate=False)
    if corpus is None:
        return stream_track_artists(mpd_dir)
    rec = corpus.recorder
    artist_uris = list(rec.artist_ids)
    artist_of = {uri: artist_uris[a] for uri, a in zip(rec.track_ids, rec.track_artist)}
    counts = distinct_counts(corpus.occurrences, corpus.offsets, len(rec.track_ids))
    return artist_of, dict(zip(rec.track_ids, counts.tolist()))


def stream_track_artists(mpd_dir: str | Path) -> tuple[dict[str, str], dict[str, int]]:
    """The same from the JSON, unvalidated (for data the validating reader refuses)."""
    artist_of: dict[str, str] = {}
    count: dict[str, int] = {}
    stream = read_playlists(mpd_dir, validate=False)
    for playlist in tqdm(
        stream,
        total=count_playlists(mpd_dir),
        desc="artists",
        unit=" playlists",
        unit_scale=True,
        leave=False,
    ):
        for uri in {t["track_uri"] for t in playlist["tracks"]}:
            count[uri] = count.get(uri, 0) + 1
        for t in playlist["tracks"]:
            artist_of.setdefault(t["track_uri"], t["artist_uri"])
    return artist_of, count
