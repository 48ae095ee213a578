"""Dataset statistics: counts from a stream, the title normaliser, the side-by-side table."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmcf.mpd.errors import UserError
from mmcf.mpd.stats import MPD_PUBLISHED, format_stats, mpd_stats, normalise_title
from mmcf.mpd.synth import SynthConfig, generate, synthetic_playlists

SMALL = SynthConfig(universe_playlists=20_000)


def test_stats_of_a_tiny_set(tmp_path: Path):
    generate(tmp_path, 1500, seed=2, config=SMALL)
    stats = mpd_stats(tmp_path)
    playlists = list(synthetic_playlists(1500, seed=2, config=SMALL))
    tracks = [t for p in playlists for t in p["tracks"]]
    lengths = sorted(len(p["tracks"]) for p in playlists)
    assert stats["playlists"] == 1500
    assert stats["track_occurrences"] == len(tracks)
    assert stats["unique_tracks"] == len({t["track_uri"] for t in tracks})
    assert stats["unique_artists"] == len({t["artist_uri"] for t in tracks})
    assert stats["unique_albums"] == len({t["album_uri"] for t in tracks})
    assert stats["length_min"] == lengths[0] and stats["length_max"] == lengths[-1]
    assert stats["length_25"] <= stats["length_50"] <= stats["length_75"]
    assert stats["length_mean"] == pytest.approx(len(tracks) / 1500)
    assert 0 < stats["tracks_once_share"] < 1
    assert stats["distinct_normalised_titles"] < stats["distinct_titles"] <= 1500
    assert stats["min_artists_per_playlist"] >= 3 and stats["min_albums_per_playlist"] >= 2


def test_stats_on_a_hand_made_file(tiny_mpd: Path):
    stats = mpd_stats(tiny_mpd)
    assert stats["playlists"] == 400
    assert stats["distinct_titles"] == 4


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Chill Vibes!!", "chill vibes"),
        ("  chill   vibes ✌️", "chill vibes"),
        ("lo-fi", "lofi"),
        ("운동 💪", "운동"),
        ("ドライブ", "ドライブ"),
        ("🔥🔥", ""),
        ("Rock N' Roll", "rock n roll"),
    ],
)
def test_normalise_title(title, expected):
    assert normalise_title(title) == expected


def test_format_stats_shows_mpd_beside_ours():
    ours = {
        "playlists": 20_000,
        "unique_tracks": 321_000,
        "tracks_once_share": 0.61,
        "length_mean": 66.1,
    }
    table = format_stats(ours, MPD_PUBLISHED)
    lines = table.splitlines()
    assert "MPD" in lines[0]
    row = next(line for line in lines if line.startswith("unique tracks"))
    assert "321,000" in row and "2,262,292" in row
    assert "0.610" in next(line for line in lines if line.startswith("share of tracks seen once"))
    assert "MPD" not in format_stats(ours).splitlines()[0]


def test_missing_directory_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError):
        mpd_stats(tmp_path / "nope")
