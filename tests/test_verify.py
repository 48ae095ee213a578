"""The submission verifier: the writer's output passes;
every broken rule is reported with its own kind, line and pid.

Ends with a fuzz test: 1,000 seeded mutations of a valid submission; every one that changes what the
file says must be rejected, every one that only changes formatting (blank/comment lines, spacing,
CRLF, row order, gzip) must be accepted.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from pathlib import Path
from typing import Callable

import pytest

from mmcf.mpd.challenge import CATEGORIES, Query, read_challenge
from mmcf.mpd.errors import UserError
from mmcf.submission import verify as V
from mmcf.submission.verify import Problem, format_problems, verify_submission
from mmcf.submission.writer import N_TRACKS, write_submission

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TEAM, EMAIL = "Café Ñandú", "ñ@example.org"


def random_uri(rng: random.Random, kind: str = "track") -> str:
    return f"spotify:{kind}:" + "".join(rng.choice(B62) for _ in range(22))


def challenge_json(per_category: int, seed: int) -> dict:
    """A small challenge set in the official format:
    `per_category` playlists of each of the 10 categories."""
    rng = random.Random(seed)
    playlists = []
    for c in CATEGORIES:
        for _ in range(per_category):
            pid = 1000 + len(playlists) * 7
            positions = range(c.seeds) if c.in_order else sorted(rng.sample(range(1, 200), c.seeds))
            tracks = [
                {
                    "pos": p,
                    "track_uri": random_uri(rng),
                    "artist_uri": random_uri(rng, "artist"),
                    "track_name": "sóng",
                    "artist_name": "ártist",
                }
                for p in positions
            ]
            playlist = {
                "pid": pid,
                "num_holdouts": 10,
                "num_samples": c.seeds,
                "num_tracks": c.seeds + 10,
                "tracks": tracks,
            }
            if c.title:
                playlist["name"] = f"títle {pid}"
            playlists.append(playlist)
    return {"date": "2018-01-16", "version": "test", "playlists": playlists}


@pytest.fixture(scope="module")
def challenge(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("challenge") / "challenge_set.json"
    path.write_text(
        json.dumps(challenge_json(per_category=2, seed=3), ensure_ascii=False), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def queries(challenge) -> list[Query]:
    return read_challenge(challenge)


def recommendations(queries: list[Query], seed: int) -> dict[int, list[str]]:
    """500 distinct non-seed URIs per query,
    drawn from a shared pool (so rows overlap like real ones)."""
    rng = random.Random(seed)
    pool = [random_uri(rng) for _ in range(1500)]
    return {q.pid: rng.sample([u for u in pool if u not in q.seeds], N_TRACKS) for q in queries}


@pytest.fixture(scope="module")
def valid_text(tmp_path_factory, queries) -> str:
    path = write_submission(
        tmp_path_factory.mktemp("sub") / "sub.csv", recommendations(queries, 1), TEAM, EMAIL
    )
    return path.read_text(encoding="utf-8")


def kinds(problems: list[Problem]) -> set[str]:
    return {p.kind for p in problems}


def check_text(tmp_path: Path, text: str, challenge, name: str = "sub.csv") -> list[Problem]:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return verify_submission(path, challenge)


def edit_row(text: str, index: int, edit: Callable[[list[str]], list[str]]) -> tuple[str, int, int]:
    """Apply `edit` to the fields (pid first) of data row `index`;
    returns the text, the row's line and pid."""
    lines = text.split("\n")
    fields = [f.strip() for f in lines[index + 1].split(",")]
    lines[index + 1] = ", ".join(edit(fields))
    return "\n".join(lines), index + 2, int(fields[0])


# -- the writer's output is valid ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sub.csv", "sub.csv.gz"])
def test_writer_output_is_valid(tmp_path, challenge, queries, name):
    path = write_submission(tmp_path / name, recommendations(queries, 2), TEAM, EMAIL)
    assert verify_submission(path, challenge) == []
    assert verify_submission(path, queries) == []  # Queries work as well as a path
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"


def test_formatting_variants_are_valid(tmp_path, challenge, valid_text):
    lines = valid_text.splitlines()
    variants = {
        "no space after commas": "\n".join(line.replace(", ", ",") for line in lines),
        "comments, blank lines, CRLF": "# made by hand\n\n"
        + "\r\n".join(lines[:5] + ["", "  # note"] + lines[5:]),
        "rows in another order": "\n".join([lines[0], *reversed(lines[1:])]),
        "spaces around the team_info fields": lines[0].replace(",", " , ")
        + "\n"
        + "\n".join(lines[1:]),
    }
    for what, text in variants.items():
        assert check_text(tmp_path, text, challenge) == [], what


