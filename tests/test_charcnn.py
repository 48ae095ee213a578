"""The title model: shapes, learning title → items, teacher targets, checkpoints, storage,
errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mmcf.models.charcnn import (
    CNNConfig,
    CharCNN,
    TitleNet,
    group_titles,
    mean_targets,
    teacher_targets,
)
from mmcf.models.charcnn.training import TitleTraining
from mmcf.models.training.losses import SparseTargets, output_loss, weighted_bce
from mmcf.models.popularity import Popularity
from mmcf.models.validation import validate
from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.dataset import from_playlists
from mmcf.mpd.matrix import item_matrix
from mmcf.mpd.split import ValidationConfig
from mmcf.mpd.titles import CharVocab

FAST = dict(epochs=25, patience=25, min_char_count=1)


@pytest.fixture(scope="module")
def data():
    """Vocabulary, training corpus (all rows) and held-out title-only queries with their answers."""
    from conftest import make_playlists

    training = from_playlists(
        make_playlists(400), validation=ValidationConfig(per_category=8, seed=3, max_share=1)
    )
    queries, answers = training.validation.title_only()
    corpus = training.corpus
    return training.vocab, corpus, np.arange(len(corpus)), queries, answers


@pytest.fixture(scope="module")
def trained(data):
    vocab, corpus, *_ = data
    return CharCNN(CNNConfig(**FAST)).fit(corpus, vocab)


def test_net_shapes_and_padding_does_not_matter():
    torch.manual_seed(0)
    net = TitleNet(n_chars=12, n_items=30, config=CNNConfig()).eval()
    assert net(torch.randint(1, 12, (4, 9))).shape == (4, 30)
    assert net(torch.randint(1, 12, (2, 40))).shape == (2, 30)
    for title in ([3, 4, 5], list(range(2, 12))):  # shorter and longer than the widest filter
        short = torch.tensor([title + [0] * max(0, 9 - len(title))])
        padded = torch.cat([short, torch.zeros(1, 20, dtype=torch.long)], dim=1)
        torch.testing.assert_close(net(short), net(padded))


def test_fused_output_loss_matches_plain_loss():
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 50)
    h = torch.randn(4, 6, requires_grad=True)
    y = torch.where(torch.rand(4, 50) < 0.2, torch.rand(4, 50), torch.zeros(()))
    rows = torch.tensor([0.5, 1.0, 2.0, 0.25])
    plain = (weighted_bce(layer(h), y, 0.55) * rows).sum()
    expected = torch.autograd.grad(plain, [h, layer.weight, layer.bias])
    targets = SparseTargets.of(sp.csr_matrix(y.numpy()), torch.device("cpu"))
    fused = output_loss(
        h, layer.weight, layer.bias, targets, 0.55, 16, row_weights=rows
    )  # 4 chunks, the last one short
    got = torch.autograd.grad(fused, [h, layer.weight, layer.bias])
    torch.testing.assert_close(fused, plain)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


def test_distinct_titles_and_mean_targets(data):
    vocab, corpus, rows, *_ = data
    chars = CharVocab.build(corpus.titles, 1)
    titles = group_titles(corpus, rows, chars.normalize)
    assert len(titles.texts) == 4 and titles.counts.sum() == len(rows)
    targets = mean_targets(corpus, vocab, titles)
    assert targets.shape == (4, vocab.n_items)
    expected = np.asarray(item_matrix(corpus, vocab, titles.groups[0]).mean(axis=0)).ravel()
    np.testing.assert_allclose(targets[0].toarray().ravel(), expected, rtol=1e-5)


def test_learns_titles_beyond_popularity(data, trained):
    vocab, corpus, rows, queries, answers = data
    cnn = validate(trained, queries, answers).loc["all", "r_precision"]
    popular = validate(Popularity().fit(corpus, vocab), queries, answers).loc["all", "r_precision"]
    assert len(queries) >= 40 and cnn > 2 * popular
    assert 1 <= trained.best_epoch <= len(trained.history) == FAST["epochs"]


@pytest.mark.parametrize("train_network", [True, False])
def test_the_network_alone_learns_titles_and_the_check_fails_untrained(
    data, monkeypatch, train_network
):
    """Memory off, the CNN itself must beat popularity on held-out titles; with its epochs skipped
    (the network stays at its popularity-like bias) the same check fails, so it tests the
    training."""
    vocab, corpus, rows, queries, answers = data
    if not train_network:
        monkeypatch.setattr(TitleTraining, "epoch", lambda *args: 0.0)
    alone = CharCNN(CNNConfig(**{**FAST, "memory_weight": 0.0})).fit(corpus, vocab)
    assert alone.memory is None
    cnn = validate(alone, queries, answers).loc["all", "r_precision"]
    popular = validate(Popularity().fit(corpus, vocab), queries, answers).loc["all", "r_precision"]
    assert bool(cnn > 2 * popular) == train_network, (cnn, popular)


def test_score_shape_and_title_only(data, trained):
    vocab = data[0]
    seeds = [vocab.track_uris[0]]
    scores = trained.score(
        [Query(1, "케이팝 최고"), Query(2, "KEIPOP 최고!!", seeds=seeds), Query(3, "ドライブ")]
    )
    assert scores.shape == (3, vocab.n_tracks) and scores.dtype == torch.float32
    assert not torch.equal(scores[0], scores[2])
    same_title = trained.score([Query(9, "  케이팝   최고 ")])[0]  # normalises to the same title
    np.testing.assert_allclose(scores[0], same_title, rtol=1e-5)


def test_unusable_title_falls_back_to_popularity(trained):
    scores = trained.score([Query(1, "chill vibes"), Query(42, "!!!"), Query(5, None, seeds=["x"])])

    def ranked_by_count(row: int) -> bool:  # the vocabulary is ordered by count
        return bool((scores[row][:-1] >= scores[row][1:]).all())

    assert ranked_by_count(1) and ranked_by_count(2)  # nothing usable: the popularity ranking
    assert not ranked_by_count(0)


def test_title_scores_mask(trained):
    scores, usable = trained.title_scores(["chill vibes", "!!!", None, "qqq", "rock anthems"])
    assert usable.tolist() == [True, False, False, False, True]  # q was never seen in a title
    assert scores.shape[0] == 5 and not scores[~usable].any() and (scores[usable] > 0).all()
    np.testing.assert_allclose(
        scores[0], trained.score([Query(1, "chill vibes")])[0], atol=1e-5
    )  # score adds a 1e-6 popularity tie-break


def test_save_load_round_trip(tmp_path, data, trained):
    vocab = data[0]
    trained.save(tmp_path / "cnn")
    loaded = CharCNN.load(tmp_path / "cnn", vocab)
    queries = [Query(1, "rock anthems"), Query(2, "ドライブ")]
    assert torch.equal(trained.score(queries), loaded.score(queries))
    assert loaded.config == trained.config and loaded.best_epoch == trained.best_epoch
    with pytest.raises(UserError, match="holds a 'cnn' model"):
        Popularity.load(tmp_path / "cnn", vocab)


def test_reference_normaliser_cannot_use_non_latin_titles(data):
    vocab, corpus, rows, *_ = data
    model = CharCNN(CNNConfig.reference(**{**FAST, "epochs": 2})).fit(corpus, vocab)
    assert model.chars.mode == "reference"
    _, usable = model.title_scores(["케이팝 최고", "ドライブ", "Rock Anthems 🤘"])
    assert usable.tolist() == [False, False, True]


class Interrupt(Exception):
    pass


def true_teacher(corpus, vocab, calls):
    """True items as a teacher, recording the rows it is asked for."""

    def teacher(rows: np.ndarray) -> torch.Tensor:
        calls.append(rows.copy())
        return torch.from_numpy(item_matrix(corpus, vocab, rows).toarray())

    return teacher


class TrueItemsDAE:
    """Stands in for a trained DAE: its teacher targets are the playlists' true items."""

    def __init__(self, vocab, calls):
        self.vocab, self.calls = vocab, calls

    def teacher_targets(self, corpus, rows, outputs=None):
        return true_teacher(corpus, self.vocab, self.calls)(np.asarray(rows))[:, :outputs]


