"""Check a submission CSV against every rule of the
challenge and report each failure by line and pid."""

from __future__ import annotations

import gzip
import os
import re
import string
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

from mmcf.mpd.challenge import Query, read_challenge
from mmcf.mpd.errors import UserError, quoted

from .writer import N_TRACKS, TRACKS, URI

# Problem kinds, in report order.
ENCODING = "encoding"  # not UTF-8, NUL bytes (UTF-16?), a byte-order mark
GZIP = "gzip"  # named .gz but not gzip, or the compressed stream is broken
TEAM_INFO = "team_info"  # missing, malformed, or repeated team_info line
BAD_PID = "bad_pid"  # the first field is not a plain non-negative integer
UNKNOWN_PID = "unknown_pid"  # a pid that is not in the challenge set
DUPLICATE_PID = "duplicate_pid"
MISSING_PID = "missing_pid"  # a challenge pid with no row
TRACK_COUNT = "track_count"  # not exactly 500 URIs
MALFORMED_URI = "malformed_uri"
REPEATED_TRACK = "repeated_track"  # the same URI twice in one row
SEED_TRACK = "seed_track"  # a seed of that playlist among its recommendations
KINDS = (
    ENCODING,
    GZIP,
    TEAM_INFO,
    BAD_PID,
    UNKNOWN_PID,
    DUPLICATE_PID,
    MISSING_PID,
    TRACK_COUNT,
    MALFORMED_URI,
    REPEATED_TRACK,
    SEED_TRACK,
)

_URI = re.compile(URI)
_B62_TO_X = str.maketrans({c: "x" for c in string.digits + string.ascii_letters})
_PREFIX = "spotify:track:"
_SHAPES = {sep: (sep + _PREFIX + "x" * 22).translate(_B62_TO_X) for sep in (", ", ",")}
_PID = re.compile(r"0|[1-9][0-9]*")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_GZIP_MAGIC = b"\x1f\x8b"
_TEAM_INFO = f"expected team_info,<team name>,{'|'.join(TRACKS)},<email>"


@dataclass(frozen=True)
class Problem:
    """One broken rule. `omitted` > 0 marks the summary
    that stands for that many more problems of `kind`."""

    kind: str
    message: str
    line: int | None = None
    pid: int | None = None
    omitted: int = 0

    def __str__(self) -> str:
        where = ", ".join(
            w
            for w in (self.line and f"line {self.line}", self.pid is not None and f"pid {self.pid}")
            if w
        )
        return f"{where}: {self.message}" if where else self.message


class _Report:
    """Collects problems, keeping the first `cap` of each kind and counting the rest."""

    def __init__(self, cap: int):
        self.cap, self.kept, self.counts = cap, {kind: [] for kind in KINDS}, Counter()

    def add(self, kind: str, message: str, line: int | None = None, pid: int | None = None) -> None:
        self.counts[kind] += 1
        if len(self.kept[kind]) < self.cap:
            self.kept[kind].append(Problem(kind, message, line, pid))

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        for kind in KINDS:
            out += self.kept[kind]
            if (more := self.counts[kind] - len(self.kept[kind])) > 0:
                out.append(Problem(kind, f"... and {more:,} more {kind} problems", omitted=more))
        return out


def verify_submission(
    path: str | os.PathLike, challenge: str | os.PathLike | Iterable[Query], max_per_kind: int = 20
) -> list[Problem]:
    """Every rule the submission at `path` breaks against
    `challenge` (a challenge_set.json or its Queries).

    An empty list means valid. At most `max_per_kind` problems of each kind are listed; a final
    Problem with `omitted` = n stands for the rest. A missing submission file or a bad challenge set
    raises UserError.
    """
    queries = (
        read_challenge(challenge) if isinstance(challenge, (str, os.PathLike)) else list(challenge)
    )
    seeds = {q.pid: frozenset(q.seeds) for q in queries}
    report = _Report(max_per_kind)
    seen: dict[int, int] = {}  # pid → line of its row
    team_line: int | None = None
    first = True
    for number, text in _lines(Path(path), report):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        head = text.partition(",")[0].strip()
        if first:
            first = False
            if not _PID.fullmatch(head):  # the first line is the team_info line, good or bad
                team_line = number
                _check_team_info(text, number, report)
                continue
            report.add(
                TEAM_INFO,
                f"the file must start with the team_info line, not a row; {_TEAM_INFO}",
                number,
            )
        elif head == "team_info":
            report.add(
                TEAM_INFO,
                f"a second team_info line (the first is on line {team_line})"
                if team_line
                else "the team_info line must come first, before the rows",
                number,
            )
            continue
        _check_row(text, number, seeds, seen, report)
    if first:
        report.add(TEAM_INFO, "no team_info line (the file has no content)")
    for q in queries:
        if q.pid not in seen:
            report.add(MISSING_PID, "challenge playlist has no row", pid=q.pid)
    return report.problems()


def format_problems(problems: list[Problem]) -> str:
    """A readable report: problems grouped by kind, each kind headed by its total count."""
    totals = Counter()
    for p in problems:
        totals[p.kind] += p.omitted or 1
    lines = [f"{sum(totals.values()):,} problems"]
    for kind in sorted(totals, key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS)):
        lines.append(f"{kind} ({totals[kind]:,}):")
        lines += [f"  {p}" for p in problems if p.kind == kind]
    return "\n".join(lines)


