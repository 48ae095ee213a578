"""The submission writer: the challenge's CSV layout,
refusals that name the pid, and atomic replacement."""

from __future__ import annotations

import gzip
import random

import numpy as np
import pytest

from mmcf.mpd.errors import UserError
from mmcf.submission.writer import N_TRACKS, write_submission

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TEAM, EMAIL = "Café Ñandú", "ñ@example.org"


def uris(seed: int, n: int = N_TRACKS) -> list[str]:
    rng = random.Random(seed)
    return ["spotify:track:" + "".join(rng.choice(B62) for _ in range(22)) for _ in range(n)]


@pytest.fixture
def recs() -> dict[int, list[str]]:
    return {1000002: uris(1), 17: uris(2), 999: uris(3)}


def test_layout(tmp_path, recs):
    path = write_submission(tmp_path / "sub.csv", recs, TEAM, EMAIL)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "team_info,Café Ñandú,main,ñ@example.org"
    assert lines[1] == "1000002, " + ", ".join(recs[1000002])  # the official sample's ", " layout
    assert [int(line.split(",")[0]) for line in lines[1:-1]] == list(recs)  # input order kept
    assert lines[-1] == "" and len(lines) == 5


def test_pairs_generators_and_numpy_pids(tmp_path, recs):
    a = write_submission(tmp_path / "a.csv", recs, TEAM, EMAIL)
    b = write_submission(
        tmp_path / "b.csv", ((np.int64(pid), tuple(u)) for pid, u in recs.items()), TEAM, EMAIL
    )
    assert a.read_bytes() == b.read_bytes()


def test_gzip(tmp_path, recs):
    plain = write_submission(tmp_path / "sub.csv", recs, TEAM, EMAIL, track="creative")
    packed = write_submission(tmp_path / "sub.csv.gz", recs, TEAM, EMAIL, track="creative")
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert plain.read_text(encoding="utf-8").startswith("team_info,Café Ñandú,creative,")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda u: u[:-1], "pid 17: 499 tracks, a submission needs exactly 500"),
        (lambda u: u + uris(9, 1), "pid 17: 501 tracks"),
        (
            lambda u: u[:250] + [u[3]] + u[251:],
            "pid 17: track spotify:track:\\w{22} is recommended more than once",
        ),
        (
            lambda u: u[:-1] + ["spotify:track:short"],
            "pid 17: malformed track URI 'spotify:track:short'",
        ),
        (
            lambda u: u[:-1] + [u[-1].replace("track", "album")],
            "pid 17: malformed track URI 'spotify:album:",
        ),
        (
            lambda u: u[:-1] + [u[-1] + ", " + u[0]],
            "pid 17: malformed track URI",
        ),  # a comma inside a URI
        (lambda u: u[:-1] + [None], "pid 17: malformed track URI None"),
    ],
)
def test_refuses_bad_rows(tmp_path, recs, edit, message):
    recs[17] = edit(recs[17])
    with pytest.raises(UserError, match=message):
        write_submission(tmp_path / "sub.csv", recs, TEAM, EMAIL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "pid, message",
    [
        ("17", "pid '17' is not"),
        (True, "pid True is not"),
        (-4, "pid -4 is not"),
        (17, "pid 17 appears twice"),
    ],
)
def test_refuses_bad_pids(tmp_path, recs, pid, message):
    with pytest.raises(UserError, match=message):
        write_submission(tmp_path / "sub.csv", [*recs.items(), (pid, uris(4))], TEAM, EMAIL)


