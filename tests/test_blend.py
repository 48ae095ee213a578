"""The count-weighted ensemble and its validated peer members, on the tiny real-format fixture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_playlists, write_mpd
from mmcf.ensemble.blend import mix_members, title_weight
from mmcf.ensemble.mmcf import MMCF, load_weights
from mmcf.ensemble.weights import Trials
from mmcf.models.base import POPULARITY_TIE_BREAK, popularity_scores, top_n
from mmcf.models.charcnn import CNNConfig
from mmcf.models.dae import DAEConfig
from mmcf.models.validation import r_precision, validate
from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import query_matrix
from mmcf.mpd.split import Validation, ValidationConfig
from mmcf.submission.cli import main
from mmcf.submission.pipeline.loading import load_model
from mmcf.submission.pipeline.training import train

VALIDATION = ValidationConfig(per_category=4)  # carved before any model trains


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    """A deliberately weak DAE (8 hidden units, one epoch),
    a tiny CNN and an item-kNN in one model dir."""
    root = tmp_path_factory.mktemp("blend")
    mpd = write_mpd(root / "mpd", make_playlists(600, seed=3), per_slice=200)
    model_dir = root / "models"
    train(
        mpd, model_dir, "dae", DAEConfig(configs=("5",), epochs=1, hidden=8), validation=VALIDATION
    )
    train(mpd, model_dir, "cnn", CNNConfig(epochs=1, filters=8, embedding=8))
    train(mpd, model_dir, "knn")
    return mpd, model_dir


def test_title_weight_is_the_published_count_weighting():
    w = title_weight(np.array([1, 1, 0, 0]), np.array([0.0, 3.0, 2.0, 0.0], np.float32))
    np.testing.assert_allclose(w, [1.0, 0.25, 0.0, 0.0])


def test_members_rescale_to_the_dae_and_weight_zero_is_plain_mmcf():
    dae = torch.tensor([[0.2, 0.6, 0.1], [0.5, 0.1, 0.3]])
    peer = torch.tensor([[30.0, 0.0, 60.0], [1.0, 2.0, 4.0]])
    assert torch.equal(mix_members(dae, {"knn": peer}, {"knn": 0.0}), dae)
    mixed = mix_members(dae, {"knn": peer}, {"knn": 0.5})
    expected = 0.5 * dae + 0.5 * peer / peer.amax(1, keepdim=True) * dae.amax(1, keepdim=True)
    torch.testing.assert_close(mixed, expected)
    assert mixed[0].argmax() == 2  # the peer's favourite wins at equal weight


def test_routing_title_only_seeds_only_and_both(models):
    _, model_dir = models
    mmcf = MMCF().assemble(load_model(model_dir, "dae"), load_model(model_dir, "cnn"))  # no peers
    vocab = mmcf.vocab
    seeds = vocab.track_uris[:3]
    title_only = Query(pid=1, title="chill vibes", category=1)
    seeds_only = Query(pid=2, seeds=seeds, category=3)
    both = Query(pid=3, title="chill vibes", seeds=seeds, category=3)
    scores = mmcf.score([title_only, seeds_only, both])
    tie = POPULARITY_TIE_BREAK * popularity_scores(vocab, 1)[0]
    cnn, _ = mmcf.cnn.title_scores(["chill vibes"])
    dae = mmcf.dae.score([seeds_only])[0]
    torch.testing.assert_close(scores[0], cnn[0] + tie)
    torch.testing.assert_close(scores[1], dae + tie)
    x = float(
        query_matrix([both], vocab, mmcf.dae.config.inputs).sum()
    )  # 3 tracks + 0.5 per artist
    w = 1.0 / (1.0 + x)
    torch.testing.assert_close(scores[2], w * cnn[0] + (1 - w) * dae + tie)


def test_weights_are_chosen_on_validation_and_the_saved_blend_scores_the_same(models, capsys):
    mpd, model_dir = models
    argv = ["train", "--mpd", str(mpd), "--model-dir", str(model_dir)]
    assert main(argv + ["--model", "blend", "--set", "members=knn,als_not_trained"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [
        f"cnn: trained already in {model_dir} (`--model cnn` retrains it)",
        f"dae: trained already in {model_dir} (`--model dae` retrains it)",
        f"trained blend → {model_dir / 'blend'}",
    ]
    saved = json.loads((model_dir / "blend" / "blend.json").read_text())
    assert set(saved["weights"]) == {"knn"}
    assert saved["weights"]["knn"] > 0, saved  # the kNN helps an 8-unit one-epoch DAE
    assert saved["r_precision"] > saved["plain_mmcf_r_precision"]
    loaded = load_model(model_dir, "blend")
    assert loaded.weights == saved["weights"] and set(loaded.members) == {"knn"}
    # The search's numbers are the deployed scoring's: no member saw the validation playlists, so
    # the saved blend scores them exactly as the search did.
    validation = Validation.load(model_dir / "validation")
    assert saved["validation_queries"] == len(validation.queries) > 0
    score = validate(loaded, validation.queries, validation.answers).loc["all", "r_precision"]
    assert score == pytest.approx(saved["r_precision"])


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.9])
def test_the_weight_search_scores_a_trial_exactly_as_the_deployed_blend(models, beta):
    # The search precomputes what no weight changes and recombines the seeded rows only; the
    # R-precision it sees must be the assembled blend's own, to the last bit.
    _, model_dir = models
    dae, cnn, knn = (load_model(model_dir, kind) for kind in ("dae", "cnn", "knn"))
    validation = Validation.load(model_dir / "validation")
    queries, answers = validation.queries, validation.answers
    assert {q.category for q in queries} >= {1, 2, 10}  # title only, title + 1 seed, many seeds
    trials = Trials(MMCF().assemble(dae, cnn).parts({"knn": knn}, queries, answers), dae.vocab)
    deployed = MMCF().assemble(dae, cnn, {"knn": knn}, {"knn": beta})
    scores = deployed.score(queries)
    _, _, seeded = deployed.title_and_seed_weight(queries)  # with seeds the vocabulary knows
    assert torch.equal(trials.seeded_scores({"knn": beta}), scores[seeded])
    title_only = [q for q, has_seeds in zip(queries, seeded) if not has_seeds]
    recs = top_n(scores[~seeded], title_only, dae.vocab, 500)
    assert trials.title_only_recs == dict(zip((q.pid for q in title_only), recs))
    assert trials.r_precision({"knn": beta}) == r_precision(
        deployed.score, queries, answers, dae.vocab
    )


def test_a_damaged_weights_file_is_a_clear_error(tmp_path):
    (tmp_path / "blend.json").write_text('{"weights": {"knn": 7}}')
    with pytest.raises(UserError, match="blend.json"):
        load_weights(tmp_path)
    (tmp_path / "blend.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="blend.json"):
        load_weights(tmp_path)