def _lines(path: Path, report: _Report) -> Iterator[tuple[int, str]]:
    """(line number, decoded text) of the file, gunzipping by content;
    reading problems go to `report`."""
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if path.suffix == ".gz" and not gzipped:
            report.add(GZIP, "the name ends in .gz but the file is not gzip-compressed")
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        number = 0
        try:
            for number, line in enumerate(stream, start=1):
                yield number, _decode(line, number, report)
        except (OSError, EOFError, zlib.error) as exc:
            report.add(GZIP, f"the gzip data is broken after line {number} ({exc})", number + 1)


def _decode(line: bytes, number: int, report: _Report) -> str:
    """Strict UTF-8 text of one line; undecodable bytes,
    NULs and a BOM are reported (then replaced/dropped)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.add(
            ENCODING,
            f"not UTF-8: byte {line[exc.start]:#04x} at column {exc.start + 1} "
            "(save the file as UTF-8)",
            number,
        )
        text = line.decode("utf-8", errors="replace")
    if "\x00" in text:
        report.add(ENCODING, "NUL bytes (is the file UTF-16? save it as UTF-8)", number)
    if number == 1 and text.startswith("\ufeff"):
        report.add(
            ENCODING, "the file starts with a byte-order mark (save as UTF-8 without BOM)", number
        )
        text = text[1:]
    return text


def _check_team_info(text: str, number: int, report: _Report) -> None:
    fields = [f.strip() for f in text.split(",")]
    expected = _TEAM_INFO
    if fields[0] != "team_info":
        report.add(
            TEAM_INFO,
            f"the first line must be the team_info line, got {quoted(text, 60)}; {expected}",
            number,
        )
    elif len(fields) != 4:
        report.add(TEAM_INFO, f"team_info has {len(fields)} fields, not 4; {expected}", number)
    elif not fields[1]:
        report.add(TEAM_INFO, "team_info has an empty team name", number)
    elif fields[2] not in TRACKS:
        report.add(
            TEAM_INFO,
            f"team_info track is {quoted(fields[2], 30)}, not {' or '.join(TRACKS)}",
            number,
        )
    elif not _EMAIL.fullmatch(fields[3]):
        report.add(
            TEAM_INFO, f"team_info email {quoted(fields[3], 60)} is not an email address", number
        )


def _check_row(
    text: str, number: int, seeds: dict[int, frozenset[str]], seen: dict[int, int], report: _Report
) -> None:
    head, comma, rest = text.partition(",")
    head = head.strip()
    uris = _plain_uris(rest)
    well_formed = uris is not None
    if uris is None:  # spaces or tabs around the URIs, or something malformed: field by field
        uris = [f.strip() for f in rest.split(",")] if comma else []
    pid: int | None = None
    if not _PID.fullmatch(head):
        report.add(
            BAD_PID,
            f"the first field {quoted(head, 40)} is not a pid (a plain non-negative integer)",
            number,
        )
    else:
        pid = int(head)
        if pid not in seeds:
            report.add(UNKNOWN_PID, "pid is not in the challenge set", number, pid)
        elif pid in seen:
            report.add(
                DUPLICATE_PID,
                f"second row for this pid (the first is on line {seen[pid]})",
                number,
                pid,
            )
        else:
            seen[pid] = number
    if len(uris) != N_TRACKS:
        report.add(TRACK_COUNT, f"{len(uris)} tracks, expected {N_TRACKS}", number, pid)
    if not well_formed and (
        bad := [(i, u) for i, u in enumerate(uris, start=1) if not _URI.fullmatch(u)]
    ):
        i, u = bad[0]
        report.add(
            MALFORMED_URI,
            f"{len(bad)} malformed track URI(s), first {quoted(u, 50)} (track {i}); "
            "expected spotify:track:<22 base-62>",
            number,
            pid,
        )
    unique = set(uris)
    if len(unique) != len(uris):
        repeated = [u for u, c in Counter(uris).items() if c > 1]
        report.add(
            REPEATED_TRACK,
            f"{len(repeated)} track(s) recommended more than once, first {quoted(repeated[0], 50)}",
            number,
            pid,
        )
    if pid is not None and (hits := unique & seeds.get(pid, frozenset())):
        first = next(u for u in uris if u in hits)
        report.add(
            SEED_TRACK,
            f"{len(hits)} seed track(s) of this playlist among the recommendations, "
            f"first {first} (track {uris.index(first) + 1})",
            number,
            pid,
        )


def _plain_uris(rest: str) -> list[str] | None:
    """The URIs of a row tail `, <uri>, <uri>…`
    (or `,<uri>,<uri>…`) when every one is well-formed, else None.

    The fast path for 10,000-row files: one translate compares the row's shape (base-62 → 'x'), and
    counting the literal prefix proves every field starts with it (it can only match at a field's
    start).
    """
    shape = ("," + rest).translate(_B62_TO_X)
    for sep, unit in _SHAPES.items():
        n, extra = divmod(len(shape), len(unit))
        if not extra and shape == unit * n and rest.count(_PREFIX) == n:
            return rest[len(sep) - 1 :].split(sep)
    return None