# -- each broken rule has its own kind and message -------------------------------------------------


def test_missing_pid(tmp_path, challenge, valid_text):
    lines = valid_text.split("\n")
    pid = int(lines[4].split(",")[0])
    problems = check_text(tmp_path, "\n".join(lines[:4] + lines[5:]), challenge)
    assert problems == [Problem(V.MISSING_PID, "challenge playlist has no row", None, pid)]
    assert f"pid {pid}: challenge playlist has no row" in format_problems(problems)


def test_duplicate_pid(tmp_path, challenge, valid_text):
    lines = valid_text.split("\n")
    problems = check_text(tmp_path, "\n".join(lines + [lines[3]]), challenge)
    [p] = problems
    assert (p.kind, p.line, p.pid) == (V.DUPLICATE_PID, len(lines) + 1, int(lines[3].split(",")[0]))
    assert "first is on line 4" in p.message


def test_499_tracks(tmp_path, challenge, valid_text):
    text, line, pid = edit_row(valid_text, 7, lambda f: f[:-1])
    [p] = check_text(tmp_path, text, challenge)
    assert (p.kind, p.line, p.pid) == (V.TRACK_COUNT, line, pid)
    assert "499 tracks, expected 500" in p.message


def test_repeated_track(tmp_path, challenge, valid_text):
    text, line, pid = edit_row(valid_text, 2, lambda f: f[:300] + [f[10]] + f[301:])
    [p] = check_text(tmp_path, text, challenge)
    assert (p.kind, p.line, p.pid) == (V.REPEATED_TRACK, line, pid)
    assert "1 track(s) recommended more than once" in p.message


def test_seed_among_recommendations(tmp_path, challenge, queries, valid_text):
    index = next(i for i, q in enumerate(queries) if len(q.seeds) == 5)
    seed = queries[index].seeds[3]
    text, line, pid = edit_row(valid_text, index, lambda f: f[:42] + [seed] + f[43:])
    [p] = check_text(tmp_path, text, challenge)
    assert (p.kind, p.line, p.pid) == (V.SEED_TRACK, line, queries[index].pid)
    assert f"first {seed} (track 42)" in p.message


@pytest.mark.parametrize(
    "bad",
    [
        "spotify:track:123",
        "spotify:album:" + "A" * 22,
        "spotify:track:" + "-" * 22,
        "spotify:track:" + "A" * 23,
        "",
    ],
)
def test_malformed_uri(tmp_path, challenge, valid_text, bad):
    text, line, pid = edit_row(valid_text, 5, lambda f: f[:100] + [bad] + f[101:])
    [p] = check_text(tmp_path, text, challenge)
    assert (p.kind, p.line, p.pid) == (V.MALFORMED_URI, line, pid)
    assert "(track 100)" in p.message and repr(bad) in p.message


@pytest.mark.parametrize(
    "header, expected",
    [
        ("team_info,my team,main", "3 fields, not 4"),
        ("team_info,my team,main,me@x.org,extra", "5 fields, not 4"),
        ("team_info,,main,me@x.org", "empty team name"),
        ("team_info,my team,mian,me@x.org", "'mian', not main or creative"),
        ("team_info,my team,main,not an email", "is not an email address"),
        ("teaminfo,my team,main,me@x.org", "the first line must be the team_info line"),
    ],
)
def test_bad_team_info(tmp_path, challenge, valid_text, header, expected):
    text = header + valid_text[valid_text.index("\n") :]
    problems = check_text(tmp_path, text, challenge)
    assert kinds(problems) == {V.TEAM_INFO} and len(problems) == 1
    assert problems[0].line == 1 and expected in problems[0].message


def test_team_info_missing_or_late(tmp_path, challenge, valid_text):
    header, rest = valid_text.split("\n", 1)
    missing = check_text(tmp_path, rest, challenge)
    assert missing == [
        Problem(V.TEAM_INFO, missing[0].message, 1)
    ]  # line 1 (a row) is still checked
    assert "must start with the team_info line, not a row" in missing[0].message
    late = check_text(tmp_path, rest + header + "\n", challenge)
    assert kinds(late) == {V.TEAM_INFO} and "must come first" in late[-1].message
    twice = check_text(tmp_path, valid_text + header + "\n", challenge)
    assert (
        kinds(twice) == {V.TEAM_INFO}
        and "second team_info line (the first is on line 1)" in twice[0].message
    )
    assert check_text(tmp_path, "", challenge)[0].message.startswith("no team_info line")
    assert (
        check_text(tmp_path, "# team_info,a,main,b@c.d\n\n" + rest, challenge)[0].kind
        == V.TEAM_INFO
    )


