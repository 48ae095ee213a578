"""`mmcf recommend`: continue one playlist from a title and/or a few seed tracks."""

from __future__ import annotations

from pathlib import Path

import torch
import ujson

from mmcf.models.base import Recommender, top_n
from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.vocab import Vocab

from .loading import choose_kind, load_model


def recommend_one(
    model_dir: str | Path,
    title: str | None,
    tracks: list[str],
    n: int = 20,
    kind: str | None = None,
) -> list[dict]:
    """Ranked tracks with names, artists and scores for one ad-hoc playlist."""
    if not tracks and not has_title(title):
        raise UserError("give a --title, one or more --track URIs, or both")
    return recommend_rows(load_model(model_dir, choose_kind(model_dir, kind)), title, tracks, n)


def has_title(title: str | None) -> bool:
    return bool(title and title.strip())


def recommend_rows(model: Recommender, title: str | None, tracks: list[str], n: int) -> list[dict]:
    """The continuation of one playlist by a loaded model:
    `mmcf recommend` and `mmcf serve` both call this.

    Scores once and ranks with `top_n`, which is what
    `Recommender.recommend` does with the same scores.
    """
    check_usable(model, title, tracks)
    query = Query(pid=0, title=title or None, seeds=list(tracks), category=None)
    scores = model.score([query])
    uris = top_n(scores, [query], model.vocab, n)[0]
    return [
        track_row(model, position, uri, scores[0]) for position, uri in enumerate(uris, start=1)
    ]


def check_usable(model: Recommender, title: str | None, tracks: list[str]) -> None:
    """Refuse a query the model can only answer with popularity:
    unknown tracks only, or an empty title."""
    known = any(u in model.vocab.track_index for u in tracks)
    if tracks and not known and not has_title(title):
        raise UserError(
            f"none of the {len(tracks)} tracks is in the model's vocabulary, and there is no title"
        )
    if model.reads_titles and not known and not model.knows_title(title):
        raise UserError(
            f"the title {title!r} normalises to nothing the title model knows (no letters, "
            "digits or emoji seen in training), and no known track is given"
        )


def track_row(model: Recommender, position: int, uri: str, scores: torch.Tensor) -> dict:
    """One ranked track; tracks outside the vocabulary
    (popularity fill) have no name, artist or score."""
    i = model.vocab.track_index.get(uri)
    name, artist = name_and_artist(model.vocab, i) if i is not None else ("", "")
    return {
        "position": position,
        "track": name,
        "artist": artist,
        "uri": uri,
        "score": float(scores[i]) if i is not None else None,
    }


def name_and_artist(vocab: Vocab, i: int) -> tuple[str, str]:
    """Vocabulary track i's name and its artist's
    (empty when the artist is outside the vocabulary)."""
    artist = vocab.track_artist[i]
    return vocab.track_names[i], vocab.artist_names[artist] if artist >= 0 else ""


def recommend_cli(model_dir, title, tracks, n, kind, as_json: bool = False) -> str:
    rows = recommend_one(model_dir, title, tracks, n, kind)
    if as_json:
        return ujson.dumps(rows, ensure_ascii=False, indent=2)
    lines = [f"{'#':>3}  {'track':40.40s}  {'artist':25.25s}  {'score':>7}  uri"]
    for r in rows:
        score = f"{r['score']:.4f}" if r["score"] is not None else "-"
        lines.append(
            f"{r['position']:>3}  {r['track']:40.40s}  {r['artist']:25.25s}  {score:>7}  {r['uri']}"
        )
    return "\n".join(lines)
