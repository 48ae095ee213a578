"""The DAE: sparse path = dense reference, corruption, routing, resume, files, and that it
learns."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from conftest import make_playlists
from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.dataset import from_playlists
from mmcf.mpd.matrix import build_corpus, build_vocab, item_matrix
from mmcf.mpd.split import ValidationConfig
from mmcf.models.dae import DAE, VARIANTS, DAEConfig, variant_for
from mmcf.models.dae.batches import NegativeSampler, TrainingData, csr_inputs
from mmcf.models.dae.network import DAENet
from mmcf.models.dae.training import DAETraining
from mmcf.models.training.lazy_adam import MIN_RUN, LazyAdam, coalesced, row_runs
from mmcf.models.training.losses import SparseTargets, output_loss, weighted_bce
from mmcf.models.popularity import Popularity
from mmcf.models.store import load_tensors
from mmcf.models.validation import validate

FAST = dict(
    hidden=16, batch_size=32, epochs=2, tied_epochs=1, chunk_items=256, head_negatives=50
)  # a small exact head: both halves of the sampled loss are exercised


@pytest.fixture(scope="module")
def data():
    playlists = make_playlists(400)
    vocab = build_vocab(playlists)
    return vocab, build_corpus(playlists, vocab)


@pytest.fixture(scope="module")
def trained(data):
    vocab, corpus = data
    return DAE(DAEConfig(configs=("5", "25to100random"), **FAST)).fit(corpus, vocab)


def queries_from(corpus, vocab, rows, seeds=5, category=3):
    return [
        Query(
            pid=int(corpus.pids[r]),
            seeds=[vocab.track_uris[i] for i in corpus.tracks(r)[:seeds]],
            category=category,
        )
        for r in rows
    ]


def test_sparse_encoder_and_chunked_loss_match_dense_reference():
    gen = torch.Generator().manual_seed(0)
    n_items, batch = 23, 5
    x = sp.random(batch, n_items, density=0.3, format="csr", random_state=1, dtype=np.float32)
    x.data[:] = np.random.default_rng(0).uniform(0.2, 1.0, x.nnz)
    y = (torch.rand(batch, n_items, generator=gen) < 0.3).float()
    for norm, tied in (("l1", True), ("l2", False)):
        net = DAENet(n_items, 4, gen)
        if not tied:
            net.untie()
        with torch.no_grad():
            net.b_dec.normal_(generator=gen)
            net.b_enc.normal_(generator=gen)
        dense = torch.from_numpy(x.toarray())
        dense = dense / (
            dense.abs().sum(1, keepdim=True) if norm == "l1" else dense.norm(dim=1, keepdim=True)
        )
        h = net.encode(csr_inputs(x, norm))
        assert torch.allclose(h, torch.sigmoid(dense @ net.w_enc + net.b_enc), atol=1e-6)
        rows, cols = torch.nonzero(y, as_tuple=True)
        order = torch.argsort(cols, stable=True)
        loss = net.loss(h, SparseTargets(rows[order], cols[order]), 0.55, chunk=7)
        grads = torch.autograd.grad(loss, list(net.parameters()))
        ref = weighted_bce(
            torch.sigmoid(dense @ net.w_enc + net.b_enc) @ net.decoder.T + net.b_dec, y, 0.55
        ).mean()
        ref_grads = torch.autograd.grad(ref, list(net.parameters()))
        assert torch.allclose(loss, ref, rtol=1e-5)
        for g, r in zip(grads, ref_grads):
            assert torch.allclose(g, r, atol=1e-5)
        targets = SparseTargets(rows[order], cols[order])
        bf16 = net.loss(net.encode(csr_inputs(x, norm)), targets, 0.55, 7, True)
        assert abs(bf16.detach().item() - ref.item()) < 0.02 * ref.item()


@pytest.mark.parametrize("bf16", [False, True])
@pytest.mark.parametrize("head", [0, 100])  # with a head, its run of columns is read in place
def test_sampled_loss_and_its_gradients_match_the_dense_reference_on_its_columns(bf16, head):
    """Over a subset of columns, each negative term weighted by its column's weight: the loss and
    the gradients of h, W and b equal autograd's on the plain dense form (W's and b's only on the
    sampled rows)."""
    gen = torch.Generator().manual_seed(3)
    n_items, batch, d = 300, 6, 5
    h = torch.randn(batch, d, generator=gen, requires_grad=True)
    w = torch.randn(n_items, d, generator=gen, requires_grad=True)
    b = torch.randn(n_items, generator=gen, requires_grad=True)
    y = (torch.rand(batch, n_items, generator=gen) < 0.02).float()
    rows, cols = torch.nonzero(y, as_tuple=True)
    order = torch.argsort(cols, stable=True)
    rows, cols = rows[order], cols[order]
    negatives = torch.cat([torch.arange(head), torch.tensor([101, 140, 209, 217, 230, 299])])
    columns = torch.unique(torch.cat([cols, negatives]))  # sorted
    col_weight = torch.where(
        torch.isin(columns, cols), 1.0, 1 + torch.rand(len(columns), generator=gen)
    )
    targets = SparseTargets(
        rows, cols, columns=columns, col_weight=col_weight, local=torch.searchsorted(columns, cols)
    )
    assert bool(row_runs(columns, MIN_RUN)[0]) == (head > 0)  # both paths are exercised
    loss = output_loss(h, w, b, targets, 0.55, 16, bf16=bf16)
    grads = [g.to_dense() for g in torch.autograd.grad(loss, [h, w, b])]
    z = (h @ w[columns].T + b[columns]).double()
    yc = y[:, columns].double()
    terms = yc * F.softplus(-z) + 0.55 * col_weight.double() * (1 - yc) * F.softplus(z)
    ref = terms.sum(1).mean()
    ref_grads = torch.autograd.grad(ref, [h, w, b])
    tol = dict(rtol=0.03, atol=0.03) if bf16 else dict(rtol=1e-5, atol=1e-6)
    assert loss.item() == pytest.approx(ref.item(), rel=tol["rtol"])
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r.float(), **tol)
    assert (grads[1][~torch.isin(torch.arange(n_items), columns)] == 0).all()


@pytest.mark.parametrize("bf16", [False, True])
def test_predict_writes_each_batch_in_place_with_the_bits_of_the_plain_decoder(bf16):
    gen = torch.Generator().manual_seed(3)
    net = DAENet(300, 16, gen)
    net.untie()
    with torch.no_grad():
        net.b_dec.uniform_(-1, 1, generator=gen)
    inputs = sp.random(70, 300, density=0.05, format="csr", random_state=1, dtype=np.float32)
    out = net.predict(inputs, "l2", torch.device("cpu"), stop=250, batch_size=32, bf16=bf16)
    w, b = net.decoder[:250].detach(), net.b_dec[:250].detach()
    for start in range(0, 70, 32):
        with torch.no_grad():
            h = net.encode(csr_inputs(inputs[start : start + 32], "l2"))
        if bf16:
            plain = torch.sigmoid(torch.addmm(b.bfloat16(), h.bfloat16(), w.bfloat16().T).float())
        else:
            plain = torch.sigmoid(torch.addmm(b, h, w.T))
        assert torch.equal(out[start : start + 32], plain)


def test_loss_weights_negatives_by_055():
    z = torch.tensor([[2.0, -1.0]])
    y = torch.tensor([[1.0, 0.0]])
    expected = -np.log(1 / (1 + np.exp(-2.0))) - 0.55 * np.log(1 - 1 / (1 + np.exp(1.0)))
    assert float(weighted_bce(z, y, 0.55).mean()) == pytest.approx(expected, rel=1e-6)


def test_hide_and_seek_feeds_tracks_or_artists_and_prefixes(data):
    vocab, corpus = data
    rows = np.arange(len(corpus))
    train = TrainingData(corpus, vocab, rows)
    rng = np.random.default_rng(0)
    parts = set()
    for _ in range(20):
        batch = rng.choice(len(train), 16, replace=False)
        ids = train.inputs(batch, VARIANTS["5"], rng, True, "l2").ids.numpy()
        assert np.all(ids < vocab.n_tracks) or np.all(ids >= vocab.n_tracks)
        parts.add(bool(ids[0] < vocab.n_tracks) if len(ids) else None)
    assert {True, False} <= parts
    batch = np.arange(len(train))
    inputs = train.inputs(batch, VARIANTS["10to100"], rng, False, "l2")
    ids, offsets = inputs.ids.numpy(), np.append(inputs.offsets.numpy(), len(inputs.ids))
    assert np.any(ids < vocab.n_tracks) and np.any(ids >= vocab.n_tracks)
    for row in batch:
        got = ids[offsets[row] : offsets[row + 1]]
        tracks = got[got < vocab.n_tracks]
        allowed = corpus.tracks(row)[: int(round(0.6 * len(corpus.tracks(row))))]
        assert set(tracks) <= set(allowed)  # only the first 30-60 % of the playlist
        w = inputs.weights.numpy()[offsets[row] : offsets[row + 1]]
        if len(w):
            assert np.sum(w * w) == pytest.approx(1.0, rel=1e-5)
    targets = train.batch_targets(batch[:3])
    dense = np.zeros((3, vocab.n_items))
    dense[targets.rows.numpy(), targets.cols.numpy()] = 1
    assert np.array_equal(dense, item_matrix(corpus, vocab, [0, 1, 2]).toarray())


def test_routing():
    assert [variant_for(Query(pid=0, category=c)) for c in range(1, 11)] == [
        "0to1",
        "0to1",
        "5",
        "5",
        "10to100",
        "10to100",
        "10to100",
        "25to100random",
        "10to100",
        "25to100random",
    ]
    seeds = [f"s{i}" for i in range(25)]
    assert variant_for(Query(pid=0)) == "0to1"
    assert variant_for(Query(pid=0, seeds=seeds[:5])) == "5"
    assert variant_for(Query(pid=0, seeds=seeds, in_order=False)) == "25to100random"
    model = DAE(DAEConfig(configs=("5",)))
    model.nets = {"5": None, "10to100": None}
    assert model.route(Query(pid=0, category=9)) == "10to100"
    assert model.route(Query(pid=0, category=8)) == "5"  # untrained variant → first trained one
    with pytest.raises(UserError, match="unknown"):
        DAEConfig(configs=("nope",))


def test_shapes_seeds_excluded_and_teacher(trained, data):
    vocab, corpus = data
    queries = queries_from(corpus, vocab, range(6))
    queries[0].category = 8
    scores = trained.score(queries)
    assert scores.shape == (6, vocab.n_tracks) and scores.dtype == torch.float32
    assert torch.all((scores > 0) & (scores < 1))
    for query, recs in zip(queries, trained.recommend(queries, n=50)):
        assert len(recs) == 50 and not set(recs) & set(query.seeds)
    full = trained.item_scores(item_matrix(corpus, vocab, [0, 1]), "5")
    assert full.shape == (2, vocab.n_items) and torch.all((full > 0) & (full < 1))
    teacher = trained.teacher_targets(corpus, [0, 1, 2], keep=0.01, seed=0)
    truth = torch.from_numpy(item_matrix(corpus, vocab, [0, 1, 2]).toarray())
    assert teacher.shape == (3, vocab.n_items)
    assert torch.all(teacher[truth > 0] == 1) and torch.all(teacher[truth == 0] < 1)
    assert torch.equal(teacher, trained.teacher_targets(corpus, [0, 1, 2], keep=0.01, seed=0))
    tracks = trained.teacher_targets(corpus, [0, 1, 2], keep=0.01, seed=0, outputs=vocab.n_tracks)
    assert tracks.shape == (3, vocab.n_tracks)  # the title model's outputs only, the same values
    assert torch.allclose(tracks, teacher[:, : vocab.n_tracks])
    with pytest.raises(UserError, match="not trained"):
        trained.item_scores(item_matrix(corpus, vocab, [0]), "0to1")


def test_save_load_round_trip(trained, data, tmp_path):
    vocab, corpus = data
    trained.save(tmp_path / "dae")
    again = DAE.load(tmp_path / "dae", vocab)
    queries = queries_from(corpus, vocab, range(4))
    assert again.config == trained.config and set(again.nets) == {"5", "25to100random"}
    assert torch.equal(again.score(queries), trained.score(queries))


@pytest.mark.parametrize("negatives", [0, 100])  # exact loss + torch Adam, sampled loss + LazyAdam
def test_resume_reaches_the_same_weights(data, tmp_path, monkeypatch, negatives):
    training = from_playlists(
        make_playlists(400), validation=ValidationConfig(per_category=5, max_share=1)
    )
    vocab, corpus, validation = training.vocab, training.corpus, training.validation
    config = DAEConfig(configs=("5",), **{**FAST, "patience": 9, "negatives": negatives})
    straight = DAE(config).fit(corpus, vocab, validation, checkpoint_dir=tmp_path / "a")
    epoch = DAETraining.epoch

    def killed_in_epoch_2(task, number):
        if number == 2:
            raise KeyboardInterrupt
        return epoch(task, number)

    monkeypatch.setattr(DAETraining, "epoch", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        DAE(config).fit(corpus, vocab, validation, checkpoint_dir=tmp_path / "b")
    monkeypatch.setattr(DAETraining, "epoch", epoch)
    resumed = DAE(config).fit(corpus, vocab, validation, checkpoint_dir=tmp_path / "b", resume=True)
    assert [h["epoch"] for h in resumed.history["5"]] == [1, 2]
    assert all(h["r_precision"] is not None for h in resumed.history["5"])  # validated every epoch
    assert resumed.history == straight.history
    a, b = (load_tensors(tmp_path / run / "dae-5.best.pt") for run in "ab")  # the best epoch's
    assert a.keys() == b.keys() and "w_dec" in a
    for name in a:
        assert torch.allclose(a[name], b[name]), name
    finished = load_tensors(tmp_path / "b" / "dae-5.ckpt.pt")
    assert set(finished) == {"progress", "fingerprint"}  # no weights, no optimizer state
    for name in straight.nets["5"].tensors():
        assert torch.allclose(straight.nets["5"].tensors()[name], resumed.nets["5"].tensors()[name])
    again = DAE(config).fit(
        corpus, vocab, validation, checkpoint_dir=tmp_path / "b", resume=True
    )  # finished
    assert torch.equal(again.nets["5"].w_enc, resumed.nets["5"].w_enc)
    changed = DAEConfig(**{**config.__dict__, "lr_untied": 0.1})
    with pytest.raises(UserError, match="different training run"):
        DAE(changed).fit(corpus, vocab, validation, checkpoint_dir=tmp_path / "b", resume=True)


def test_learns_more_than_popularity():
    training = from_playlists(
        make_playlists(400), validation=ValidationConfig(per_category=8, seed=3, max_share=1)
    )
    vocab, train, answers = training.vocab, training.corpus, training.validation.answers
    config = DAEConfig(configs=("5", "10to100"), hidden=32, batch_size=16, epochs=4, tied_epochs=1)
    dae = DAE(config).fit(train, vocab)
    seeded = [q for q in training.validation.queries if q.seeds]
    ours = validate(dae, seeded, answers).loc["all", "r_precision"]
    popular = validate(Popularity().fit(train, vocab), seeded, answers).loc["all", "r_precision"]
    assert ours > 1.5 * popular


def test_sampled_loss_is_unbiased_and_lazy_adam_touches_only_sampled_rows(data):
    vocab, corpus = data
    train = TrainingData(corpus, vocab, np.arange(len(corpus)))
    net = DAENet(vocab.n_items, 8, torch.Generator().manual_seed(0))
    net.untie()
    batch = np.arange(6)
    h = net.encode(train.inputs(batch, VARIANTS["5"], np.random.default_rng(0), False, "l2"))
    exact = net.loss(h, train.batch_targets(batch), 0.55, 64)
    counts = np.bincount(train.targets.indices, minlength=vocab.n_items)
    sampler = NegativeSampler(counts, 40, 0.5)
    rng = np.random.default_rng(1)
    draws = [
        net.loss(h, train.batch_targets(batch, sampler, rng), 0.55, 64).item() for _ in range(300)
    ]
    assert np.mean(draws) == pytest.approx(exact.item(), rel=0.02)
    head = vocab.n_items // 2  # the most frequent half summed exactly
    headed = NegativeSampler(counts, 40, 0.5, head=head)
    with_head = [
        net.loss(h, train.batch_targets(batch, headed, rng), 0.55, 64).item() for _ in range(300)
    ]
    assert np.mean(with_head) == pytest.approx(exact.item(), rel=0.02)
    assert np.std(with_head) < 0.8 * np.std(draws)
    positives = np.unique(train.batch_targets(batch).cols.numpy())
    negatives, weights = headed.draw(positives, rng)
    top = np.setdiff1d(np.argsort(-counts, kind="stable")[:head], positives)
    assert np.isin(top, negatives).all() and not np.isin(positives, negatives).any()
    assert (weights[: len(top)] == 1).all() and len(np.unique(negatives)) == len(negatives)
    targets = train.batch_targets(batch, sampler, rng)
    opt = LazyAdam(net.parameters(), lr=0.1)
    before = net.w_dec.detach().clone()
    net.loss(h, targets, 0.55, 64).backward()
    opt.step()
    moved = torch.nonzero((net.w_dec != before).any(1)).flatten()
    assert torch.equal(moved, torch.sort(targets.columns).values)


def test_the_tied_only_network_gets_its_own_epoch_budget_and_stays_tied(data):
    vocab, corpus = data
    dae = DAE(DAEConfig(configs=("0to1", "5"), **{**FAST, "tied_only_epochs": 3})).fit(
        corpus, vocab
    )
    assert [h["epoch"] for h in dae.history["0to1"]] == [1, 2, 3]
    assert all(h["tied"] for h in dae.history["0to1"])
    assert [h["tied"] for h in dae.history["5"]] == [True, False]  # FAST: 2 epochs, 1 tied
    same = DAE(DAEConfig(configs=("0to1",), **{**FAST, "tied_only_epochs": 0})).fit(corpus, vocab)
    assert len(same.history["0to1"]) == FAST["epochs"]  # 0: the common budget


def test_sampled_columns_are_sorted_and_score_the_same_terms(data):
    """The columns come sorted (coalesced gradients as built); each target still points at its own
    column, and each column keeps its weight: the loss equals the one over unsorted columns."""
    vocab, corpus = data
    train = TrainingData(corpus, vocab, np.arange(len(corpus)))
    net = DAENet(vocab.n_items, 8, torch.Generator().manual_seed(0))
    batch = np.arange(10)
    h = net.encode(train.inputs(batch, VARIANTS["5"], np.random.default_rng(0), False, "l2"))
    counts = np.bincount(train.targets.indices, minlength=vocab.n_items)
    sampler = NegativeSampler(counts, 40, 0.5, head=20)
    targets = train.batch_targets(batch, sampler, np.random.default_rng(2))
    columns = targets.columns.numpy()
    assert (np.diff(columns) > 0).all()
    assert torch.equal(targets.columns[targets.local], targets.cols)
    positives = np.unique(targets.cols.numpy())
    assert (targets.col_weight.numpy()[np.isin(columns, positives)] == 1).all()
    negatives, weights = sampler.draw(positives, np.random.default_rng(2))
    assert np.array_equal(np.sort(negatives), columns[~np.isin(columns, positives)])
    shuffled = np.random.default_rng(3).permutation(len(columns))
    unsorted = SparseTargets(
        targets.rows,
        targets.cols,
        columns=targets.columns[shuffled],
        col_weight=targets.col_weight[shuffled],
        local=torch.from_numpy(np.argsort(shuffled))[targets.local],
    )
    assert net.loss(h, unsorted, 0.55, 64).item() == pytest.approx(
        net.loss(h, targets, 0.55, 64).item(), rel=1e-6
    )


def test_lazy_adam_takes_sorted_rows_as_they_are_and_sums_repeated_ones():
    """Sorted distinct rows are used without a copy; unsorted or repeated rows are coalesced first:
    all three forms of the same gradient make the same step."""
    values = torch.arange(12.0).reshape(3, 4)
    forms = {
        "sorted": ([1, 4, 7], values),
        "unsorted": ([7, 1, 4], values[[2, 0, 1]]),
        "repeated": ([1, 4, 1, 7], torch.cat([values[:2], torch.zeros(1, 4), values[2:]])),
    }
    steps = {}
    for name, (rows, vals) in forms.items():
        param = torch.nn.Parameter(torch.ones(9, 4))
        param.grad = torch.sparse_coo_tensor(
            torch.tensor([rows]), vals, (9, 4), check_invariants=True
        )
        if name == "sorted":
            assert coalesced(param.grad)._values().data_ptr() == vals.data_ptr()
        LazyAdam([param], lr=0.1).step()
        steps[name] = param.detach()
    assert torch.equal(steps["sorted"], steps["unsorted"])
    assert torch.equal(steps["sorted"], steps["repeated"])
    assert torch.equal(steps["sorted"][[0, 2, 3, 5, 6, 8]], torch.ones(6, 4))


def test_lazy_adam_is_torch_adam_on_the_rows_it_is_given():
    """Over three steps, a row-sparse gradient holding every row and a dense one make exactly the
    steps of torch's Adam."""
    grads = [torch.randn(5, 3, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    ours_sparse, ours_dense, theirs = (torch.nn.Parameter(torch.ones(5, 3)) for _ in range(3))
    lazy_sparse, lazy_dense = LazyAdam([ours_sparse], lr=0.1), LazyAdam([ours_dense], lr=0.1)
    adam = torch.optim.Adam([theirs], lr=0.1)
    for g in grads:
        ours_sparse.grad = g.to_sparse(sparse_dim=1)
        ours_dense.grad, theirs.grad = g.clone(), g.clone()
        lazy_sparse.step(), lazy_dense.step(), adam.step()
    assert torch.allclose(ours_sparse, theirs, atol=1e-6, rtol=0)
    assert torch.allclose(ours_dense, theirs, atol=1e-6, rtol=0)


def test_large_data_sets_train_sampled_epochs_within_a_work_budget():
    from mmcf.models.dae.config import EPOCH_SAMPLE, VARIANTS, epoch_size, max_epochs

    untied, tied_only = VARIANTS["5"], VARIANTS["0to1"]
    default = DAEConfig()
    assert epoch_size(default, 150_000) == 150_000  # every playlist, as before
    assert max_epochs(default, untied, EPOCH_SAMPLE) == 6
    assert epoch_size(default, 1_000_000) == EPOCH_SAMPLE
    # work shrinks past the sample: 6 × 200k playlists at 200k, 4 × 200k at 300k, 2 × 200k at 1 M
    assert [max_epochs(default, untied, n) for n in (300_000, 400_000, 1_000_000)] == [4, 3, 2]
    assert max_epochs(default, tied_only, 1_000_000) == 2
    assert max_epochs(DAEConfig(epochs=5), untied, 1_000_000) == 5  # given: as given
    assert epoch_size(DAEConfig(epoch_playlists=100), 1_000) == 100


def test_a_sampled_epoch_trains_on_a_fresh_sample_of_the_playlists(data, monkeypatch):
    """An epoch of `epoch_playlists` runs that many playlists; successive epochs draw other ones."""
    import mmcf.models.dae.training as dae_training

    seen: list[np.ndarray] = []
    inputs = dae_training.TrainingData.inputs

    def record(self, batch, *args, **kwargs):
        seen.append(np.asarray(batch))
        return inputs(self, batch, *args, **kwargs)

    monkeypatch.setattr(dae_training.TrainingData, "inputs", record)
    vocab, corpus = data
    DAE(DAEConfig(configs=("5",), **{**FAST, "batch_size": 16}, epoch_playlists=40)).fit(
        corpus, vocab
    )
    epochs = [np.concatenate(seen[:3]), np.concatenate(seen[3:])]
    assert len(seen) == 6 and [len(e) for e in epochs] == [40, 40]
    assert all(len(np.unique(e)) == 40 for e in epochs) and set(epochs[0]) != set(epochs[1])
