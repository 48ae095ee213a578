"""The model contract, run against every kind the command line knows (tiny settings, one model dir).

fit through the pipeline (it passes only what each class declares), recommend never returns seeds,
save/load gives the same scores, the config survives, and a directory of another kind is refused.
"""

from __future__ import annotations

import inspect
import shutil
import zipfile

import pytest
import scipy.sparse as sp
import torch

from conftest import make_playlists, write_mpd
from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.split import ValidationConfig
from mmcf.submission.pipeline.data import prepare_data
from mmcf.submission.pipeline.kinds import KINDS, build_config, kind_class
from mmcf.submission.pipeline.loading import load_model
from mmcf.submission.pipeline.training import train, training_order

TINY = {
    "dae": {"configs": "5", "epochs": "1", "hidden": "8"},
    "cnn": {"epochs": "1", "filters": "8", "embedding": "8"},
    "als": {"factors": "4", "iterations": "2"},
}
KINDS_HERE = list(KINDS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every kind trained into one model directory, in training order;
    the models as `fit` left them."""
    root = tmp_path_factory.mktemp("contract")
    mpd = write_mpd(root / "mpd", make_playlists(500, seed=5), per_slice=250)
    model_dir = root / "models"
    data = prepare_data(mpd, model_dir, validation=ValidationConfig(per_category=4))
    models = {
        kind: train(mpd, model_dir, kind, build_config(kind, TINY.get(kind, {})), data=data)
        for kind in training_order(KINDS_HERE)
    }
    return model_dir, models, data


def queries(vocab) -> list[Query]:
    seeds = vocab.track_uris[:5]
    return [
        Query(pid=1, title="rock anthems", seeds=seeds[:1], category=2),
        Query(pid=2, seeds=seeds, category=5),
        Query(pid=3, title="chill vibes", category=1),
    ]


def test_every_kind_is_trained_in_training_order():
    assert training_order(KINDS_HERE) == KINDS_HERE  # KINDS lists members before the ensembles


@pytest.mark.parametrize("kind", KINDS_HERE)
def test_fit_takes_what_the_class_declares(kind):
    cls = kind_class(kind)
    model = cls(build_config(kind, {})) if cls.config_class else cls()
    takes = set(inspect.signature(cls.fit).parameters)
    declared = {
        "validation": model.uses_validation,
        "checkpoint_dir": model.resumable,
        "resume": model.resumable,
        "members": bool(model.requires or model.uses_if_trained),
    }
    for argument, needed in declared.items():
        assert not needed or argument in takes, (kind, argument)
    assert model.kind == kind
    assert cls.config_class is None or isinstance(build_config(kind, {}), cls.config_class)


@pytest.mark.parametrize("kind", KINDS_HERE)
def test_recommend_excludes_seeds_and_gives_n_distinct_tracks(trained, kind):
    _, models, _ = trained
    model = models[kind]
    asked = queries(model.vocab)
    for query, recs in zip(asked, model.recommend(asked, n=40)):
        assert len(recs) == len(set(recs)) == 40
        assert not set(recs) & set(query.seeds), kind


@pytest.mark.parametrize("kind", KINDS_HERE)
def test_save_and_load_give_the_same_scores(trained, kind):
    model_dir, models, _ = trained
    fitted, loaded = models[kind], load_model(model_dir, kind)
    asked = queries(fitted.vocab)
    assert torch.equal(fitted.score(asked), loaded.score(asked)), kind
    assert getattr(loaded, "config", None) == getattr(fitted, "config", None)
    assert loaded.reads_titles == fitted.reads_titles


@pytest.mark.parametrize("kind", ["knn", "userknn", "title"])
def test_sparse_files_of_earlier_releases_zlib_compressed_still_load(trained, kind, tmp_path):
    model_dir, models, _ = trained
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    saved = list((copy / kind).glob("*.npz"))
    assert saved and all(zipfile.ZipFile(f).infolist()[0].compress_type == 0 for f in saved)
    for path in saved:  # as releases before this one wrote them
        sp.save_npz(path, sp.load_npz(path), compressed=True)
    asked = queries(models[kind].vocab)
    assert torch.equal(models[kind].score(asked), load_model(copy, kind).score(asked))


@pytest.mark.parametrize("kind", KINDS_HERE)
def test_loading_another_kinds_directory_is_refused(trained, kind):
    model_dir, _, data = trained
    other = next(k for k in KINDS_HERE if k != kind)
    with pytest.raises(UserError, match=f"holds a '{other}' model"):
        kind_class(kind).load(model_dir / other, data.vocab)
