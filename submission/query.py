"""`mmcf recommend`: continue one playlist from a title and/or a few seed tracks."""
from __future__ import annotations

from pathlib import Path

import ujson

from mpd.challenge import Query
from mpd.errors import UserError

from .training import load_model


def recommend_one(model_dir: str | Path, title: str | None, tracks: list[str], n: int = 20,
                  kind: str = "mmcf") -> list[dict]:
    """Ranked tracks with names, artists and scores for one ad-hoc playlist."""
    if not tracks and not (title and title.strip()):
        raise UserError("give a --title, one or more --track URIs, or both")
    model = load_model(model_dir, kind)
    vocab = model.vocab
    unknown = [u for u in tracks if u not in vocab.track_index]
    if tracks and len(unknown) == len(tracks) and not (title and title.strip()):
        raise UserError(f"none of the {len(tracks)} tracks is in the model's vocabulary, and there is no title")
    title_model = getattr(model, "cnn", model if hasattr(model, "title_scores") else None)
    if title_model is not None and not any(u in vocab.track_index for u in tracks):
        if not title_model.title_scores([title or ""])[1][0]:
            raise UserError(f"the title {title!r} normalises to nothing the title model knows (no letters, "
                            "digits or emoji seen in training), and no known track is given")
    query = Query(pid=0, title=title or None, seeds=list(tracks), category=None)
    scores = model.score([query])[0]
    uris = model.recommend([query], n)[0]
    rows = []
    for position, uri in enumerate(uris, start=1):
        i = vocab.track_index.get(uri)
        artist = vocab.artist_index.get(vocab.track_artist_uris[i]) if i is not None else None
        rows.append({"position": position, "track": vocab.track_names[i] if i is not None else "",
                     "artist": vocab.artist_names[artist] if artist is not None else "",
                     "uri": uri, "score": float(scores[i]) if i is not None else None})
    return rows


def recommend_cli(model_dir, title, tracks, n, kind, as_json: bool = False) -> str:
    rows = recommend_one(model_dir, title, tracks, n, kind)
    if as_json:
        return ujson.dumps(rows, ensure_ascii=False, indent=2)
    lines = [f"{'#':>3}  {'track':40.40s}  {'artist':25.25s}  {'score':>7}  uri"]
    for r in rows:
        score = f"{r['score']:.4f}" if r["score"] is not None else "-"
        lines.append(f"{r['position']:>3}  {r['track']:40.40s}  {r['artist']:25.25s}  {score:>7}  {r['uri']}")
    return "\n".join(lines)