def test_creative_track_is_valid(tmp_path, challenge, queries):
    path = write_submission(
        tmp_path / "c.csv", recommendations(queries, 4), "t", "e@x.org", track="creative"
    )
    assert path.read_text().startswith("team_info,t,creative,e@x.org\n")
    assert verify_submission(path, challenge) == []


@pytest.mark.parametrize("pid_text", ["x12", "12.0", "-3", "", "1e3", "٣", "0012", "+5"])
def test_non_integer_pid(tmp_path, challenge, valid_text, pid_text):
    text, line, _ = edit_row(valid_text, 1, lambda f: [pid_text] + f[1:])
    problems = check_text(tmp_path, text, challenge)
    assert kinds(problems) == {V.BAD_PID, V.MISSING_PID}
    assert problems[0].line == line and problems[0].pid is None


def test_unknown_pid(tmp_path, challenge, valid_text):
    text, line, pid = edit_row(valid_text, 0, lambda f: ["999999"] + f[1:])
    problems = check_text(tmp_path, text, challenge)
    assert [(p.kind, p.line, p.pid) for p in problems] == [
        (V.UNKNOWN_PID, line, 999999),
        (V.MISSING_PID, None, pid),
    ]


def test_encodings(tmp_path, challenge, valid_text):
    for encoding in ("latin-1", "utf-16", "utf-8-sig"):
        (tmp_path / "e.csv").write_bytes(valid_text.encode(encoding))
        problems = verify_submission(tmp_path / "e.csv", challenge)
        assert problems and problems[0].kind == V.ENCODING and problems[0].line == 1, encoding
    (tmp_path / "e.csv").write_bytes(valid_text.encode("latin-1"))
    assert (
        "not UTF-8: byte 0xe9 at column 14"
        in verify_submission(tmp_path / "e.csv", challenge)[0].message
    )


