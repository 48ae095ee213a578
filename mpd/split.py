"""Held-out splits shaped like the challenge: a challenge set + answers taken out of training playlists."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import ujson
from tqdm import tqdm

from .atomic import atomic_write
from .challenge import CATEGORIES, Category, Query
from .errors import DataError, UserError
from .matrix import PlaylistCorpus
from .metrics import Answer
from .reader import load_json, read_slice, slice_files
from .vocab import Vocab

log = logging.getLogger(__name__)
# The most constrained categories pick first, so the long playlists go where they are needed.
PICK_ORDER = sorted(CATEGORIES, key=lambda c: (-c.min_length, c.max_length - c.min_length))


def assign_categories(lengths: np.ndarray, has_title: np.ndarray, per_category: int,
                      rng: np.random.Generator, strict: bool = True) -> dict[int, int]:
    """Pick up to `per_category` rows per category within its length range: {row: category}."""
    chosen: dict[int, int] = {}
    free = np.ones(len(lengths), bool)
    for category in PICK_ORDER:
        ok = free & (lengths >= category.min_length) & (lengths <= category.max_length)
        if category.title:
            ok &= has_title
        candidates = np.flatnonzero(ok)
        if len(candidates) < per_category:
            message = (f"category {category.number} needs {per_category} playlists of "
                       f"{category.min_length}-{category.max_length} tracks, only {len(candidates)} are left")
            if strict:
                raise UserError(message + "; use a smaller --per-category or more playlists")
            log.warning(message)
            if not len(candidates):
                continue
        picked = rng.choice(candidates, size=min(per_category, len(candidates)), replace=False)
        free[picked] = False
        chosen.update({int(r): category.number for r in picked})
    return chosen


def seed_positions(length: int, category: Category, rng: np.random.Generator) -> np.ndarray:
    """Positions shown as seeds: the first k, or k random ones (sorted)."""
    if category.in_order:
        return np.arange(category.seeds)
    return np.sort(rng.choice(length, size=category.seeds, replace=False))


def hold_out(playlist: dict, category: Category, rng: np.random.Generator) -> tuple[dict, Answer]:
    """The challenge entry (official format) and the answer of one MPD playlist."""
    tracks = playlist["tracks"]
    shown = seed_positions(len(tracks), category, rng)
    mask = np.zeros(len(tracks), bool)
    mask[shown] = True
    seeds = [dict(t, pos=i) for i, t in enumerate(tracks) if mask[i]]
    hidden = [t for i, t in enumerate(tracks) if not mask[i]]
    entry = {"pid": playlist["pid"], "num_holdouts": len(hidden), "num_samples": len(seeds),
             "num_tracks": len(tracks), "tracks": seeds}
    if category.title:
        entry = {"name": playlist.get("name", ""), **entry}
    answer = Answer(category.number, [t["track_uri"] for t in hidden], sorted({t["artist_uri"] for t in hidden}))
    return entry, answer


def split_mpd(mpd_dir: str | Path, out_dir: str | Path, per_category: int, seed: int) -> dict[str, Path]:
    """Write OUT/train/ slices without the held-out playlists, OUT/challenge_set.json and OUT/answers.json.

    Resumable: slices already written by an earlier run with the same settings are kept.
    """
    out_dir = Path(out_dir)
    files = slice_files(mpd_dir)
    settings = {"source": str(Path(mpd_dir).resolve()), "per_category": per_category, "seed": seed}
    resume = _same_settings(out_dir / "split.json", settings)
    lengths, titles, where = _scan(files)
    chosen = assign_categories(lengths, titles, per_category, np.random.default_rng(seed))
    by_file: dict[int, dict[int, int]] = {}
    for row, category in chosen.items():
        by_file.setdefault(where[row][0], {})[where[row][1]] = category
    with atomic_write(out_dir / "split.json") as f:
        ujson.dump(settings, f)
    rng = np.random.default_rng([seed, 1])
    entries, answers = [], {}
    for number, file in enumerate(tqdm(files, desc="split", unit=" slices", leave=False)):
        playlists = read_slice(file)
        held = by_file.get(number, {})
        for index, category in sorted(held.items()):
            entry, answer = hold_out(playlists[index], CATEGORIES[category - 1], rng)
            entries.append(entry)
            answers[str(entry["pid"])] = answer_json(answer)
        target = out_dir / "train" / file.name
        if not (resume and target.exists()):
            kept = [p for i, p in enumerate(playlists) if i not in held]
            with atomic_write(target) as f:
                ujson.dump({"info": {"generated_by": "mmcf split", **settings}, "playlists": kept}, f,
                           ensure_ascii=False)
    entries.sort(key=lambda e: (_category_of(answers, e), e["pid"]))
    paths = {"train": out_dir / "train", "challenge": out_dir / "challenge_set.json",
             "answers": out_dir / "answers.json"}
    with atomic_write(paths["challenge"]) as f:
        ujson.dump({"date": "local split", "version": "mmcf split", "playlists": entries}, f, ensure_ascii=False)
    with atomic_write(paths["answers"]) as f:
        ujson.dump(answers, f, ensure_ascii=False)
    return paths


def _category_of(answers: dict, entry: dict) -> int:
    return answers[str(entry["pid"])]["category"]


def _same_settings(path: Path, settings: dict) -> bool:
    return path.exists() and load_json(path) == settings


def _scan(files: Sequence[Path]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Length, has-title and (file, index) of every playlist, validating as it goes."""
    lengths, titles, where = [], [], []
    for number, file in enumerate(tqdm(files, desc="scan", unit=" slices", leave=False)):
        for index, playlist in enumerate(read_slice(file)):
            lengths.append(len(playlist["tracks"]))
            titles.append(bool((playlist.get("name") or "").strip()))
            where.append((number, index))
    return np.array(lengths), np.array(titles, bool), where


