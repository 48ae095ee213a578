"""The synthetic MPD generator: schema, determinism, slices, shape, order, titles, resuming."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import ujson

from mmcf.mpd.errors import UserError
from mmcf.mpd.reader import check_playlist, read_playlists
from mmcf.mpd.reader import OPTIONAL_PLAYLIST_FIELDS, PLAYLIST_FIELDS
from mmcf.mpd.synth import (
    CONTEXT_INDEX,
    CONTEXTS,
    GENRE_INDEX,
    GENRES,
    SynthConfig,
    generate,
    synthetic_playlists,
    theme_title,
)

SMALL = SynthConfig(universe_playlists=20_000)  # a 2 %-sized catalogue: quick to build
URI = {
    kind: re.compile(rf"^spotify:{kind}:[0-9A-Za-z]{{22}}$")
    for kind in ("track", "artist", "album")
}
PLAYLIST_TYPES = {  # every field of a real MPD playlist (the reader's schema); description optional
    name: kind
    for name, kind in {**PLAYLIST_FIELDS, **OPTIONAL_PLAYLIST_FIELDS}.items()
    if name != "description"
}
TRACK_TYPES = {
    "pos": int,
    "track_uri": str,
    "track_name": str,
    "artist_uri": str,
    "artist_name": str,
    "album_uri": str,
    "album_name": str,
    "duration_ms": int,
}


@pytest.fixture(scope="module")
def playlists() -> list[dict]:
    return list(synthetic_playlists(3000, seed=7, config=SMALL))


def test_schema(playlists):
    assert [p["pid"] for p in playlists] == list(range(len(playlists)))
    for p in playlists:
        check_playlist(p, "synthetic")
        assert set(p) - {"description"} == set(PLAYLIST_TYPES)
        for name, kind in PLAYLIST_TYPES.items():
            assert type(p[name]) is kind, (name, p[name])
        assert p["collaborative"] in ("true", "false")
        tracks = p["tracks"]
        assert p["num_tracks"] == len(tracks)
        assert p["num_artists"] == len({t["artist_uri"] for t in tracks})
        assert p["num_albums"] == len({t["album_uri"] for t in tracks})
        assert p["duration_ms"] == sum(t["duration_ms"] for t in tracks)
        assert [t["pos"] for t in tracks] == list(range(len(tracks)))
        for t in tracks:
            assert set(t) == set(TRACK_TYPES) and all(
                type(t[k]) is v for k, v in TRACK_TYPES.items()
            )
            assert all(URI[kind].match(t[f"{kind}_uri"]) for kind in URI)
    described = sum("description" in p for p in playlists) / len(playlists)
    assert 0.005 < described < 0.05
    assert 0.005 < sum(p["collaborative"] == "true" for p in playlists) / len(playlists) < 0.06


def test_catalogue_is_consistent(playlists):
    """A track always has the same name, artist and album; an artist always the same name."""
    track, artist = {}, {}
    for p in playlists:
        for t in p["tracks"]:
            fields = (
                t["track_name"],
                t["artist_uri"],
                t["album_uri"],
                t["album_name"],
                t["duration_ms"],
            )
            assert track.setdefault(t["track_uri"], fields) == fields
            assert artist.setdefault(t["artist_uri"], t["artist_name"]) == t["artist_name"]


def test_lengths_artists_albums(playlists):
    lengths = np.array([len(p["tracks"]) for p in playlists])
    assert lengths.min() >= 5 and lengths.max() <= 250
    assert 58 < lengths.mean() < 75 and np.median(lengths) < lengths.mean()  # right-skewed like MPD
    assert min(p["num_artists"] for p in playlists) >= 3
    assert min(p["num_albums"] for p in playlists) >= 2
    repeats = sum(len(p["tracks"]) - len({t["track_uri"] for t in p["tracks"]}) for p in playlists)
    assert repeats / lengths.sum() < 0.01


def test_heavy_tail(playlists):
    counts = np.array(
        sorted(Counter(t["track_uri"] for p in playlists for t in p["tracks"]).values())
    )
    assert np.mean(counts == 1) > 0.4  # most distinct tracks are rare ...
    assert counts[-1] > 50 * np.median(counts)  # ... and a few are everywhere
    assert counts[-100:].sum() / counts.sum() > 0.02


def test_hits_cluster_in_mainstream_playlists(playlists):
    """The charts are mainstream: many playlists hold none of the 20 most frequent tracks
    (popularity is no oracle)."""
    counts = Counter(t["track_uri"] for p in playlists for t in p["tracks"])
    hits = {uri for uri, _ in counts.most_common(20)}
    without = np.mean([not any(t["track_uri"] in hits for t in p["tracks"]) for p in playlists])
    assert 0.08 < without < 0.5, without


def test_order_matters(playlists):
    """The first ten tracks predict the next ten better than ten random other tracks of the playlist
    do."""
    rng = random.Random(0)
    first, sample = [], []
    for p in playlists:
        artists = [t["artist_uri"] for t in p["tracks"]]
        if len(artists) < 60:
            continue
        target = artists[10:20]
        others = rng.sample(artists[:10] + artists[20:], 10)
        first.append(np.mean([a in set(artists[:10]) for a in target]))
        sample.append(np.mean([a in set(others) for a in target]))
    assert len(first) > 300
    assert np.mean(first) > np.mean(sample) + 0.03, (np.mean(first), np.mean(sample))


def test_titles_vary_and_speak_many_languages(playlists):
    titles = [p["name"] for p in playlists]
    normalised = {re.sub(r"\W+", " ", t.lower()).strip() for t in titles}
    assert len(normalised) < 0.4 * len(titles)  # titles repeat, like MPD's
    assert len(normalised) < 0.7 * len(set(titles))  # casing/punctuation variants exist
    assert any(re.search(r"[\uac00-\ud7a3]", t) for t in titles)  # Hangul
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t) for t in titles)  # kana / kanji
    assert any(not t.isascii() and not re.search(r"\w", t) for t in titles)  # emoji only


def test_non_latin_titles_carry_the_theme():
    r = random.Random(1)
    workout = Counter(
        theme_title(GENRES[GENRE_INDEX["rap"]], CONTEXTS[CONTEXT_INDEX["workout"]], 4, r, 0.0)
        for _ in range(3000)
    )
    drive = Counter(
        theme_title(GENRES[GENRE_INDEX["country"]], CONTEXTS[CONTEXT_INDEX["drive"]], 4, r, 0.0)
        for _ in range(3000)
    )
    assert any("운동" in t for t in workout) and not any("운동" in t for t in drive)
    assert any("ドライブ" in t for t in drive) and not any("ドライブ" in t for t in workout)


def test_generate_matches_stream_and_slices(tmp_path: Path):
    paths = generate(tmp_path / "a", 2500, seed=5, config=SMALL)
    assert [p.name for p in paths] == [
        "mpd.slice.0-999.json",
        "mpd.slice.1000-1999.json",
        "mpd.slice.2000-2499.json",
    ]
    sizes = [len(ujson.loads(p.read_text(encoding="utf-8"))["playlists"]) for p in paths]
    assert sizes == [1000, 1000, 500]
    assert list(read_playlists(tmp_path / "a")) == list(
        synthetic_playlists(2500, seed=5, config=SMALL)
    )


def test_deterministic_whatever_the_worker_count(tmp_path: Path):
    a = generate(tmp_path / "a", 3200, seed=11, config=SMALL, workers=1)
    b = generate(tmp_path / "b", 3200, seed=11, config=SMALL, workers=3)
    c = generate(tmp_path / "c", 1200, seed=12, config=SMALL, workers=2)
    assert [p.name for p in a] == [p.name for p in b] and len(a) == 4
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()
    with pytest.raises(UserError, match="workers"):
        generate(tmp_path / "d", 1000, seed=1, config=SMALL, workers=0)


def test_resumable(tmp_path: Path):
    out = tmp_path / "mpd"
    paths = generate(out, 3000, seed=3, config=SMALL)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    paths[1].unlink()
    assert generate(out, 3000, seed=3, config=SMALL) == paths
    for p in (paths[0], paths[2]):
        assert p.stat().st_mtime_ns == before[p][1]  # kept, not rewritten
    assert paths[1].read_bytes() == before[paths[1]][0]  # remade identically
    generate(out, 1500, seed=4, config=SMALL)  # new settings replace the old set
    assert sorted(p.name for p in out.glob("mpd.slice.*")) == [
        "mpd.slice.0-999.json",
        "mpd.slice.1000-1499.json",
    ]
    assert paths[0].read_bytes() != before[paths[0]][0]


def test_refuses_foreign_slices_and_bad_counts(tmp_path: Path):
    (tmp_path / "mpd.slice.0-999.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UserError, match="not written by this generator"):
        generate(tmp_path, 1000, seed=1, config=SMALL)
    with pytest.raises(UserError):
        generate(tmp_path / "x", 0, seed=1, config=SMALL)