@pytest.mark.parametrize(
    "team, email, track, message",
    [
        ("a,b", EMAIL, "main", "team name 'a,b' contains a comma"),
        ("a\nb", EMAIL, "main", "contains a comma or a line break"),
        ("a\rb", EMAIL, "main", "contains a comma or a line break"),
        (TEAM, "x@y.z,w", "main", "email 'x@y.z,w' contains a comma"),
        (TEAM, "x@y.z\n", "main", "email .* contains a comma or a line break"),
        (TEAM, "nobody", "main", "has no '@'"),
        (" ", EMAIL, "main", "team name is empty"),
        (TEAM, EMAIL, "Main", "track must be one of main, creative"),
    ],
)
def test_refuses_bad_team_info(tmp_path, recs, team, email, track, message):
    with pytest.raises(UserError, match=message):
        write_submission(tmp_path / "sub.csv", recs, team, email, track=track)


def test_refuses_nothing_to_write(tmp_path):
    with pytest.raises(UserError, match="no recommendations"):
        write_submission(tmp_path / "sub.csv", {}, TEAM, EMAIL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["sub.csv", "sub.csv.gz"])
@pytest.mark.parametrize("failure", ["exception", "bad row"])
def test_failure_midway_keeps_previous_file(tmp_path, recs, name, failure):
    path = write_submission(tmp_path / name, recs, TEAM, EMAIL)
    before = path.read_bytes()

    def rows():
        yield 1, uris(5)
        yield 2, uris(6)
        if failure == "exception":
            raise RuntimeError("model crashed")
        yield 3, uris(7)[:-3]

    with pytest.raises(RuntimeError if failure == "exception" else UserError):
        write_submission(path, rows(), "other team", "o@x.org")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind


def test_submit_refuses_a_journal_that_does_not_follow_the_challenge(tmp_path):
    import json

    from mmcf.mpd.challenge import Query
    from mmcf.submission.submit import _journal_rows

    queries = [Query(pid=p) for p in (3, 1)]
    uris = [f"spotify:track:{i:022d}" for i in range(N_TRACKS)]
    journal, out = tmp_path / "sub.csv.partial", tmp_path / "sub.csv"

    def write_journal(pids):
        rows = [{"settings": {}}] + [{"pid": p, "uris": uris} for p in pids]
        journal.write_text("".join(json.dumps(row) + "\n" for row in rows))

    for pids in ([1, 3], [3], [3, 1, 1]):
        write_journal(pids)
        with pytest.raises(UserError, match="do not follow the challenge set"):
            write_submission(out, _journal_rows(journal, queries), "t", "t@e.org")
        assert not out.exists()
    write_journal([3, 1])
    write_submission(out, _journal_rows(journal, queries), "t", "t@e.org")
    assert [line.split(",")[0] for line in out.read_text().splitlines()] == ["team_info", "3", "1"]


def test_submit_resumes_only_the_journal_rows_that_follow_the_challenge(tmp_path):
    import json

    from mmcf.mpd.challenge import Query
    from mmcf.submission.submit import _load_partial

    queries = [Query(pid=p) for p in (3, 1, 2)]
    journal, settings = tmp_path / "sub.csv.partial", {"kind": "knn"}
    header = json.dumps({"settings": settings}) + "\n"
    row = {p: json.dumps({"pid": p, "uris": ["u"]}) + "\n" for p in (1, 2, 3)}
    for rows, answered in (
        ([3, 3, 1], [3]),  # a repeated row and what follows it are answered again
        ([1, 3], []),  # out of order from the start
        ([3, 1, 2, 2], [3, 1, 2]),
    ):
        journal.write_text(header + "".join(row[p] for p in rows))
        assert _load_partial(journal, settings, queries) == len(answered)
        assert journal.read_text() == header + "".join(row[p] for p in answered)
    journal.write_text(header + row[3] + row[1][:-3])  # a line torn by a kill
    assert _load_partial(journal, settings, queries) == 1
    journal.write_text(header.rstrip("\n"))  # the header itself torn: start anew
    assert _load_partial(journal, settings, queries) == 0
    assert json.loads(journal.read_text()) == {"settings": settings}
    assert journal.read_text().endswith("}\n")
    assert _load_partial(journal, {"kind": "als"}, queries) == 0  # other settings
    assert json.loads(journal.read_text()) == {"settings": {"kind": "als"}}
