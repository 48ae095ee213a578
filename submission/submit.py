"""Answer a challenge set with a trained model and write the submission;
resumable batch by batch."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from typing import Iterator

import ujson
from tqdm import tqdm

from mmcf.models import store
from mmcf.mpd.challenge import Query, read_challenge
from mmcf.mpd.errors import UserError
from mmcf.mpd.fingerprint import digest_bytes, digest_json
from mmcf.mpd.vocab import Vocab

from .pipeline.loading import choose_kind, load_model
from .writer import team_info_line, write_submission

log = logging.getLogger(__name__)
N_RECOMMENDATIONS = 500


def make_submission(
    model_dir: str | Path,
    challenge: str | Path,
    out: str | Path,
    team: str,
    email: str,
    kind: str | None = None,
    batch_size: int = 500,
    vocab: Vocab | None = None,
) -> Path:
    """Recommend 500 tracks for every challenge playlist and write OUT atomically.

    Finished batches go to OUT.partial as they complete, so a killed run resumes where it stopped.
    `vocab`: the model directory's vocabulary when the caller has it already (read from it if None).
    """
    out = Path(out)
    team_info_line(team, email)  # refuse a bad team name or email before the long part
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, not {batch_size}")
    if out.is_dir():
        raise UserError(f"{out}: is a directory; give the submission file's name")
    queries = read_challenge(challenge)
    kind = choose_kind(model_dir, kind)
    log.info("answering with the '%s' model of %s", kind, model_dir)
    model = load_model(model_dir, kind, vocab)
    partial = out.with_name(out.name + ".partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        answered = _load_partial(
            partial,
            {
                "kind": kind,
                "model": model_files(model_dir),
                "challenge": digest_bytes(Path(challenge).read_bytes()),
            },
            queries,
        )
    except OSError as exc:
        raise UserError(f"{out}: cannot write here ({exc.strerror or exc})") from None
    todo = queries[answered:]  # the journal holds the first `answered` playlists' rows
    if answered:
        log.info("resuming: %d of %d playlists already answered", answered, len(queries))
    with (
        open(partial, "a", encoding="utf-8") as f,
        tqdm(
            total=len(queries), initial=answered, desc="submit", unit=" playlists", leave=False
        ) as bar,
    ):
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            _append(f, batch, model.recommend(batch, N_RECOMMENDATIONS))
            bar.update(len(batch))
    write_submission(out, _journal_rows(partial, queries), team, email)
    partial.unlink()
    return out


def model_files(model_dir: str | Path) -> str:
    """Digest of the name, size and modification time of the vocabulary and every trained model's
    files (a retrained model rewrites its files, so the answers of an earlier model are never
    resumed)."""
    root = Path(model_dir)
    models = [d for d in sorted(root.iterdir()) if d.is_dir() and (d / "manifest.json").exists()]
    files = [root / store.VOCAB_FILE] + [
        p for d in models for p in sorted(d.iterdir()) if p.is_file()
    ]
    return digest_json(
        [[str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    )


def _append(f, batch: list[Query], recs: list[list[str]]) -> None:
    for query, uris in zip(batch, recs):
        f.write(ujson.dumps({"pid": query.pid, "uris": uris}) + "\n")
    f.flush()
    os.fsync(f.fileno())


def _load_partial(path: Path, settings: dict, queries: list[Query]) -> int:
    """How many of the challenge's playlists, from its first on, an earlier, interrupted run with
    the same settings answered: the journal's rows that follow the challenge set's order. The rest
    (a line torn by a kill, a row out of order) is cut off and answered again; a journal of other
    settings is started anew."""
    if _header(path) != settings:
        with open(path, "w", encoding="utf-8") as f:
            f.write(ujson.dumps({"settings": settings}) + "\n")
        return 0
    answered = 0
    with open(path, "rb") as f:
        good = len(f.readline())
        for query, line in zip(queries, f):
            if not _answers(line, query.pid):
                break
            answered += 1
            good += len(line)
    os.truncate(path, good)  # so new batches append cleanly after the last good row
    return answered


def _answers(line: bytes, pid: int) -> bool:
    """Whether a journal line is whole and holds the recommendations of `pid`."""
    if not line.endswith(b"\n"):
        return False
    try:
        row = ujson.loads(line)
    except ValueError:
        return False
    return isinstance(row, dict) and row.get("pid") == pid and isinstance(row.get("uris"), list)


def _journal_rows(path: Path, queries: list[Query]) -> Iterator[tuple[int, list[str]]]:
    """The journal's answers one line at a time, so the submission is written without holding
    its 5 M URIs: in the challenge's order, as every run appends the playlists not yet answered in
    that order."""
    with open(path, "rb") as f:
        f.readline()  # the settings
        rows = (ujson.loads(line) for line in f)
        for query, row in itertools.zip_longest(queries, rows):
            if query is None or row is None or row["pid"] != query.pid:
                raise UserError(
                    f"{path}: its answers do not follow the challenge set (a row missing or out "
                    "of order); delete it and rerun"
                )
            yield row["pid"], row["uris"]


def _header(path: Path) -> dict | None:
    """The settings on the journal's first line (None without a whole first line)."""
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline()
        return ujson.loads(line).get("settings") if line.endswith("\n") else None
    except (ValueError, OSError, AttributeError):
        return None
