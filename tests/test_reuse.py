"""Earlier outputs are reused only for the same inputs, and no number is scored on what chose it."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from conftest import make_playlists, write_mpd
from mmcf.models.base import Recommender
from mmcf.models.registry import model_class
from mmcf.mpd.errors import UserError
from mmcf.mpd.split import Validation, split_mpd
from mmcf.submission.cli import main
from mmcf.submission.submit import make_submission
from mmcf.submission.pipeline.kinds import build_config
from mmcf.submission.pipeline.training import train

SUBMIT = ("t", "a@b.c")


@pytest.fixture
def work(tmp_path) -> dict[str, Path]:
    mpd = write_mpd(tmp_path / "mpd", make_playlists(300), per_slice=100)
    paths = split_mpd(mpd, tmp_path / "split", per_category=2, seed=0)
    return {"root": tmp_path, "mpd": mpd, **paths}


def test_a_model_directory_refuses_changed_training_data(work):
    models = work["root"] / "models"
    train(work["train"], models, "popularity")
    train(work["train"], models, "knn")  # same data: the vocabulary is reused
    grown = json.loads((work["train"] / "mpd.slice.0-99.json").read_text())
    grown["playlists"][0]["name"] = "renamed"
    (work["train"] / "mpd.slice.0-99.json").write_text(json.dumps(grown))
    with pytest.raises(
        UserError, match=r"other data .*1 file\(s\) changed \(mpd.slice.0-99.json\)"
    ):
        train(work["train"], models, "knn")
    (work["train"] / "mpd.slice.0-99.json").unlink()
    with pytest.raises(UserError, match=r"1 file\(s\) removed"):
        train(work["train"], models, "knn")


def test_a_model_directory_refuses_other_validation_settings(work, capsys):
    models = work["root"] / "models"
    argv = ["train", "--mpd", str(work["train"]), "--model-dir", str(models)]
    assert main(argv + ["--model", "popularity", "--val-per-category", "3"]) == 0
    assert main(argv + ["--model", "knn"]) == 0
    assert main(argv + ["--model", "knn", "--val-per-category", "4"]) == 2
    assert "validation settings" in capsys.readouterr().err


def test_no_member_trains_on_the_validation_playlists(work, monkeypatch):
    """Every member's fit sees exactly the training playlists less the recorded validation carve."""
    seen: dict[str, set[int]] = {}
    for kind in ("popularity", "knn", "dae", "cnn"):
        cls, fit = model_class(kind), model_class(kind).fit

        def spy(self, corpus, vocab, *args, _kind=kind, _fit=fit, **kwargs):
            seen[_kind] = set(corpus.pids.tolist())
            return _fit(self, corpus, vocab, *args, **kwargs)

        monkeypatch.setattr(cls, "fit", spy)
    models = work["root"] / "models"
    settings = {
        "popularity": {},
        "knn": {},
        "dae": {"configs": "5", "epochs": "1", "hidden": "8"},
        "cnn": {"epochs": "1", "filters": "8", "embedding": "8"},
    }
    for kind, overrides in settings.items():
        train(work["train"], models, kind, build_config(kind, overrides))
    train(work["train"], models, "blend")
    validation = Validation.load(models / "validation")
    recorded = set(json.loads((models / "validation" / "validation.json").read_text())["pids"])
    every = {p["pid"] for p in make_playlists(300)} - {
        int(pid) for pid in json.loads(work["answers"].read_text())
    }
    assert recorded == validation.pids and 0 < len(recorded) <= 20
    for kind, pids in seen.items():
        assert not pids & recorded, kind
        assert pids | recorded == every, kind
    report = json.loads((models / "blend" / "blend.json").read_text())
    assert report["validation_queries"] == len(validation.queries)


