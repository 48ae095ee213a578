"""Reader, challenge sets, vocabulary, matrices and splits on the hand-made real-format fixture."""
import json

import numpy as np
import pytest

from conftest import make_playlists, uri, write_mpd
from mpd.challenge import CATEGORIES, Query, read_challenge
from mpd.dataset import load_training
from mpd.errors import DataError, UserError
from mpd.matrix import InputWeights, item_matrix, query_matrix
from mpd.reader import read_playlists, slice_files
from mpd.split import carve_validation, read_answers, split_mpd
from mpd.vocab import Vocab, VocabConfig, build_vocab


def test_reader_streams_in_slice_order(tiny_mpd):
    pids = [p["pid"] for p in read_playlists(tiny_mpd)]
    assert pids == list(range(400))
    assert [f.name for f in slice_files(tiny_mpd)][:2] == ["mpd.slice.0-99.json", "mpd.slice.100-199.json"]


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.pop("tracks"), "has no 'tracks'"),
    (lambda p: p.update(num_tracks="12"), "'num_tracks' should be int"),
    (lambda p: p["tracks"][0].pop("track_uri"), "track 0 has no 'track_uri'"),
    (lambda p: p["tracks"][1].update(track_uri="spotify:track:short"), "malformed track_uri"),
    (lambda p: p.update(tracks=[]), "no tracks"),
])
def test_reader_names_file_and_pid(tmp_path, mutate, message):
    playlists = make_playlists(10)
    mutate(playlists[3])
    write_mpd(tmp_path, playlists)
    with pytest.raises(DataError, match=message) as err:
        list(read_playlists(tmp_path))
    assert "mpd.slice.0-999.json" in str(err.value) and "pid 3" in str(err.value)


def test_duplicate_pid_and_empty_dir(tmp_path):
    playlists = make_playlists(5)
    playlists[4]["pid"] = 1
    write_mpd(tmp_path / "a", playlists)
    with pytest.raises(DataError, match="duplicate pid"):
        list(read_playlists(tmp_path / "a"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no MPD slice files"):
        list(read_playlists(tmp_path / "empty"))


def test_vocab_cutoffs_and_round_trip(tiny_playlists, tmp_path):
    tiny_playlists[0]["tracks"][0]["artist_name"] = "Various Artists"
    vocab = build_vocab(tiny_playlists, VocabConfig(min_track_playlists=5, min_artist_playlists=3))
    assert np.all(vocab.track_counts >= 5) and np.all(np.diff(vocab.track_counts) <= 0)
    assert tiny_playlists[0]["tracks"][0]["artist_uri"] not in vocab.artist_index
    vocab.save(tmp_path / "v.json.gz")
    again = Vocab.load(tmp_path / "v.json.gz")
    assert again.track_uris == vocab.track_uris and np.array_equal(again.track_artist, vocab.track_artist)


def test_item_matrix_is_sparse_binary_tracks_then_artists(tiny_mpd):
    vocab, corpus = load_training(tiny_mpd)
    x = item_matrix(corpus, vocab)
    assert x.shape == (400, vocab.n_items) and set(np.unique(x.data)) == {1.0}
    row = corpus.tracks(0)
    assert set(x[0].indices[x[0].indices < vocab.n_tracks]) == set(row)
    assert set(x[0].indices[x[0].indices >= vocab.n_tracks] - vocab.n_tracks) == set(vocab.track_artist[row])


def test_one_pass_corpus_matches_mapping_with_a_known_vocabulary(tiny_mpd):
    vocab, corpus = load_training(tiny_mpd, VocabConfig(min_track_playlists=2))
    playlists = list(read_playlists(tiny_mpd))
    expected = [[vocab.track_index.get(t["track_uri"], -1) for t in p["tracks"]] for p in playlists]
    assert [corpus.tracks(r, known_only=False).tolist() for r in range(len(corpus))] == expected
    assert -1 in corpus.track_ids and corpus.pids.tolist() == [p["pid"] for p in playlists]
    again = load_training(tiny_mpd, vocab=vocab)[1]
    assert np.array_equal(again.track_ids, corpus.track_ids) and again.titles == corpus.titles


def test_query_weights_older_seeds_and_unknown_tracks(tiny_mpd):
    vocab, _ = load_training(tiny_mpd)
    seeds = vocab.track_uris[:60] + [uri("track", 999999)]
    q = query_matrix([Query(1, "x", seeds, in_order=True), Query(2, None, seeds, in_order=False)], vocab,
                     InputWeights())
    first = q[0].toarray().ravel()
    assert first[0] == pytest.approx(0.15) and first[59] == pytest.approx(1.0)
    assert first[vocab.n_tracks:].max() == pytest.approx(0.5)
    assert q[1].toarray().ravel()[0] == pytest.approx(1.0)    # random seeds: no recency weighting


def test_split_files_categories_and_answers(tiny_mpd, tmp_path):
    paths = split_mpd(tiny_mpd, tmp_path / "split", per_category=3, seed=1)
    queries = read_challenge(paths["challenge"])
    answers = read_answers(paths["answers"])
    assert len(queries) == 30 and sorted({q.category for q in queries}) == list(range(1, 11))
    train_pids = {p["pid"] for p in read_playlists(paths["train"])}
    assert len(train_pids) == 370 and not train_pids & {q.pid for q in queries}
    raw = json.loads(paths["answers"].read_text())
    assert set(raw[str(queries[0].pid)]) == {"category", "holdout_tracks", "holdout_artists"}
    for q in queries:
        c = CATEGORIES[q.category - 1]
        total = len(q.seeds) + len(answers[q.pid].tracks)
        assert len(q.seeds) == c.seeds and c.min_length <= total <= c.max_length
        assert (q.title is not None) == c.title and answers[q.pid].category == q.category
    again = split_mpd(tiny_mpd, tmp_path / "split", per_category=3, seed=1)
    assert read_answers(again["answers"]) == answers


def test_split_refuses_impossible_request(tiny_mpd, tmp_path):
    with pytest.raises(UserError, match="category 9 needs 500"):
        split_mpd(tiny_mpd, tmp_path / "s", per_category=500, seed=0)


def test_validation_carve_is_disjoint_and_seeded(tiny_mpd):
    vocab, corpus = load_training(tiny_mpd)
    rows, queries, answers = carve_validation(corpus, vocab, 2, seed=3)
    again = carve_validation(corpus, vocab, 2, seed=3)
    assert [q.seeds for q in again[1]] == [q.seeds for q in queries]
    assert len(rows) + len(queries) == len(corpus)
    assert not set(corpus.pids[rows]) & set(answers)


def test_challenge_shape_must_match_a_category(tiny_mpd, tmp_path):
    paths = split_mpd(tiny_mpd, tmp_path / "s", per_category=1, seed=0)
    data = json.loads(paths["challenge"].read_text())
    five = next(p for p in data["playlists"] if len(p["tracks"]) == 5)
    five["tracks"].pop()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DataError, match="matches no challenge category"):
        read_challenge(bad)