def test_gzip_problems(tmp_path, challenge, valid_text):
    data = gzip.compress(valid_text.encode("utf-8"))
    (tmp_path / "t.csv.gz").write_bytes(data[: len(data) // 2])
    problems = verify_submission(tmp_path / "t.csv.gz", challenge)
    assert problems[0].kind == V.GZIP and "broken" in problems[0].message
    (tmp_path / "p.csv.gz").write_text(valid_text, encoding="utf-8")
    problems = verify_submission(tmp_path / "p.csv.gz", challenge)
    assert [p.kind for p in problems] == [V.GZIP] and "not gzip-compressed" in problems[0].message
    with pytest.raises(UserError, match="no such file"):
        verify_submission(tmp_path / "absent.csv", challenge)


def test_report_is_capped_per_kind(tmp_path, challenge, queries):
    """Every row broken twice over: the report keeps 20 of each kind and counts the rest."""
    recs = recommendations(queries, 5)
    header = f"team_info,{TEAM},main,{EMAIL}\n"
    rows = "".join(
        f"{pid}, " + ", ".join(uris[:-1] + ["spotify:track:bad"]) + "\n"
        for pid, uris in recs.items()
        for _ in range(3)
    )
    (tmp_path / "x.csv").write_text(header + rows, encoding="utf-8")
    problems = verify_submission(tmp_path / "x.csv", challenge, max_per_kind=5)
    per_kind = {k: [p for p in problems if p.kind == k] for k in kinds(problems)}
    assert set(per_kind) == {V.DUPLICATE_PID, V.MALFORMED_URI}
    assert len(per_kind[V.MALFORMED_URI]) == 6 and per_kind[V.MALFORMED_URI][-1].omitted == 60 - 5
    assert per_kind[V.DUPLICATE_PID][-1].omitted == 40 - 5
    report = format_problems(problems)
    assert (
        report.startswith("100 problems")
        and "malformed_uri (60):" in report
        and len(report.splitlines()) == 15
    )


# -- fuzz ------------------------------------------------------------------------------------------


def canonical(data: bytes, gz_name: bool):
    """What a submission file says (team_info fields,
    rows as sorted field tuples), or None if it is not UTF-8."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, ValueError):
            return None
    elif gz_name:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line and not line.startswith("#")]
    fields = [tuple(map(str.strip, line.split(","))) for line in lines]
    return (fields[0], sorted(fields[1:])) if fields else None


class Mutator:
    """Random edits of a submission's lines/bytes. Content
    edits return the problem kind they must cause."""

    def __init__(self, rng: random.Random, queries: list[Query], pool: list[str]):
        self.rng, self.queries, self.pool = rng, {q.pid: q for q in queries}, pool

    # formatting only: never changes what the file says
    def benign(self, lines: list[str]) -> list[str]:
        rng, lines = self.rng, list(lines)
        what = rng.randrange(6)
        i = rng.randrange(1, len(lines) + 1)
        if what == 0:
            lines.insert(i, rng.choice(["", "   ", "# a comment, with commas", "\t# x"]))
        elif what == 1:
            j = rng.randrange(1, len(lines))
            lines[j] = (
                lines[j].replace(", ", ",") if ", " in lines[j] else lines[j].replace(",", ", ")
            )
        elif what == 2:
            lines = [line + "\r" for line in lines]
        elif what == 3:
            h = next(i for i, line in enumerate(lines) if line.strip().startswith("team_info"))
            body = [line for line in lines[h + 1 :] if line.strip()]
            rng.shuffle(body)
            lines = [*lines[: h + 1], *body, ""]
        elif what == 4:
            j = rng.randrange(len(lines))
            lines[j] = " " + lines[j] + " \t"
        else:
            lines.insert(0, "# header comment")
        return lines

    def _row(self, lines: list[str]) -> tuple[int, list[str]]:
        rows = [j for j, line in enumerate(lines) if line.strip()[:1].isdigit()]
        j = self.rng.choice(rows)
        return j, [f.strip() for f in lines[j].split(",")]

    def content(self, lines: list[str]) -> tuple[list[str], str]:
        """One edit that changes what the file says;
        returns the lines and the kind of problem it causes."""
        rng, lines = self.rng, list(lines)
        j, f = self._row(lines)
        pid, seeds = int(f[0]), self.queries[int(f[0])].seeds
        what = rng.randrange(13)
        if what == 0:
            del lines[j]
            return lines, V.MISSING_PID
        if what == 1:
            lines.insert(rng.randrange(j + 1, len(lines) + 1), lines[j])
            return lines, V.DUPLICATE_PID
        if what == 2 and seeds:
            f[rng.randrange(1, len(f))] = rng.choice(seeds)
            kind = V.SEED_TRACK
        elif what == 3:
            a, b = rng.sample(range(1, len(f)), 2)
            f[a] = f[b]
            kind = V.REPEATED_TRACK
        elif what == 4:
            del f[rng.randrange(1, len(f))]
            kind = V.TRACK_COUNT
        elif what == 5:
            taken = set(f) | set(seeds)
            f.insert(
                rng.randrange(1, len(f) + 1), rng.choice([u for u in self.pool if u not in taken])
            )
            kind = V.TRACK_COUNT
        elif what == 6:
            k = rng.randrange(1, len(f))
            f[k] = rng.choice(
                [
                    f[k][:-1],
                    f[k] + "x",
                    f[k].replace("track", "album"),
                    f[k][:20] + "+" + f[k][21:],
                    f[k].replace(":", "", 1),
                ]
            )
            kind = V.MALFORMED_URI
        elif what == 7:
            f[0] = rng.choice(["x" + f[0], f[0] + ".0", "-" + f[0], "", "0" + f[0], f[0] + "a"])
            kind = V.BAD_PID
        elif what == 8:
            f[0] = str(rng.choice([pid + 1, pid + 100000, 0]))
            kind = V.UNKNOWN_PID
        elif what == 9:
            f[0] = str(rng.choice([p for p in self.queries if p != pid]))
            kind = V.DUPLICATE_PID
        elif what == 10:
            lines[j] = "#" + lines[j]
            return lines, V.MISSING_PID
        elif what == 11:
            return self.team_info(lines), V.TEAM_INFO
        else:
            k = rng.randrange(len(lines) - 1)
            lines[k : k + 2] = [lines[k] + lines[k + 1]]  # two lines merged: a lost newline
            return lines, ""
        lines[j] = ", ".join(f)
        return lines, kind

    def team_info(self, lines: list[str]) -> list[str]:
        rng = self.rng
        h = next(i for i, line in enumerate(lines) if line.startswith("team_info"))
        header, what = lines[h], rng.randrange(6)
        if what == 0:
            del lines[h]
        elif what == 1:
            lines.insert(rng.randrange(h + 2, len(lines) + 1), lines.pop(h))
        elif what == 2:
            lines.insert(rng.randrange(h + 1, len(lines) + 1), header)
        else:
            fields = header.split(",")
            if what == 3:
                fields[2] = rng.choice(["mian", "", "Main", "creative track"])
            elif what == 4:  # (any other non-empty team name would be valid)
                if rng.random() < 0.5:
                    fields[1] = rng.choice(["", "  "])
                else:
                    fields[3] = rng.choice(["", "no-at-sign", "a b@c.d", "a@"])
            else:
                fields.insert(rng.randrange(1, 5), "extra") if rng.random() < 0.5 else fields.pop()
            lines[h] = ",".join(fields)
        return lines

    def bytes_level(self, data: bytes, start: int) -> bytes:
        """Garbage inserted / a byte deleted (after byte `start`),
        truncation, or another encoding."""
        rng, what = self.rng, self.rng.randrange(5)
        i = rng.randrange(start, len(data))
        if what == 0:
            garbage = bytes(
                rng.choice(b" ,#\n\r\t\x00\xff\xe9\xc3\x80\x1caZ09:-_")
                for _ in range(rng.randint(1, 3))
            )
            return data[:i] + garbage + data[i:]
        if what == 1:
            return data[:i] + data[i + 1 :]
        if what == 2:
            return data[: rng.randrange(len(data))]
        text = data.decode("utf-8")
        return text.encode(rng.choice(["utf-16", "utf-16-le", "latin-1", "cp1252", "utf-8-sig"]))

    def gzip_level(self, data: bytes) -> bytes:
        """A gzipped file, corrupted:
        a flipped byte, truncation, or trailing garbage (zeros are harmless)."""
        rng, gz = self.rng, bytearray(gzip.compress(data, compresslevel=1, mtime=0))
        what = rng.randrange(4)
        if what == 0:
            i = rng.randrange(len(gz))
            gz[i] ^= 1 << rng.randrange(8)
            return bytes(gz)
        if what == 1:
            return bytes(gz[: rng.randrange(len(gz))])
        if what == 2:
            return bytes(gz) + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        return bytes(gz) + b"\x00" * rng.randint(1, 3)


def test_fuzz_mutations(tmp_path, challenge, queries, valid_text):
    rng = random.Random(2018)
    pool = sorted({u for line in valid_text.splitlines()[1:] for u in line.split(", ")[1:]})
    mutator = Mutator(rng, queries, pool)
    original_lines = valid_text.split("\n")
    original = canonical(valid_text.encode("utf-8"), False)
    counts = {"accepted": 0, "rejected": 0, "rejected for the expected kind": 0}
    started, cpu = time.perf_counter(), time.process_time()
    for case in range(1000):
        lines, kind = list(original_lines), None
        for _ in range(rng.choice([0, 0, 1, 2])):
            lines = mutator.benign(lines)
        layer = rng.random()
        if layer < 0.55:
            lines, kind = mutator.content(lines)
        data = "\n".join(lines).encode("utf-8")
        if 0.55 <= layer < 0.8:
            start = (
                data.index(b"\n", data.index(b"team_info")) + 1
            )  # the team name may change freely
            data = mutator.bytes_level(data, start)
        gz = rng.random() < 0.3 or layer >= 0.9
        if layer >= 0.9:
            data = mutator.gzip_level(data)
        elif gz:
            data = gzip.compress(data, compresslevel=1)
        path = tmp_path / ("fuzz.csv.gz" if gz else "fuzz.csv")
        path.write_bytes(data)
        problems = verify_submission(path, queries)
        where = f"case {case}: {data[:120]!r}...\n{format_problems(problems)}"
        if canonical(data, gz) == original:
            assert problems == [], where
            counts["accepted"] += 1
        else:
            assert problems, where
            assert not kind or kind in kinds(problems), where
            counts["rejected"] += 1
            counts["rejected for the expected kind"] += bool(kind)
        path.unlink()
    elapsed = time.perf_counter() - started
    print(f"fuzz: {counts} in {elapsed:.1f} s ({time.process_time() - cpu:.1f} s CPU)")
    assert (
        counts["accepted"] >= 100
        and counts["rejected"] >= 700
        and counts["rejected for the expected kind"] >= 400
    )
    assert elapsed < 60


def test_cut_values_are_marked_with_an_ellipsis_and_their_quotes_closed(challenge, tmp_path):
    from mmcf.mpd.errors import quoted

    assert quoted("x" * 100, 10) == "'" + "x" * 10 + "…'" and quoted("short", 10) == "'short'"
    assert quoted(list(range(50)), 10) == "[0, 1, 2, …"
    path = tmp_path / "long.csv"
    path.write_text(
        f"team_info,{TEAM},main,{EMAIL}\n{'9' * 30}x{'y' * 80},{random_uri(random.Random(1))}\n"
    )
    message = next(str(p) for p in verify_submission(path, challenge) if p.kind == V.BAD_PID)
    assert "…'" in message and "y" * 60 not in message
