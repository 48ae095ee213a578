"""Shared fixtures: a tiny hand-made MPD in the real format (not the generator's output), a model
served over it, the corpus cache in a temp directory, a checkpoint after every epoch."""

from __future__ import annotations

import contextlib
import json
import random
import threading
from pathlib import Path
from typing import Iterator

import pytest

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
THEMES = {
    "rock": "Rock Anthems 🤘",
    "chill": "chill vibes ✌️",
    "kpop": "케이팝 최고",
    "drive": "ドライブ",
}


def uri(kind: str, n: int) -> str:
    digits = ""
    for _ in range(22):
        n, r = divmod(n, 62)
        digits += B62[r]
    return f"spotify:{kind}:{digits}"


def make_track(theme_no: int, k: int, pos: int) -> dict:
    artist = theme_no * 10 + k % 6
    return {
        "pos": pos,
        "artist_name": f"Artíst {artist} ñ",
        "track_uri": uri("track", theme_no * 1000 + k),
        "artist_uri": uri("artist", artist),
        "track_name": f"Sóng {theme_no}-{k}",
        "album_uri": uri("album", artist * 10 + k % 3),
        "duration_ms": 200000 + k,
        "album_name": f"Albüm {artist}",
    }


def make_playlists(n: int, seed: int = 0, first_pid: int = 0) -> list[dict]:
    """Playlists of 4 themes with skewed track popularity; real-format quirks (extra field, no
    description)."""
    rng = random.Random(seed)
    playlists = []
    for i in range(n):
        theme_no = i % len(THEMES)
        title = list(THEMES.values())[theme_no]
        length = (
            rng.choice((rng.randint(12, 38), rng.randint(40, 99)))
            if i % 7
            else rng.randint(105, 240)
        )
        scale = 12 if length < 100 else 150
        ks = sorted({min(int(rng.expovariate(1 / scale)), 299) for _ in range(length * 4)})[:length]
        rng.shuffle(ks)
        tracks = [make_track(theme_no, k, p) for p, k in enumerate(ks)]
        playlist = {
            "name": title,
            "collaborative": "false",
            "pid": first_pid + i,
            "modified_at": 1500000000 + i,
            "num_tracks": len(tracks),
            "num_albums": 3,
            "num_followers": 1,
            "num_edits": 2,
            "duration_ms": sum(t["duration_ms"] for t in tracks),
            "num_artists": 6,
            "tracks": tracks,
            "some_future_field": {"x": 1},
        }
        if i % 5 == 0:
            playlist["description"] = "désc"
        playlists.append(playlist)
    return playlists


def train_argv(mpd, model_dir, kind: str) -> tuple:
    """`mmcf train` arguments for one model kind."""
    return ("train", "--mpd", mpd, "--model-dir", model_dir, "--model", kind)


def submit_argv(model_dir, challenge, out, kind: str) -> tuple:
    """`mmcf submit` arguments, less the team and email."""
    return (
        "submit",
        "--model-dir",
        model_dir,
        "--challenge",
        challenge,
        "--out",
        out,
        "--model",
        kind,
    )


def recommend_argv(model_dir, kind: str) -> tuple:
    """`mmcf recommend` arguments, less the query."""
    return ("recommend", "--model-dir", model_dir, "--model", kind)


def write_mpd(directory: Path, playlists: list[dict], per_slice: int = 1000) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(playlists), per_slice):
        chunk = playlists[start : start + per_slice]
        name = f"mpd.slice.{start}-{start + per_slice - 1}.json"
        (directory / name).write_text(
            json.dumps({"info": {"slice": name}, "playlists": chunk}, ensure_ascii=False),
            encoding="utf-8",
        )
    return directory


@pytest.fixture(scope="session", autouse=True)
def corpus_cache_dir(tmp_path_factory) -> Iterator[Path]:
    """The corpus cache (mpd.cache) of the whole run in a temp directory, not the user's cache."""
    path = tmp_path_factory.mktemp("corpus-cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MMCF_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="session", autouse=True)
def checkpoint_every_epoch() -> Iterator[None]:
    """Tiny epochs take milliseconds: checkpoint each one, so the kill-and-resume tests have one to
    resume from (tests/test_trainer.py checks the interval itself)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MMCF_CHECKPOINT_SECONDS", "0")
        yield


@pytest.fixture
def tiny_playlists() -> list[dict]:
    return make_playlists(400)


@pytest.fixture
def tiny_mpd(tmp_path: Path, tiny_playlists) -> Path:
    return write_mpd(tmp_path / "mpd", tiny_playlists, per_slice=100)


@pytest.fixture(scope="session")
def knn_model_dir(tmp_path_factory) -> Path:
    """A kNN model (alone in its directory) trained on the tiny MPD."""
    from mmcf.submission.pipeline.kinds import build_config
    from mmcf.submission.pipeline.training import train

    root = tmp_path_factory.mktemp("served")
    train(
        write_mpd(root / "mpd", make_playlists(400), per_slice=100),
        root / "model",
        "knn",
        build_config("knn", {}),
    )
    return root / "model"


@contextlib.contextmanager
def running_server(model_dir: Path, kind: str | None = None) -> Iterator[str]:
    """`mmcf serve` on an ephemeral loopback port in a background thread; yields its base URL."""
    from mmcf.submission.serve import ServeConfig, make_server

    server = make_server(ServeConfig(model_dir, port=0, kind=kind))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://{}:{}".format(*server.server_address[:2])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def server_url(knn_model_dir) -> Iterator[str]:
    with running_server(knn_model_dir) as url:
        yield url
