"""Held-out splits shaped like the challenge: challenge set + answers out of training playlists."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import ujson
from tqdm import tqdm

from .atomic import atomic_write, remove_stale_temps
from .challenge import CATEGORIES, Category, Query, query_from_challenge
from .errors import DataError, UserError
from .cache import load_corpus
from .fingerprint import SourceDigest
from .matrix import CorpusRecorder
from .parse import encode_json, in_order, read_slice_fast
from .metrics import Answer
from .reader import SLICE_PATTERN, load_json, slice_files

log = logging.getLogger(__name__)
# The most constrained categories pick first, so the long playlists go where they are needed.
PICK_ORDER = sorted(CATEGORIES, key=lambda c: (-c.min_length, c.max_length - c.min_length))


def assign_categories(
    lengths: np.ndarray,
    has_title: np.ndarray,
    per_category: int,
    rng: np.random.Generator,
    strict: bool = True,
) -> dict[int, int]:
    """Pick up to `per_category` rows per category within its length range: {row: category}."""
    chosen: dict[int, int] = {}
    free = np.ones(len(lengths), bool)
    for category in PICK_ORDER:
        ok = free & (lengths >= category.min_length) & (lengths <= category.max_length)
        if category.title:
            ok &= has_title
        candidates = np.flatnonzero(ok)
        if len(candidates) < per_category:
            message = (
                f"category {category.number} needs {per_category} playlists of "
                f"{category.min_length}-{category.max_length} tracks, "
                f"only {len(candidates)} are left"
            )
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
    entry = {
        "pid": playlist["pid"],
        "num_holdouts": len(hidden),
        "num_samples": len(seeds),
        "num_tracks": len(tracks),
        "tracks": seeds,
    }
    if category.title:
        entry = {"name": playlist.get("name", ""), **entry}
    answer = Answer(
        category.number, [t["track_uri"] for t in hidden], sorted({t["artist_uri"] for t in hidden})
    )
    return entry, answer


SPLIT_FILE = "split.json"


def split_mpd(
    mpd_dir: str | Path, out_dir: str | Path, per_category: int, seed: int
) -> dict[str, Path]:
    """Write OUT/train/ slices without the held-out playlists, OUT/challenge_set.json, answers.json.

    Resumable: slices already written by an earlier run are kept only if that run had the same
    settings and the same source files (names, sizes and a digest of their bytes); otherwise every
    slice is rewritten and slices the source no longer has are removed.
    """
    out_dir = Path(out_dir)
    files = slice_files(mpd_dir)
    corpus = load_corpus(mpd_dir, unique=False)  # validated; from the cache when unchanged
    digest = SourceDigest(dict(corpus.source["files"]))
    lengths, where = np.diff(corpus.offsets), corpus.where()
    titles = np.array([bool(t.strip()) for t in corpus.recorder.titles], dtype=bool)
    settings = {"per_category": per_category, "seed": seed, "source": corpus.source}
    earlier = load_json(out_dir / SPLIT_FILE) if (out_dir / SPLIT_FILE).exists() else None
    resume = earlier == settings
    if earlier is not None and not resume:
        log.warning("%s: an earlier split with other settings or source data is replaced", out_dir)
    chosen = assign_categories(lengths, titles, per_category, np.random.default_rng(seed))
    by_file: dict[int, dict[int, int]] = {}
    for row, category in chosen.items():
        by_file.setdefault(where[row][0], {})[where[row][1]] = category
    _remove_other_slices(
        out_dir / "train", {f.name for f in files} if resume else set()
    )  # before split.json:
    with atomic_write(out_dir / SPLIT_FILE) as f:  # a killed re-run must not resume stale slices
        ujson.dump(settings, f)
    rng = np.random.default_rng([seed, 1])
    entries, answers = [], {}
    info = {"generated_by": "mmcf split", "per_category": per_category, "seed": seed}
    jobs = []
    for number, file in enumerate(files):
        target = out_dir / "train" / file.name
        write = not (resume and target.exists())
        held = sorted(by_file.get(number, {}).items())
        jobs.append(_SliceJob(file, digest.files[file.name], held, target, write, info))
    done = tqdm(
        in_order(_split_slice, jobs), total=len(files), desc="split", unit=" slices", leave=False
    )
    for job, held_out in zip(jobs, done):  # the pool reads and writes, in slice order
        for category, playlist in zip(job.categories, held_out):
            entry, answer = hold_out(playlist, CATEGORIES[category - 1], rng)
            entries.append(entry)
            answers[str(entry["pid"])] = answer_json(answer)
    remove_stale_temps(out_dir / "train")  # those of the pool's workers of a killed earlier run
    entries.sort(key=lambda e: (_category_of(answers, e), e["pid"]))
    paths = {
        "train": out_dir / "train",
        "challenge": out_dir / "challenge_set.json",
        "answers": out_dir / "answers.json",
    }
    write_challenge(paths["challenge"], entries, "mmcf split")
    with atomic_write(paths["answers"]) as f:
        ujson.dump(answers, f, ensure_ascii=False)
    return paths


@dataclass
class _SliceJob:
    file: Path
    fingerprint: list  # [size, digest] when the split began
    held: list[tuple[int, int]]  # (index, category) of the held-out playlists, in index order
    target: Path
    write: bool  # False: an earlier run with the same settings wrote the target
    info: dict

    @property
    def categories(self) -> list[int]:
        return [category for _, category in self.held]


def _split_slice(job: _SliceJob) -> list[dict]:
    """Read a slice again (unchanged, or DataError) and write its kept playlists as the training
    slice (unless an earlier run did); its held-out playlists go back to the main process."""
    again = SourceDigest()
    playlists = read_slice_fast(job.file, again)
    if again.files[job.file.name] != job.fingerprint:
        raise DataError(job.file, "changed while it was being split; run the split again")
    held = dict(job.held)
    if job.write:
        kept = [p for i, p in enumerate(playlists) if i not in held]
        with atomic_write(job.target, "wb") as f:
            f.write(encode_json({"info": job.info, "playlists": kept}))
    return [playlists[i] for i in held]


def write_challenge(path: Path, entries: list[dict], version: str) -> None:
    with atomic_write(path) as f:
        ujson.dump(
            {"date": "local split", "version": version, "playlists": entries}, f, ensure_ascii=False
        )


def _remove_other_slices(train_dir: Path, names: set[str]) -> None:
    """Delete the slice files of an earlier split except `names`."""
    if train_dir.is_dir():
        for path in train_dir.iterdir():
            if SLICE_PATTERN.match(path.name) and path.name not in names:
                path.unlink()


def _category_of(answers: dict, entry: dict) -> int:
    return answers[str(entry["pid"])]["category"]


def answer_json(answer: Answer) -> dict:
    """An answer in the spec's answers.json format."""
    return {
        "category": answer.category,
        "holdout_tracks": answer.tracks,
        "holdout_artists": answer.artists,
    }


