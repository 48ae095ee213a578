import math

import pytest

from mmcf.mpd.metrics import Answer, clicks, ndcg, r_precision, score_all, summarize

ARTIST = {"t1": "a1", "t2": "a1", "t3": "a2", "x1": "a1", "x2": "a1", "x3": "a3", "x4": "a2"}


def test_r_precision_hits_only():
    assert r_precision(["t1", "t2", "t9"], {"t1", "t2", "t3"}, set(), ARTIST) == pytest.approx(
        2 / 3
    )


def test_r_precision_only_first_g_count():
    assert r_precision(["t9", "t8", "t7", "t1"], {"t1", "t2", "t3"}, {"a1"}, {}) == 0.0


def test_artist_credit_once_per_artist_for_non_hits():
    # G = {t1, t3}: first |G| = 2 recs: x1 (artist a1 → 0.25), x2 (a1 again → nothing)
    assert r_precision(["x1", "x2"], {"t1", "t3"}, {"a1", "a2"}, ARTIST) == pytest.approx(0.25 / 2)
    # a hit by a held-out artist scores 1, and does not use up the artist's credit
    assert r_precision(["t1", "x1"], {"t1", "t3"}, {"a1", "a2"}, ARTIST) == pytest.approx(1.25 / 2)
    # a non-held-out artist gets nothing
    assert r_precision(["x3", "x4"], {"t1", "t3"}, {"a1", "a2"}, ARTIST) == pytest.approx(0.25 / 2)


def test_ndcg_rank_two_counts_like_rank_one():
    assert ndcg(["a", "t1"], {"t1"}) == pytest.approx(1.0)
    assert ndcg(["t1", "a"], {"t1"}) == pytest.approx(1.0)


def test_ndcg_hand_computed():
    # hits at ranks 1 and 4 of two possible: DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(2) = 2
    assert ndcg(["t1", "a", "b", "t2"], {"t1", "t2", "t3"}) == pytest.approx(1.5 / 2)
    assert ndcg(["a", "b", "c"], {"t1"}) == 0.0
    assert ndcg(["a", "b", "t1"], {"t1"}) == pytest.approx(1 / math.log2(3))


def test_clicks():
    assert clicks(["t1"], {"t1"}) == 0
    assert clicks(["a"] * 9 + ["t1"], {"t1"}) == 0
    assert clicks(["a"] * 10 + ["t1"], {"t1"}) == 1
    assert clicks(["a"] * 500, {"t1"}) == 51


def test_duplicate_holdouts_count_once():
    answers = {7: Answer(3, ["t1", "t1", "t2"], ["a1"])}
    table = summarize(score_all({7: ["t1", "t2"]}, answers, ARTIST))
    assert table.loc["all", "r_precision"] == pytest.approx(1.0)
    assert table.loc[3, "playlists"] == 1


def test_ndcg_normalised_by_g_is_the_leaderboard_form():
    # hits at ranks 1 and 4 of |G| = 3: IDCG over |G| = 1 + 1/log2(2) + 1/log2(3)
    targets = {"t1", "t2", "t3"}
    assert ndcg(["t1", "a", "b", "t2"], targets, len(targets)) == pytest.approx(
        1.5 / (2 + 1 / math.log2(3))
    )
    assert ndcg(["t1", "a", "b", "t2"], targets, len(targets)) < ndcg(
        ["t1", "a", "b", "t2"], targets
    )
    table = summarize(
        score_all({7: ["t1", "a", "b", "t2"]}, {7: Answer(3, sorted(targets))}, ARTIST)
    )
    assert table.loc["all", "ndcg"] == pytest.approx(0.75)
    assert table.loc["all", "ndcg_g"] == pytest.approx(1.5 / (2 + 1 / math.log2(3)))


def test_top_k_ranks_ties_by_index():
    import numpy as np
    import scipy.sparse as sp
    import torch

    from mmcf.models.base import stable_top_k
    from mmcf.mpd.matrix import top_k_per_row

    scores = torch.tensor(
        [[1.0, 3.0, 2.0, 3.0, 2.0, 2.0, 0.0], [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]]
    )
    values, indices = stable_top_k(scores, 4)
    assert indices.tolist() == [[1, 3, 2, 4], [0, 1, 2, 3]] and values[0].tolist() == [
        3.0,
        3.0,
        2.0,
        2.0,
    ]
    kept = top_k_per_row(sp.csr_matrix(np.array([[1.0, 3.0, 2.0, 3.0, 2.0, 2.0, 0.5]])), 4)
    assert sorted(kept.indices.tolist()) == [1, 2, 3, 4] and sorted(kept.data.tolist()) == [
        2.0,
        2.0,
        3.0,
        3.0,
    ]


def test_first_hit_and_clicks():
    from mmcf.mpd.metrics import first_hit

    recs = [f"x{i}" for i in range(25)] + ["t1", "t2"]
    assert first_hit(recs, {"t2", "t1"}) == 25 and clicks(recs, {"t1"}) == 2
    assert first_hit(recs, {"t9"}) is None and clicks(recs, {"t9"}) == 51
    table = score_all({7: recs}, {7: Answer(3, ["t1"]), 8: Answer(3, ["t1"])}, {})
    assert table["first_hit"].tolist()[0] == 25 and math.isnan(table["first_hit"].tolist()[1])


def test_scoring_a_stream_of_rows_equals_scoring_the_mapping():
    answers = {7: Answer(3, ["t1"], ["a1"]), 8: Answer(5, ["t2"]), 9: Answer(5, ["t3"])}
    recs = {7: ["x", "t1"], 8: ["t2"]}
    # 8 twice (the last row counts), 4 not among the answers
    rows = iter([(8, ["x"]), (7, ["x", "t1"]), (4, ["t9"]), (8, ["t2"])])
    streamed = score_all(rows, answers, ARTIST)
    assert streamed.equals(score_all(recs, answers, ARTIST))
    assert streamed["pid"].tolist() == [7, 8, 9]  # the answers' order; 9 unanswered, 4 unknown
