"""The binary corpus cache (mpd.cache): a hit gives exactly what reading the JSON gives, a change
to the slice files is noticed, a killed write leaves no entry, the MPD directory is not written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make_playlists, write_mpd
from mmcf.mpd import cache
from mmcf.mpd.dataset import from_playlists, load_training
from mmcf.mpd.errors import DataError
from mmcf.mpd.fingerprint import SourceDigest
from mmcf.mpd.matrix import record_all
from mmcf.mpd.reader import read_playlists
from mmcf.mpd.split import ValidationConfig, split_mpd

REPO = Path(__file__).resolve().parents[1]
CARVE = ValidationConfig(per_category=2)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MMCF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MMCF_READ_WORKERS", "2")  # the process pool, even on a one-core machine
    return tmp_path / "cache"


def entries(cache_dir: Path) -> list[Path]:
    return sorted(p.parent for p in cache_dir.glob("*/*/manifest.json"))


def from_json(path: Path):
    """The reference: stream the JSON through the reader, as before the cache."""
    digest = SourceDigest()
    data = from_playlists(read_playlists(path, digest=digest), validation=CARVE)
    data.source = digest.summary()
    return data


def assert_same(a, b) -> None:
    assert a.source == b.source
    assert a.vocab.track_uris == b.vocab.track_uris and a.vocab.artist_uris == b.vocab.artist_uris
    assert a.vocab.track_names == b.vocab.track_names
    assert a.vocab.track_artist_uris == b.vocab.track_artist_uris
    assert a.vocab.artist_names == b.vocab.artist_names
    assert np.array_equal(a.vocab.track_counts, b.vocab.track_counts)
    assert np.array_equal(a.vocab.artist_counts, b.vocab.artist_counts)
    assert a.vocab.fill_uris == b.vocab.fill_uris
    assert np.array_equal(a.corpus.pids, b.corpus.pids) and a.corpus.titles == b.corpus.titles
    assert np.array_equal(a.corpus.indptr, b.corpus.indptr)
    assert np.array_equal(a.corpus.track_ids, b.corpus.track_ids)
    assert a.validation.entries == b.validation.entries
    assert a.validation.answers == b.validation.answers


def no_parsing(monkeypatch) -> None:
    """Fail the test if the JSON is parsed again."""

    def fail(*args, **kwargs):
        raise AssertionError("parsed the JSON although the cache should have been used")

    monkeypatch.setattr(cache, "_build", fail)


def test_hit_gives_the_same_corpus_vocab_and_fingerprint(tiny_mpd, cache_dir, monkeypatch):
    reference = from_json(tiny_mpd)
    first = load_training(tiny_mpd, validation=CARVE)
    assert len(entries(cache_dir)) == 1
    no_parsing(monkeypatch)
    again = load_training(tiny_mpd, validation=CARVE)
    assert_same(first, reference)
    assert_same(again, reference)
    given = load_training(tiny_mpd, vocab=first.vocab, validation=first.validation)
    assert np.array_equal(given.corpus.track_ids, first.corpus.track_ids)


def test_split_and_evaluate_read_the_cache(tiny_mpd, tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("MMCF_CACHE_DIR", "off")
    reference = split_mpd(tiny_mpd, tmp_path / "plain", per_category=3, seed=0)
    plain_artists = cache.stream_track_artists(tiny_mpd)
    monkeypatch.setenv("MMCF_CACHE_DIR", str(cache_dir))
    load_training(tiny_mpd)  # fills the cache
    no_parsing(monkeypatch)
    paths = split_mpd(tiny_mpd, tmp_path / "cached", per_category=3, seed=0)
    for key in ("challenge", "answers"):
        assert paths[key].read_bytes() == reference[key].read_bytes()
    for file in reference["train"].iterdir():
        assert (paths["train"] / file.name).read_bytes() == file.read_bytes()
    settings = [
        json.loads((p / "split.json").read_text())
        for p in (tmp_path / "plain", tmp_path / "cached")
    ]
    assert settings[0] == settings[1]
    assert cache.track_artists(tiny_mpd) == plain_artists


def test_disabled_cache_writes_nothing(tiny_mpd, tmp_path, monkeypatch):
    monkeypatch.setenv("MMCF_CACHE_DIR", "off")
    assert cache.cache_root() is None
    assert_same(load_training(tiny_mpd, validation=CARVE), from_json(tiny_mpd))
    monkeypatch.delenv("MMCF_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "mmcf" / "corpus"
    monkeypatch.setenv("MMCF_CACHE_DIR", " ")  # set but empty: the default, not the working dir
    assert cache.cache_root() == tmp_path / "xdg" / "mmcf" / "corpus"


def put(target: Path, playlists: list[dict]) -> None:
    """Write `playlists` as the slice file `target` (replacing it if it exists)."""
    made = write_mpd(target.parent / "made", playlists, per_slice=len(playlists))
    next(made.iterdir()).replace(target)
    made.rmdir()


@pytest.mark.parametrize("change", ["content", "same_size_and_mtime", "added", "removed"])
def test_a_changed_directory_is_read_again(tmp_path, cache_dir, change):
    playlists = make_playlists(300)
    mpd = write_mpd(tmp_path / "mpd", playlists, per_slice=100)
    load_training(mpd, validation=CARVE)
    second = mpd / "mpd.slice.100-199.json"
    if change == "content":
        put(second, make_playlists(100, seed=7, first_pid=100))
    elif change == "same_size_and_mtime":
        raw, stat = second.read_bytes(), second.stat()
        swapped = raw.replace(b"Rock Anthems", b"Rock Anthemz", 1)
        assert swapped != raw and len(swapped) == len(raw)
        second.write_bytes(swapped)
        os.utime(second, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as cp -p / rsync -t would
    elif change == "added":
        put(mpd / "mpd.slice.300-399.json", make_playlists(100, seed=3, first_pid=300))
    else:
        (mpd / "mpd.slice.200-299.json").unlink()
    after = load_training(mpd, validation=CARVE)
    assert_same(after, from_json(mpd))
    assert len(entries(cache_dir)) == 1  # the stale entry is replaced, not kept beside


KILLED_WRITE = """
import contextlib, os, signal, sys
from mmcf.mpd import cache
written = []
@contextlib.contextmanager
def write(path, *args):
    written.append(path)
    if len(written) == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    with real(path, *args) as f:
        yield f
