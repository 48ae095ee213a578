"""The `mmcf` command line end to end on the tiny
real-format fixture (classic models only: fast)."""

import gzip
import json
import re

import pytest

from conftest import submit_argv, train_argv

from mmcf.submission.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def split_dir(tiny_mpd, tmp_path, capsys):
    code, out, _ = run(
        capsys, "split", "--mpd", tiny_mpd, "--out", tmp_path / "split", "--per-category", 3
    )
    assert code == 0 and "challenge_set.json" in out
    return tmp_path / "split"


@pytest.mark.parametrize("kind", ["popularity", "knn"])
def test_train_submit_verify_evaluate(split_dir, tmp_path, capsys, kind):
    model_dir, sub = tmp_path / "model", tmp_path / f"{kind}.csv.gz"
    assert (
        run(
            capsys, "train", "--mpd", split_dir / "train", "--model-dir", model_dir, "--model", kind
        )[0]
        == 0
    )
    code, _, _ = run(
        capsys,
        *submit_argv(model_dir, split_dir / "challenge_set.json", sub, kind),
        *("--team", "t", "--email", "a@b.c"),
    )
    assert code == 0 and not (tmp_path / f"{kind}.csv.gz.partial").exists()
    lines = gzip.open(sub, "rt").read().splitlines()
    assert lines[0] == "team_info,t,main,a@b.c" and len(lines) == 31
    assert run(capsys, "verify", sub, "--challenge", split_dir / "challenge_set.json")[0] == 0
    code, out, _ = run(
        capsys,
        *("evaluate", "--submission", sub),
        *("--answers", split_dir / "answers.json", "--mpd", split_dir / "train"),
        "--json",
        tmp_path / "r.json",
    )
    assert code == 0 and "R-prec" in out and "cat 10" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert 0 < report["models"][kind]["all"]["r_precision"] <= 1 and 0 < report["coverage"] <= 1


def test_compare_table_and_knn_beats_popularity(split_dir, tmp_path, capsys):
    subs = []
    for kind in ("popularity", "knn"):
        run(
            capsys,
            *train_argv(split_dir / "train", tmp_path / "m", kind),
        )
        subs.append(tmp_path / f"{kind}.csv")
        run(
            capsys,
            *submit_argv(tmp_path / "m", split_dir / "challenge_set.json", subs[-1], kind),
            *("--team", "t", "--email", "a@b.c"),
        )
    code, out, _ = run(
        capsys,
        *("evaluate", "--submission", *subs),
        *("--answers", split_dir / "answers.json", "--mpd", split_dir / "train"),
        "--json",
        tmp_path / "r.json",
        "--markdown",
        tmp_path / "r.md",
        "--html",
        tmp_path / "r.html",
    )
    assert code == 0 and "popularity" in out and "knn" in out
    models = json.loads((tmp_path / "r.json").read_text())["models"]
    assert models["knn"]["all"]["r_precision"] > 2 * models["popularity"]["all"]["r_precision"]
    assert (tmp_path / "r.md").read_text().startswith("**R-prec**")
    html = (tmp_path / "r.html").read_text()
    knn_all = re.search(
        r'data-chart="r_precision".*?data-series="knn" data-group="all" data-value="([^"]+)"',
        html,
        re.S,
    )
    assert (
        html.count("<svg") == 6 and float(knn_all.group(1)) == models["knn"]["all"]["r_precision"]
    )


def test_user_mistakes_exit_nonzero_without_traceback(tmp_path, capsys):
    code, _, err = run(
        capsys,
        *train_argv(tmp_path / "nowhere", tmp_path / "m", "popularity"),
    )
    assert code == 2 and "no such file or directory" in err
    code, _, err = run(
        capsys,
        "submit",
        "--model-dir",
        tmp_path / "nowhere",
        "--challenge",
        tmp_path / "c.json",
        "--out",
        tmp_path / "s.csv",
        "--team",
        "t",
        "--email",
        "a@b.c",
    )
    assert code == 2 and "error" in err
