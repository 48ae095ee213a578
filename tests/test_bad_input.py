"""User mistakes through the `mmcf` CLI: each one exits non-zero with one clear line naming the file
(and pid or line where there is one), never a traceback. Seeds unknown to the vocabulary and long
seed lists work.

Bad inputs are built programmatically from the tiny real-format fixture (tests/conftest.py): one
good playlist list, one mutation per case.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from conftest import make_playlists, recommend_argv, submit_argv, train_argv, uri, write_mpd
from mmcf.mpd.split import split_mpd
from mmcf.submission.cli import main
from mmcf.submission.pipeline.kinds import build_config
from mmcf.submission.pipeline.training import train

REPO = Path(__file__).resolve().parents[1]
SUBMIT = ("--team", "t", "--email", "a@b.c")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def error_line(err: str, command: str) -> str:
    """The one `mmcf COMMAND: error: …` line of stderr (progress bars aside)."""
    lines = [line.strip() for line in re.split(r"[\r\n]+", err) if line.strip().startswith("mmcf ")]
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    assert lines[0].startswith(f"mmcf {command}: error: "), lines[0]
    return lines[0]


def fails(capsys, command: str, *argv, expect: tuple[str, ...] = ()) -> str:
    """Run `mmcf COMMAND ARGV`;
    assert exit 2 and one error line containing every `expect` fragment."""
    code, _, err = run(capsys, command, *argv)
    line = error_line(err, command)
    assert code == 2, (code, err)
    for fragment in expect:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


# --------------------------------------------------------- shared data: one split, trained models


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> dict[str, Path]:
    """A split of the tiny MPD (30 challenge playlists)
    and popularity + kNN models trained on it."""
    root = tmp_path_factory.mktemp("bad_input")
    mpd = write_mpd(root / "mpd", make_playlists(400), per_slice=100)
    paths = split_mpd(mpd, root / "split", per_category=3, seed=0)
    models = root / "models"
    train(paths["train"], models, "popularity")
    train(paths["train"], models, "knn", build_config("knn", {}))
    return {
        "root": root,
        "train": paths["train"],
        "challenge": paths["challenge"],
        "answers": paths["answers"],
        "models": models,
    }


@pytest.fixture(scope="module")
def challenge_data(work) -> dict:
    return json.loads(work["challenge"].read_text(encoding="utf-8"))


def submit(
    capsys, work, challenge: Path, out: Path, model: str = "popularity", models: Path | None = None
):
    return run(
        capsys,
        *submit_argv(models or work["models"], challenge, out, model),
        *SUBMIT,
    )


# --------------------------------------------------------- MPD slices: one bad playlist each


def _set(field: str, value) -> Callable[[list[dict]], None]:
    return lambda ps: ps[3].__setitem__(field, value)


def _track(field: str, value=None, delete: bool = False) -> Callable[[list[dict]], None]:
    def mutate(ps: list[dict]) -> None:
        track = ps[3]["tracks"][2]
        if delete:
            del track[field]
        else:
            track[field] = value

    return mutate


# case → (mutation of playlists (pids 0..29, slice 0-19 and 20-39), fragments the error line must
# hold)
PLAYLIST_CASES: dict[str, tuple[Callable[[list[dict]], None], tuple[str, ...]]] = {
    "missing pid": (
        lambda ps: ps[3].pop("pid"),
        ("mpd.slice.0-19.json", "playlist #3", "has no 'pid'"),
    ),
    "missing tracks": (
        lambda ps: ps[3].pop("tracks"),
        ("mpd.slice.0-19.json", "pid 3", "has no 'tracks'"),
    ),
    "num_tracks as string": (
        _set("num_tracks", "30"),
        ("pid 3", "'num_tracks' should be int", "'30'"),
    ),
    "pid as string": (_set("pid", "3"), ("pid 3", "'pid' should be int, got '3'")),
    "name as number": (_set("name", 42), ("pid 3", "'name' should be str")),
    "empty playlist": (_set("tracks", []), ("pid 3", "no tracks")),
    "playlist not an object": (
        lambda ps: ps.__setitem__(3, "oops"),
        ("playlist #3", "not a JSON object"),
    ),
    "track without uri": (
        _track("track_uri", delete=True),
        ("pid 3", "track 2 has no 'track_uri'"),
    ),
    "track uri null": (
        _track("track_uri", None),
        ("pid 3", "track 2", "'track_uri' should be str"),
    ),
    "malformed track uri": (
        _track("track_uri", "spotify:track:abc"),
        ("pid 3", "malformed track_uri"),
    ),
    "album uri as track": (
        _track("artist_uri", uri("track", 5)),
        ("pid 3", "malformed artist_uri"),
    ),
    "pos as string": (_track("pos", "2"), ("pid 3", "'pos' should be int")),
    "duplicate pid in a slice": (_set("pid", 7), ("mpd.slice.0-19.json", "pid 7", "duplicate pid")),
    "duplicate pid across slices": (
        lambda ps: ps[25].__setitem__("pid", 4),
        ("mpd.slice.20-39.json", "pid 4", "duplicate pid"),
    ),
}


@pytest.mark.parametrize("case", PLAYLIST_CASES)
def test_bad_playlist(tmp_path, capsys, case):
    mutate, expect = PLAYLIST_CASES[case]
    playlists = copy.deepcopy(make_playlists(30))
    mutate(playlists)
    mpd = write_mpd(tmp_path / "mpd", playlists, per_slice=20)
    fails(
        capsys,
        *train_argv(mpd, tmp_path / "m", "popularity"),
        expect=expect,
    )
    assert not (tmp_path / "m" / "popularity").exists()


def _slice_text(n: int = 20) -> str:
    """A real-looking (pretty-printed) slice file."""
    return json.dumps(
        {"info": {"slice": "0-19"}, "playlists": make_playlists(n)}, indent=2, ensure_ascii=False
    )


def _syntax_error(text: str) -> tuple[str, int]:
    """The text with a doubled comma on one line past line 200, and that line's number (1-based)."""
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines) if '"track_uri"' in line and i > 200)
    lines[number] = lines[number].replace(",", ",,", 1)
    return "\n".join(lines), number + 1