def read_answers(path: str | Path) -> dict[int, Answer]:
    """Read answers.json: {"<pid>": {"category", "holdout_tracks" | "tracks",
    "holdout_artists" | "artists"}}."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected an object keyed by pid")
    if "playlists" in data:
        raise DataError(
            path,
            "has a 'playlists' list: a challenge set or MPD slice, not the answers "
            "(give the answers.json `mmcf split` wrote beside the challenge set)",
        )
    answers = {}
    for key, value in data.items():
        try:
            tracks = value.get("holdout_tracks", value.get("tracks"))
            artists = value.get("holdout_artists", value.get("artists", []))
            answers[int(key)] = Answer(int(value["category"]), list(tracks), list(artists))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise DataError(
                path, "needs 'category', 'holdout_tracks' and 'holdout_artists'", key
            ) from None
    return answers


@dataclass
class ValidationConfig:
    """How many challenge-shaped validation playlists to carve per category out of the training set.

    At most 1% of the playlists per category (≤ 10% in all): small data sets keep most for training.
    """

    per_category: int = 50
    seed: int = 0
    max_share: float = 0.01

    def __post_init__(self) -> None:
        if self.per_category < 0:
            raise UserError(f"validation per category must be ≥ 0, not {self.per_category}")


@dataclass
class Validation:
    """Challenge-shaped playlists carved out of the training set before any model trains.

    Entries and answers are made exactly as `split_mpd` makes a challenge set (every held-out track,
    in the vocabulary or not), so validation figures are scored like test figures. No model may
    train on these playlists; they choose epochs and ensemble weights.
    """

    entries: list[dict]  # challenge-format playlists
    answers: dict[int, Answer]
    config: ValidationConfig = field(default_factory=ValidationConfig)

    def __post_init__(self) -> None:
        self.queries = [
            query_from_challenge(e, "validation", i) for i, e in enumerate(self.entries)
        ]
        if sorted(q.pid for q in self.queries) != sorted(self.answers):
            raise DataError("validation", "queries and answers are not of the same playlists")

    @property
    def pids(self) -> set[int]:
        return set(self.answers)

    def of_categories(self, categories: Sequence[int]) -> tuple[list[Query], dict[int, Answer]]:
        queries = [q for q in self.queries if q.category in categories]
        return queries, {q.pid: self.answers[q.pid] for q in queries}

    def title_only(self) -> tuple[list[Query], dict[int, Answer]]:
        """Each titled validation playlist as a category-1 query: its title alone, tracks hidden."""
        queries, answers = [], {}
        for q in self.queries:
            if q.title and q.title.strip():
                answer = self.answers[q.pid]
                queries.append(Query(pid=q.pid, title=q.title, category=1))
                answers[q.pid] = Answer(
                    1, q.seeds + answer.tracks, sorted(set(q.seed_artists) | set(answer.artists))
                )
        return queries, answers

    def save(self, directory: Path) -> None:
        write_challenge(directory / "challenge_set.json", self.entries, "mmcf validation")
        with atomic_write(directory / "answers.json") as f:
            ujson.dump(
                {str(pid): answer_json(a) for pid, a in self.answers.items()}, f, ensure_ascii=False
            )
        with atomic_write(directory / "validation.json") as f:
            ujson.dump({"config": asdict(self.config), "pids": sorted(self.answers)}, f)

    @classmethod
    def load(cls, directory: Path) -> "Validation":
        meta = load_json(directory / "validation.json")
        entries = load_json(directory / "challenge_set.json").get("playlists", [])
        validation = cls(
            entries, read_answers(directory / "answers.json"), ValidationConfig(**meta["config"])
        )
        if sorted(validation.pids) != meta["pids"]:
            raise DataError(
                directory, "validation files do not match each other; retrain into a new directory"
            )
        return validation


def carve_validation(recorder: CorpusRecorder, config: ValidationConfig) -> Validation:
    """Validation playlists out of the recorded training playlists, made as `split_mpd` does."""
    per_category = min(config.per_category, max(1, int(len(recorder) * config.max_share)))
    if config.per_category == 0:
        return Validation([], {}, config)
    rng = np.random.default_rng(config.seed)
    has_title = np.array([bool(t.strip()) for t in recorder.titles], dtype=bool)
    chosen = assign_categories(recorder.lengths, has_title, per_category, rng, strict=False)
    rows = sorted(chosen)
    entries, answers = [], {}
    for row, playlist in zip(rows, recorder.playlists(rows)):
        entry, answers[playlist["pid"]] = hold_out(playlist, CATEGORIES[chosen[row] - 1], rng)
        entries.append(entry)
    return Validation(entries, answers, config)
