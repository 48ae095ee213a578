"""The second stage: its training examples, candidates and features, and the ranker as a model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_playlists, write_mpd
from mmcf.ensemble.examples import training_examples
from mmcf.ensemble.features import candidates, count_in, source_scores, top_ids
from mmcf.ensemble.ranker import NOT_CANDIDATE, Ranker, RankerConfig
from mmcf.models.knn import ItemKNN
from mmcf.models.popularity import Popularity
from mmcf.models.title_lookup import TitleLookup
from mmcf.mpd.challenge import CATEGORIES, Query
from mmcf.mpd.dataset import load_training
from mmcf.mpd.errors import UserError
from mmcf.mpd.split import ValidationConfig
from mmcf.mpd.vocab import VocabConfig


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    mpd = write_mpd(tmp_path_factory.mktemp("ranker"), make_playlists(600, seed=3), per_slice=300)
    return load_training(
        mpd, VocabConfig(min_track_playlists=2), validation=ValidationConfig(per_category=6)
    )


@pytest.fixture(scope="module")
def members(data):
    return {
        "knn": ItemKNN().fit(data.corpus, data.vocab),
        "title": TitleLookup().fit(data.corpus, data.vocab),
        "popularity": Popularity().fit(data.corpus, data.vocab),
    }


def test_examples_are_other_shapes_of_the_same_validation_playlists(data):
    validation = data.validation
    examples = training_examples(validation)
    assert len(examples) > len(validation.queries)
    by_category = {c.number: c for c in CATEGORIES}
    for example in examples:
        query, answer = example.query, validation.answers[example.query.pid]
        original = next(q for q in validation.queries if q.pid == query.pid)
        whole = sorted(original.seeds + answer.tracks)
        assert sorted(query.seeds + example.hidden) == whole  # the same playlist, nothing more
        category = by_category[query.category]
        assert len(query.seeds) == category.seeds and bool(query.title) == category.title
        assert len(example.hidden) > 0
        if query.in_order and query is not original:
            assert query.seeds == (original.seeds + answer.tracks)[: len(query.seeds)]
    assert {e.query.category for e in examples} == set(by_category)


def test_candidates_are_each_sources_top_k_without_seeds(data, members):
    vocab, k = data.vocab, 20
    queries = data.validation.queries[:8]
    found = candidates(queries, members, vocab, per_source=k, recent=3)
    assert found.features.shape == (len(found.rows), len(found.names))
    assert np.isfinite(found.features).all() and (np.diff(found.rows) >= 0).all()
    scores = source_scores(queries, members, recent=3)
    assert set(scores) == {"knn", "knn_recent", "title_exact", "title_words", "popularity"}
    for row, query in enumerate(queries):
        mine = set(found.tracks[found.rows == row].tolist())
        seeds = {vocab.track_index[u] for u in query.seeds if u in vocab.track_index}
        assert not mine & seeds
        for name, s in scores.items():
            s = s[row].clone()
            s[list(seeds)] = -torch.inf
            top = set(torch.topk(s, k).indices.tolist())
            assert top <= mine, name
            rank = found.features[found.rows == row, found.names.index(f"{name}_rank")]
            assert ((rank < k) == np.isin(found.tracks[found.rows == row], list(top))).all()


def test_top_ids_skip_the_seeds_and_leave_the_scores_as_they_were():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5]])
    before = scores.clone()
    seeds = [np.array([0, 2]), np.array([], np.int64)]
    assert top_ids(scores, seeds, 2).tolist() == [[1, 3], [4, 3]]
    assert torch.equal(scores, before)
    assert top_ids(scores, [np.array([0, 1, 2, 3]), np.array([4])], 2)[1].tolist() == [3, 2]


def test_count_in_counts_pairs_and_never_unknown_values():
    rows, values = np.array([0, 0, 0, 1, 1]), np.array([3, 3, -1, 3, 5])
    at_rows, at_values = np.array([0, 0, 1, 1, 2]), np.array([3, -1, 3, 4, 3])
    assert count_in(rows, values, at_rows, at_values).tolist() == [2, 0, 1, 0, 0]
    assert count_in(rows[:0], values[:0], at_rows, at_values).tolist() == [0] * 5


def test_the_ranker_orders_its_candidates_and_puts_the_rest_last(data, members):
    config = RankerConfig(members=("knn", "title", "popularity"), candidates=30, trees=20)
    ranker = Ranker(config).fit(
        data.corpus, data.vocab, members=members, validation=data.validation
    )
    assert set(ranker.report["r_precision"]) == {"ranker", "knn", "title", "popularity"}
    queries = data.validation.queries[:4]
    scores = ranker.score(queries)
    found = ranker.candidates(queries)
    proposed = torch.zeros_like(scores, dtype=torch.bool)
    proposed[found.rows, found.tracks] = True
    assert (scores[proposed] > NOT_CANDIDATE / 2).all() and (
        scores[~proposed] < NOT_CANDIDATE / 2
    ).all()


def test_the_ranker_needs_validation_playlists(data, members):
    with pytest.raises(UserError, match="validation playlists"):
        Ranker(RankerConfig(members=("knn",))).fit(data.corpus, data.vocab, members=members)


def test_title_lookup_weighs_the_exact_title_by_its_playlists_and_falls_back_to_words(
    data, members
):
    lookup: TitleLookup = members["title"]
    text = max(lookup.memory.texts, key=lambda t: lookup.counts[lookup.memory.row(t)])
    seen, words_only = Query(pid=1, title=text), Query(pid=2, title=f"zzz {text.split()[0]}")
    exact, words = lookup.exact_and_word_scores([seen, words_only])
    assert exact[0].sum() > 0 and exact[1].sum() == 0 and words[1].sum() > 0
    assert lookup.title_counts([seen, words_only]).tolist() == [
        lookup.counts[lookup.memory.row(text)],
        0,
    ]
    assert lookup.knows_title(words_only.title) and not lookup.knows_title("qqqq")


def test_settings_follow_the_data_size():
    from mmcf.models.dae.config import VARIANTS, DAEConfig, max_epochs
    from mmcf.mpd.vocab import track_cutoff

    untied, tied_only = VARIANTS["5"], VARIANTS["0to1"]
    assert max_epochs(DAEConfig(), untied, 100_000) == 6  # the measured default
    assert max_epochs(DAEConfig(), untied, 5_000) == 16  # 79 steps an epoch: 1,200 steps
    assert max_epochs(DAEConfig(), tied_only, 20_000) == 10
    assert max_epochs(DAEConfig(), untied, 50) == 30  # at most
    assert max_epochs(DAEConfig(epochs=3), untied, 5_000) == 3  # given: as given
    counts = np.array([1] * 300 + [2] * 100 + [7] * 10)
    assert track_cutoff(counts, VocabConfig(max_tracks=1000)) == 1  # small data: every track
    assert track_cutoff(counts, VocabConfig(max_tracks=200)) == 2
    assert track_cutoff(counts, VocabConfig(max_tracks=5)) == 5  # never above MMCF's 5
    assert track_cutoff(counts, VocabConfig(min_track_playlists=3)) == 3