def test_malformed_json_names_file_and_line(tmp_path, capsys):
    text, line = _syntax_error(_slice_text())
    (tmp_path / "mpd").mkdir()
    (tmp_path / "mpd" / "mpd.slice.0-19.json").write_text(text, encoding="utf-8")
    fails(
        capsys,
        *train_argv(tmp_path / "mpd", tmp_path / "m", "popularity"),
        expect=("mpd.slice.0-19.json", f"line {line}", "not valid JSON"),
    )


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_truncated_slice(tmp_path, capsys, suffix):
    data = _slice_text().encode("utf-8")
    if suffix.endswith(".gz"):
        data = gzip.compress(data)
    (tmp_path / "mpd").mkdir()
    path = tmp_path / "mpd" / f"mpd.slice.0-19{suffix}"
    path.write_bytes(data[: len(data) // 2])
    fails(
        capsys,
        *train_argv(tmp_path / "mpd", tmp_path / "m", "popularity"),
        expect=(
            path.name,
            "truncated or corrupt gzip" if suffix.endswith(".gz") else "not valid JSON",
        ),
    )


@pytest.mark.parametrize(
    "content, expect",
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe{ \x00bad", "not valid JSON"),
        (b'[{"pid": 0}]', "expected an object with a 'playlists' list"),
        (b'{"info": {}, "playlists": {"0": {}}}', "expected an object with a 'playlists' list"),
    ],
)
def test_not_a_slice(tmp_path, capsys, content, expect):
    (tmp_path / "mpd").mkdir()
    (tmp_path / "mpd" / "mpd.slice.0-19.json").write_bytes(content)
    fails(
        capsys,
        *train_argv(tmp_path / "mpd", tmp_path / "m", "popularity"),
        expect=("mpd.slice.0-19.json", expect),
    )


@pytest.mark.parametrize(
    "files", [[], ["README.md", "mpd.slice.json", "slice.0-999.json", "mpd.slice.0-9.csv"]]
)
def test_directory_without_slices(tmp_path, capsys, files):
    mpd = tmp_path / "mpd"
    mpd.mkdir()
    for name in files:
        (mpd / name).write_text("{}")
    for argv in (
        ("train", "--mpd", mpd, "--model-dir", tmp_path / "m", "--model", "popularity"),
        ("split", "--mpd", mpd, "--out", tmp_path / "s"),
    ):
        fails(capsys, *argv, expect=(str(mpd), "no MPD slice files"))


def test_playlist_of_250_tracks_trains(tmp_path, capsys):
    playlists = make_playlists(40)
    distinct = {t["track_uri"]: t for p in playlists for t in p["tracks"]}
    playlists[5]["tracks"] = [dict(t, pos=i) for i, t in enumerate(list(distinct.values())[:250])]
    assert len(playlists[5]["tracks"]) == 250
    mpd = write_mpd(tmp_path / "mpd", playlists, per_slice=20)
    code, out, _ = run(
        capsys, "train", "--mpd", mpd, "--model-dir", tmp_path / "m", "--model", "knn"
    )
    assert code == 0 and "trained knn" in out


# --------------------------------------------------------- challenge sets


def _challenge_case(data: dict, case: str) -> tuple[dict, tuple[str, ...]]:
    """A copy of `data` broken the way `case` says, and the fragments its error must hold."""
    data = copy.deepcopy(data)
    ps = data["playlists"]
    by_seeds = {len(p["tracks"]): p for p in ps}
    one, five, hundred = by_seeds[1], by_seeds[5], by_seeds[100]
    if case == "no seeds and no title":
        p = next(p for p in ps if not p["tracks"])
        del p["name"]
        return data, (f"pid {p['pid']}", "neither seed tracks nor a title")
    if case == "no seeds and a blank title":
        p = next(p for p in ps if not p["tracks"])
        p["name"] = "   "
        return data, (f"pid {p['pid']}", "neither seed tracks nor a title")
    if case == "unknown category shape":
        five["tracks"] = five["tracks"][:3]
        return data, (f"pid {five['pid']}", "matches no challenge category", "3 in-order seeds")
    if case == "250 seeds":
        hundred["tracks"] = [dict(hundred["tracks"][i % 100], pos=i) for i in range(250)]
        return data, (f"pid {hundred['pid']}", "matches no challenge category")
    if case == "duplicate pid":
        one["pid"] = five["pid"]
        return data, (f"pid {five['pid']}", "duplicate pid")
    if case == "seed without uri":
        del one["tracks"][0]["track_uri"]
        return data, (f"pid {one['pid']}", "track 0 has no 'track_uri'")
    if case == "malformed seed uri":
        one["tracks"][0]["track_uri"] = "spotify:track:" + "x" * 21
        return data, (f"pid {one['pid']}", "malformed track_uri")
    if case == "num_tracks as string":
        one["num_tracks"] = str(one["num_tracks"])
        return data, (f"pid {one['pid']}", "'num_tracks' should be int")
    if case == "pid as string":
        one["pid"] = str(one["pid"])
        return data, (f"#{ps.index(one)}", "no integer 'pid'")
    if case == "name as list":
        one["name"] = ["rock"]
        return data, (f"pid {one['pid']}", "'name' should be")
    if case == "no playlists":
        data["playlists"] = []
        return data, ("has no playlists",)
    if case == "an MPD slice's shape":
        return {"info": {}, "playlist": ps}, ("expected an object with a 'playlists' list",)
    raise KeyError(case)


CHALLENGE_CASES = [
    "no seeds and no title",
    "no seeds and a blank title",
    "unknown category shape",
    "250 seeds",
    "duplicate pid",
    "seed without uri",
    "malformed seed uri",
    "num_tracks as string",
    "pid as string",
    "name as list",
    "no playlists",
    "an MPD slice's shape",
]


@pytest.mark.parametrize("case", CHALLENGE_CASES)
def test_bad_challenge_set(work, challenge_data, tmp_path, capsys, case):
    data, expect = _challenge_case(challenge_data, case)
    path = tmp_path / "challenge_set.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "sub.csv"
    fails(
        capsys,
        *submit_argv(work["models"], path, out, "popularity"),
        *SUBMIT,
        expect=(str(path), *expect),
    )
    assert not out.exists() and not (tmp_path / "sub.csv.partial").exists()
    fails(capsys, "verify", tmp_path / "any.csv", "--challenge", path, expect=(str(path), *expect))


def test_malformed_challenge_json(work, tmp_path, capsys):
    text, line = _syntax_error(json.dumps(json.loads(work["challenge"].read_text()), indent=2))
    path = tmp_path / "challenge_set.json"
    path.write_text(text, encoding="utf-8")
    fails(
        capsys,
        *submit_argv(work["models"], path, tmp_path / "s.csv", "popularity"),
        *SUBMIT,
        expect=(str(path), f"line {line}", "not valid JSON"),
    )
    fails(
        capsys,
        *submit_argv(work["models"], tmp_path, tmp_path / "s.csv", "popularity"),
        *SUBMIT,
        expect=(str(tmp_path),),
    )


def test_unknown_seeds_still_recommend(work, challenge_data, tmp_path, capsys):
    """Seeds the model never saw are dropped, not fatal:
    partly unknown and wholly unknown seed lists."""
    data = copy.deepcopy(challenge_data)
    unknown = iter(uri("track", 10**9 + i) for i in range(10**6))
    changed = 0
    for p in data["playlists"]:
        for i, track in enumerate(p["tracks"]):
            if (
                i % 2 == 0 or len(p["tracks"]) == 5
            ):  # half the seeds; every seed of the 5-seed playlists
                track["track_uri"] = next(unknown)
                changed += 1
    assert changed > 100
    path = tmp_path / "challenge_set.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for model in ("knn", "popularity"):
        out = tmp_path / f"{model}.csv.gz"
        code, _, err = submit(capsys, work, path, out, model)
        assert code == 0, err
        code, out_text, err = run(capsys, "verify", out, "--challenge", path)
        assert code == 0 and "valid" in out_text, err


# --------------------------------------------------------- recommend


def test_recommend_with_250_seeds_and_unknown_ones(work, capsys):
    train_playlists = [
        p for f in sorted(work["train"].iterdir()) for p in json.loads(f.read_text())["playlists"]
    ]
    seeds = list(dict.fromkeys(t["track_uri"] for p in train_playlists for t in p["tracks"]))[:245]
    seeds += [uri("track", 10**9 + i) for i in range(5)]  # 5 unknown to the vocabulary
    argv = [a for s in seeds for a in ("--track", s)]
    code, out, err = run(
        capsys,
        *recommend_argv(work["models"], "knn"),
        "-n",
        30,
        "--json",
        *argv,
    )
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 30 and not {r["uri"] for r in rows} & set(seeds)


def test_recommend_nothing_usable(work, capsys):
    fails(capsys, "recommend", "--model-dir", work["models"], "--model", "knn", expect=("--title",))
    fails(
        capsys,
        *recommend_argv(work["models"], "knn"),
        "--track",
        uri("track", 10**9),
        expect=("none of the 1 tracks",),
    )


@pytest.fixture(scope="module")
def cnn_models(work) -> Path:
    """A tiny one-epoch title model (and the DAE it learns from) in its own model directory."""
    from mmcf.models.charcnn import CNNConfig
    from mmcf.models.dae import DAEConfig

    models = work["root"] / "cnn_models"
    from mmcf.mpd.split import ValidationConfig

    train(
        work["train"],
        models,
        "dae",
        DAEConfig(configs=("0to1",), epochs=1, hidden=8),
        validation=ValidationConfig(per_category=2),
    )
    train(work["train"], models, "cnn", CNNConfig(epochs=1, filters=8, embedding=8))
    return models


def test_recommend_title_that_normalises_to_nothing(cnn_models, capsys):
    fails(
        capsys,
        *recommend_argv(cnn_models, "cnn"),
        "--title",
        "!!!",
        expect=("'!!!'", "normalises to nothing"),
    )
    code, out, err = run(
        capsys,
        *recommend_argv(cnn_models, "cnn"),
        "--title",
        "rock anthems",
        "-n",
        5,
        "--json",
    )
    assert code == 0 and len(json.loads(out)) == 5, err


class _Payload:
    """Unpickling this runs os.mkdir(marker): what a hostile 'weights' file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.mark.parametrize("case", ["truncated", "code inside"])
def test_bad_torch_weights_are_refused_not_run(cnn_models, tmp_path, capsys, case):
    import torch

    models = Path(shutil.copytree(cnn_models, tmp_path / "models"))
    weights, marker = models / "cnn" / "weights.pt", tmp_path / "pwned"
    if case == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    else:
        torch.save({"w": torch.zeros(2), "x": _Payload(marker)}, weights)
    fails(
        capsys,
        *recommend_argv(models, "cnn"),
        "--title",
        "rock",
        expect=(str(weights), "unreadable model weights"),
    )
    assert not marker.exists()


# --------------------------------------------------------- model directories


def _copy_models(work, tmp_path: Path) -> Path:
    return Path(shutil.copytree(work["models"], tmp_path / "models"))


@pytest.mark.parametrize(
    "case",
    [
        "format version",
        "manifest not json",
        "no manifest",
        "corrupt weights",
        "corrupt vocabulary",
        "other kind",
        "no model dir",
    ],
)
def test_bad_model_directory(work, tmp_path, capsys, case):
    models = _copy_models(work, tmp_path)
    manifest = models / "knn" / "manifest.json"
    if case == "format version":
        data = json.loads(manifest.read_text())
        data["format_version"] = 99
        manifest.write_text(json.dumps(data))
        expect = (str(manifest), "format version 99", "retrain")
    elif case == "manifest not json":
        manifest.write_text('{"format_version": 1,')
        expect = (str(manifest), "unreadable manifest")
    elif case == "no manifest":
        manifest.unlink()
        expect = (str(models / "knn"), "no trained 'knn' model")
    elif case == "corrupt weights":
        weights = models / "knn" / "similarity.npz"
        weights.write_bytes(weights.read_bytes()[:200])
        expect = (str(models / "knn"), "cannot load the 'knn' model", "retrain")
    elif case == "corrupt vocabulary":
        vocab = models / "vocab.json.gz"
        vocab.write_bytes(vocab.read_bytes()[:100])
        expect = (str(vocab), "unreadable vocabulary")
    elif case == "other kind":
        (models / "popularity" / "manifest.json").replace(manifest)
        expect = (str(manifest), "'popularity' model, not 'knn'")
    else:
        models = tmp_path / "nowhere"
        expect = (str(models), "no such model directory")
    fails(
        capsys,
        *submit_argv(models, work["challenge"], tmp_path / "s.csv", "knn"),
        *SUBMIT,
        expect=expect,
    )
    fails(
        capsys,
        *recommend_argv(models, "knn"),
        "--title",
        "rock",
        expect=expect,
    )


# --------------------------------------------------------- outputs that cannot be written


def test_unwritable_outputs(work, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory")
    for out in (Path("/proc/x/sub.csv"), a_file / "sub.csv", tmp_path):
        fails(
            capsys,
            *submit_argv(work["models"], work["challenge"], out, "popularity"),
            *SUBMIT,
            expect=(str(out),),
        )
    fails(
        capsys,
        *train_argv(work["train"], a_file / "m", "popularity"),
        expect=(str(a_file / "m"),),
    )
    fails(
        capsys,
        "split",
        "--mpd",
        work["train"],
        "--out",
        a_file / "s",
        "--per-category",
        1,
        expect=(str(a_file / "s"),),
    )
    assert a_file.read_text() == "not a directory"


def test_submit_refuses_bad_arguments_before_working(work, tmp_path, capsys):
    out = tmp_path / "sub.csv"
    base = (*submit_argv(work["models"], work["challenge"], out, "popularity"),)
    fails(capsys, *base, "--team", "t", "--email", "nobody", expect=("'nobody'", "'@'"))
    fails(capsys, *base, "--team", "a,b", "--email", "a@b.c", expect=("comma",))
    fails(capsys, *base, "--batch-size", 0, *SUBMIT, expect=("--batch-size",))
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------- settings, submissions from other tools


def test_bad_settings(work, tmp_path, capsys):
    base = ("--mpd", work["train"], "--model-dir", tmp_path / "m", "--model", "knn")
    fails(capsys, "train", *base, "--set", "neighbours", expect=("KEY=VALUE", "'neighbours'"))
    fails(capsys, "train", *base, "--set", "bogus=1", expect=("no setting 'bogus'",))
    fails(
        capsys,
        "train",
        *base,
        "--set",
        "neighbours=many",
        expect=("'neighbours'", "cannot read 'many'"),
    )


def test_foreign_submissions(work, tmp_path, capsys):
    garbage = tmp_path / "other_tool.csv.gz"
    garbage.write_bytes(gzip.compress(b"pid,track_uri\n1,spotify:track:x\n")[:-8] + b"\x00" * 3)
    code, _, err = run(capsys, "verify", garbage, "--challenge", work["challenge"])
    assert code == 1 and "INVALID" in err
    fails(
        capsys,
        "verify",
        tmp_path / "missing.csv",
        "--challenge",
        work["challenge"],
        expect=(str(tmp_path / "missing.csv"), "no such file"),
    )
    fails(
        capsys,
        "evaluate",
        "--submission",
        garbage,
        "--answers",
        work["answers"],
        "--mpd",
        work["train"],
        expect=(str(garbage),),
    )
    broken_answers = tmp_path / "answers.json"
    broken_answers.write_text('{"12": {"tracks": 5}}')
    valid = tmp_path / "valid.csv"
    assert submit(capsys, work, work["challenge"], valid)[0] == 0
    fails(
        capsys,
        "evaluate",
        "--submission",
        valid,
        "--answers",
        broken_answers,
        "--mpd",
        work["train"],
        expect=(str(broken_answers), "pid 12"),
    )


# --------------------------------------------------------- real processes: stderr has no traceback


def cli_processes(*argvs) -> list[tuple[int, str]]:
    """(exit code, stderr) of `python -m submission.cli ARGV` for each ARGV, run side by side."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "mmcf.submission.cli", *map(str, argv)],
            cwd=REPO,
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for argv in argvs
    ]
    return [(p.wait(timeout=120), p.communicate()[1]) for p in processes]


def test_real_process_errors_are_one_line(work, challenge_data, tmp_path):
    text, line = _syntax_error(_slice_text())
    (tmp_path / "mpd").mkdir()
    (tmp_path / "mpd" / "mpd.slice.0-19.json").write_text(text, encoding="utf-8")
    bad_shape, expect = _challenge_case(challenge_data, "unknown category shape")
    (tmp_path / "challenge_set.json").write_text(json.dumps(bad_shape))
    models = _copy_models(work, tmp_path)
    manifest = models / "popularity" / "manifest.json"
    from mmcf.models.store import FORMAT_VERSION

    manifest.write_text(
        manifest.read_text().replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 0')
    )
    cases = [
        (
            (*train_argv(tmp_path / "mpd", tmp_path / "m", "popularity"),),
            ("mpd.slice.0-19.json", f"line {line}"),
        ),
        (
            (
                *submit_argv(
                    work["models"],
                    tmp_path / "challenge_set.json",
                    tmp_path / "s.csv",
                    "popularity",
                ),
                *SUBMIT,
            ),
            expect,
        ),
        (
            (
                *submit_argv(work["models"], work["challenge"], "/proc/x/sub.csv", "popularity"),
                *SUBMIT,
            ),
            ("/proc/x/sub.csv",),
        ),
        (
            (
                *submit_argv(models, work["challenge"], tmp_path / "s.csv", "popularity"),
                *SUBMIT,
            ),
            (str(manifest), "format version 0"),
        ),
    ]
    for (argv, expect), (code, stderr) in zip(cases, cli_processes(*(argv for argv, _ in cases))):
        assert code == 2 and "Traceback" not in stderr, stderr
        line_ = error_line(stderr, argv[0])
        assert all(e in line_ for e in expect), line_