real, cache.atomic_write = cache.atomic_write, write
cache.load_corpus(sys.argv[1])
"""


def test_a_killed_write_leaves_no_entry(tiny_mpd, cache_dir, monkeypatch):
    process = subprocess.run(
        [sys.executable, "-c", KILLED_WRITE, str(tiny_mpd)], cwd=REPO, capture_output=True
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()[-2000:]
    assert entries(cache_dir) == []
    (parent,) = cache_dir.iterdir()
    assert [p.name.startswith(".tmp-") for p in parent.iterdir()] == [True]
    assert_same(load_training(tiny_mpd, validation=CARVE), from_json(tiny_mpd))
    assert [p.name for p in parent.iterdir()] == [entries(cache_dir)[0].name]  # temp removed


def test_a_read_only_mpd_directory(tiny_mpd, cache_dir, monkeypatch):
    before = sorted(p.name for p in tiny_mpd.iterdir())
    for path in tiny_mpd.iterdir():
        path.chmod(0o444)
    tiny_mpd.chmod(0o555)
    try:
        first = load_training(tiny_mpd, validation=CARVE)
        no_parsing(monkeypatch)
        assert_same(load_training(tiny_mpd, validation=CARVE), first)
        assert sorted(p.name for p in tiny_mpd.iterdir()) == before
    finally:
        tiny_mpd.chmod(0o755)
    assert len(entries(cache_dir)) == 1 and tiny_mpd not in entries(cache_dir)[0].parents


def reader_error(path: Path) -> str:
    with pytest.raises(DataError) as raised:
        list(read_playlists(path))
    return str(raised.value)


@pytest.mark.parametrize("bad", ["uri", "duplicate", "both", "same_slice"])
def test_bad_input_fails_from_the_pool_as_from_the_reader(tmp_path, cache_dir, bad):
    playlists = make_playlists(400)
    if bad in ("uri", "both"):
        playlists[350]["tracks"][3]["artist_uri"] = "spotify:artist:nope"
    if bad in ("duplicate", "both"):
        playlists[250]["pid"] = playlists[120]["pid"]
    if bad == "same_slice":
        playlists[130]["pid"] = playlists[120]["pid"]
    mpd = write_mpd(tmp_path / "mpd", playlists, per_slice=100)
    expected = reader_error(mpd)
    for _ in range(2):  # a recorded duplicate is in the entry: the hit fails alike
        with pytest.raises(DataError) as raised:
            load_training(mpd)
        assert str(raised.value) == expected
    assert len(entries(cache_dir)) == (bad in ("duplicate", "same_slice"))


@pytest.mark.parametrize("workers", ["0", "3"])
def test_without_msgspec_or_a_pool_the_result_is_the_same(
    tiny_mpd, cache_dir, monkeypatch, workers
):
    from mmcf.mpd import parse

    monkeypatch.setenv("MMCF_CACHE_DIR", "off")
    monkeypatch.setenv("MMCF_READ_WORKERS", workers)
    fast = cache.load_corpus(tiny_mpd)
    monkeypatch.setattr(parse, "msgspec", None)  # the reference reader parses every slice
    plain = cache.load_corpus(tiny_mpd)
    assert fast.source == plain.source and fast.slices == plain.slices
    assert_same_recorder(fast.recorder, plain.recorder)
    assert np.array_equal(fast.occurrences, plain.occurrences)


def assert_same_recorder(a, b) -> None:
    assert (a.pids, a.titles, a.track_ids) == (b.pids, b.titles, b.track_ids)
    assert (a.track_names, a.track_artist) == (b.track_names, b.track_artist)
    assert (a.artist_ids, a.artist_names) == (b.artist_ids, b.artist_names)
    assert all(np.array_equal(x, y) for x, y in zip(a.chunks, b.chunks, strict=True))


def test_first_occurrences_win_as_in_the_reader(tmp_path, cache_dir):
    """Names and artists that differ between occurrences of one URI: the first one seen is kept."""
    playlists = make_playlists(300)
    for number, playlist in enumerate(playlists):
        for track in playlist["tracks"][::3]:
            track["track_name"] += f" (take {number})"
            track["artist_name"] += f" ({number})"
        if number % 4 == 1:
            playlist["tracks"][0]["artist_uri"] = playlists[0]["tracks"][1]["artist_uri"]
    mpd = write_mpd(tmp_path / "mpd", playlists, per_slice=100)
    assert_same_recorder(cache.load_corpus(mpd).recorder, record_all(read_playlists(mpd)))


def test_names_with_nul_characters_survive_the_cache(tmp_path, cache_dir, monkeypatch):
    playlists = make_playlists(200)
    playlists[3]["name"] = "nul\x00title"
    playlists[5]["tracks"][0]["track_name"] = "nul\x00name 🤘"
    mpd = write_mpd(tmp_path / "mpd", playlists, per_slice=100)
    reference = record_all(read_playlists(mpd))
    assert_same_recorder(cache.load_corpus(mpd).recorder, reference)
    no_parsing(monkeypatch)
    assert_same_recorder(cache.load_corpus(mpd).recorder, reference)