def answer_json(answer: Answer) -> dict:
    """An answer in the spec's answers.json format."""
    return {"category": answer.category, "holdout_tracks": answer.tracks, "holdout_artists": answer.artists}


def read_answers(path: str | Path) -> dict[int, Answer]:
    """Read answers.json: {"<pid>": {"category", "holdout_tracks" | "tracks", "holdout_artists" | "artists"}}."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected an object keyed by pid")
    answers = {}
    for key, value in data.items():
        try:
            tracks = value.get("holdout_tracks", value.get("tracks"))
            artists = value.get("holdout_artists", value.get("artists", []))
            answers[int(key)] = Answer(int(value["category"]), list(tracks), list(artists))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise DataError(path, "needs 'category', 'holdout_tracks' and 'holdout_artists'", key) from None
    return answers


def carve_validation(corpus: PlaylistCorpus, vocab: Vocab, per_category: int,
                     seed: int) -> tuple[np.ndarray, list[Query], dict[int, Answer]]:
    """Challenge-shaped validation queries out of training playlists.

    Categories are assigned by full playlist length, as in `split_mpd`; seeds and answers then keep the
    vocabulary tracks only (a model can recommend nothing else). Returns the rows left for training, the
    queries and their answers.
    """
    rng = np.random.default_rng(seed)
    has_title = np.array([bool(t.strip()) for t in corpus.titles])
    chosen = assign_categories(corpus.lengths, has_title, per_category, rng, strict=False)
    queries, answers = [], {}
    for row, number in sorted(chosen.items()):
        category = CATEGORIES[number - 1]
        ids = corpus.tracks(row, known_only=False)
        shown = np.zeros(len(ids), bool)
        shown[seed_positions(len(ids), category, rng)] = True
        seeds, hidden = ids[shown & (ids >= 0)], ids[~shown & (ids >= 0)]
        if not len(hidden):
            continue
        pid = int(corpus.pids[row])
        queries.append(Query(pid=pid, title=corpus.titles[row] if category.title else None,
                             seeds=[vocab.track_uris[i] for i in seeds], category=number,
                             in_order=category.in_order))
        answers[pid] = Answer(number, [vocab.track_uris[i] for i in hidden],
                              sorted({vocab.track_artist_uris[i] for i in hidden}))
    train_rows = np.setdiff1d(np.arange(len(corpus)), np.fromiter(chosen, dtype=np.int64))
    return train_rows, queries, answers