def test_teacher_targets_are_title_means_of_training_rows(data):
    vocab, corpus, rows, *_ = data
    calls: list[np.ndarray] = []
    model = CharCNN(CNNConfig(**{**FAST, "epochs": 1, "teacher_rows": 10}))
    model.fit(corpus, vocab, members={"dae": TrueItemsDAE(vocab, calls)})
    asked = np.concatenate(calls)
    assert (
        np.isin(asked, rows).all() and len(asked) == len(np.unique(asked)) == 4 * 10
    )  # 10 playlists per title
    titles = group_titles(corpus, np.sort(asked), model.chars.normalize)
    exact = mean_targets(corpus, vocab, titles)  # means of the same sampled playlists, nothing cut
    got = teacher_targets(
        true_teacher(corpus, vocab, []),
        group_titles(corpus, rows, model.chars.normalize),
        vocab.n_items,
        per_title=10,
        top=vocab.n_items,
        seed=model.config.seed,
    )
    np.testing.assert_allclose(got.toarray(), exact.toarray(), rtol=1e-6)
    top = teacher_targets(true_teacher(corpus, vocab, []), titles, vocab.n_items, 10, top=5, seed=0)
    assert (np.diff(top.indptr) == 5).all()
    every = group_titles(corpus, rows, model.chars.normalize)  # per_title=0: all playlists, exact
    np.testing.assert_allclose(
        teacher_targets(
            true_teacher(corpus, vocab, []), every, vocab.n_items, 0, vocab.n_items, 0
        ).toarray(),
        mean_targets(corpus, vocab, every).toarray(),
        rtol=2e-6,
    )  # float32 means
    small: list[np.ndarray] = []  # a 1-row call budget: same means
    tiny = teacher_targets(
        true_teacher(corpus, vocab, small),
        every,
        vocab.n_items,
        0,
        vocab.n_items,
        0,
        rows_per_call=1,
        call_bytes=1,
    )
    assert max(len(c) for c in small) == 1 and len(small) == sum(len(g) for g in every.groups)
    np.testing.assert_allclose(
        tiny.toarray(), mean_targets(corpus, vocab, every).toarray(), rtol=2e-6
    )
    assert model.requires == ("dae",) and CharCNN(CNNConfig(teacher=False)).requires == ()