def test_submit_never_resumes_the_answers_of_a_retrained_model(work, monkeypatch, caplog):
    models, out = work["root"] / "models", work["root"] / "sub.csv"
    train(work["train"], models, "knn")
    recommend, calls = Recommender.recommend, []

    def dies_in_batch_2(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return recommend(self, *args, **kwargs)

    monkeypatch.setattr(Recommender, "recommend", dies_in_batch_2)
    with pytest.raises(KeyboardInterrupt):
        make_submission(models, work["challenge"], out, *SUBMIT, kind="knn", batch_size=5)
    monkeypatch.setattr(Recommender, "recommend", recommend)
    assert Path(f"{out}.partial").read_text().count("\n") == 6  # settings + 5 answers
    train(work["train"], models, "knn", build_config("knn", {"neighbours": "2"}))
    caplog.set_level(logging.INFO, logger="mmcf.submission.submit")
    make_submission(models, work["challenge"], out, *SUBMIT, kind="knn", batch_size=5)
    assert "resuming" not in caplog.text
    fresh = make_submission(
        models, work["challenge"], work["root"] / "fresh.csv", *SUBMIT, kind="knn"
    )
    assert out.read_text() == fresh.read_text()


def test_evaluate_refuses_what_the_verifier_rejects(work, capsys, caplog):
    models = work["root"] / "models"
    train(work["train"], models, "popularity")
    good = make_submission(
        models, work["challenge"], work["root"] / "good.csv", *SUBMIT, kind="popularity"
    )
    rows = good.read_text().splitlines()
    pid, first, *rest = rows[1].split(",")
    rows[1] = ",".join([pid, first, first, *rest[1:]])  # one track twice: NDCG would rise
    bad = work["root"] / "bad.csv"
    bad.write_text("\n".join(rows) + "\n")
    inputs = ["--answers", str(work["answers"]), "--mpd", str(work["train"])]
    argv = ["evaluate", "--submission", str(bad), *inputs]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{bad}: INVALID, not scored" in err and "repeated" in err
    assert main(argv + ["--no-verify", "--json", str(work["root"] / "r.json")]) == 0
    assert "without verification" in caplog.text
    scores = json.loads((work["root"] / "r.json").read_text())["models"]["bad"]["all"]
    assert {"r_precision", "ndcg", "ndcg_g", "clicks"} <= set(scores)
    assert main(["evaluate", "--submission", str(good), *inputs, "--ndcg", "g"]) == 0
    assert "NDCG/|G|" in capsys.readouterr().out


def test_a_manifest_with_an_unknown_setting_is_refused(work):
    models = work["root"] / "models"
    train(work["train"], models, "knn")
    manifest = models / "knn" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["config"]["neighbors"] = 5  # a misspelt or newer setting
    manifest.write_text(json.dumps(data))
    from mmcf.submission.pipeline.loading import load_model

    with pytest.raises(UserError, match="unknown KNNConfig setting.*neighbors"):
        load_model(models, "knn")


def test_gzip_digest_is_of_the_file_as_stored(tmp_path):
    from mmcf.mpd.fingerprint import SourceDigest
    from mmcf.mpd.reader import load_json

    path = tmp_path / "x.json.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}'))
    digest = SourceDigest()
    assert load_json(path, digest) == {"a": 1}
    assert digest.files["x.json.gz"][0] == path.stat().st_size


def test_the_demo_replaces_a_model_directory_of_other_data(work):
    from mmcf.submission.pipeline.data import prepare_data

    models = work["root"] / "models"
    train(work["train"], models, "knn")
    (work["train"] / "mpd.slice.200-299.json").unlink()
    with pytest.raises(UserError, match="removed"):
        prepare_data(work["train"], models)
    data = prepare_data(work["train"], models, replace=True)
    assert not (models / "knn").exists() and max(data.corpus.pids) < 200
    assert Validation.load(models / "validation").pids == data.validation.pids


def test_submit_and_recommend_without_model_use_the_only_model_trained(work, capsys):
    models = work["root"] / "models"
    train(work["train"], models, "popularity")
    out = work["root"] / "sub.csv"
    submit = ["submit", "--model-dir", models, "--challenge", work["challenge"], "--out", out]
    submit = [str(arg) for arg in submit] + ["--team", "t", "--email", "a@b.c"]
    assert main(submit) == 0
    assert f"model: popularity (the best trained in {models})" in capsys.readouterr().err
    recommend = ["recommend", "--model-dir", str(models), "--title", "rock", "-n", "3", "--json"]
    assert main(recommend) == 0
    assert "model: popularity" in capsys.readouterr().err
    train(work["train"], models, "knn")
    assert main(submit) == 2
    assert "several models (popularity, knn)" in capsys.readouterr().err