def test_resume_continues_an_interrupted_run(tmp_path, data, monkeypatch):
    vocab, corpus, rows, *_ = data
    config = CNNConfig(**{**FAST, "epochs": 4, "batch": 2})  # 2 steps per epoch over the 4 titles
    whole = CharCNN(config).fit(corpus, vocab)

    epoch = TitleTraining.epoch

    def dies_in_epoch_3(self, number):
        if number == 3:
            raise Interrupt
        return epoch(self, number)

    monkeypatch.setattr(TitleTraining, "epoch", dies_in_epoch_3)
    with pytest.raises(Interrupt):
        CharCNN(config).fit(corpus, vocab, checkpoint_dir=tmp_path)
    monkeypatch.setattr(TitleTraining, "epoch", epoch)
    with pytest.raises(UserError, match="different training run"):
        CharCNN(CNNConfig(**{**FAST, "epochs": 5, "batch": 2})).fit(
            corpus, vocab, checkpoint_dir=tmp_path, resume=True
        )
    resumed = CharCNN(config).fit(corpus, vocab, checkpoint_dir=tmp_path, resume=True)
    assert resumed.history == pytest.approx(whole.history) and len(whole.history) == 4
    probe = [Query(1, "chill vibes"), Query(2, "케이팝 최고")]
    torch.testing.assert_close(resumed.score(probe), whole.score(probe))


def test_title_memory_blends_seen_titles_and_round_trips(data, tmp_path):
    vocab, corpus = data[0], data[1]
    model = CharCNN(CNNConfig(**{**FAST, "memory_top": 5})).fit(corpus, vocab)
    seen = corpus.titles[0]
    text = model.chars.normalize(seen)
    assert model.memory is not None and text in model.memory.texts
    assert (np.diff(model.memory.matrix.indptr) <= 5).all()
    blended, _ = model.title_scores([seen, "zzqx unseen title"])
    model.config.memory_weight = 0.0
    alone, _ = model.title_scores([seen, "zzqx unseen title"])
    remembered, found = model.memory.scores([text, model.chars.normalize("zzqx unseen title")])
    assert found.tolist() == [True, False]
    torch.testing.assert_close(blended[0], 0.5 * alone[0] + 0.5 * remembered[0])
    torch.testing.assert_close(blended[1], alone[1])  # unseen: the CNN alone
    model.config.memory_weight = 0.5
    model.save(tmp_path / "cnn")
    loaded = CharCNN.load(tmp_path / "cnn", vocab)
    torch.testing.assert_close(loaded.title_scores([seen])[0], blended[:1])


def test_the_title_models_work_follows_the_data_size():
    from mmcf.models.charcnn.config import TEACHER_CELLS, max_epochs, teacher_rows

    default = CNNConfig()
    assert max_epochs(default, 10_476, 193_736) == 12  # 100,000 synthetic playlists: unbounded
    assert max_epochs(default, 27_506, 662_272) == 2  # 1 M: at least 2
    assert max_epochs(CNNConfig(epochs=5), 27_506, 662_272) == 5  # given: as given
    sizes = np.array([1] * 1000 + [50] * 100 + [5000])
    assert teacher_rows(default, sizes, 1_000) == 0  # all 11,000 rows fit the budget
    outputs = TEACHER_CELLS // 3_000  # room for 3,000 rows: Σ min(size, k) ≤ 3,000
    k = teacher_rows(default, sizes, outputs)
    assert np.minimum(sizes, k).sum() <= 3_000 < np.minimum(sizes, k + 1).sum() and k == 19
    assert teacher_rows(default, sizes, TEACHER_CELLS) == 1  # at least one per title
    assert teacher_rows(CNNConfig(teacher_rows=7), sizes, TEACHER_CELLS) == 7
