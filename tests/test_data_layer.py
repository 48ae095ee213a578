"""Reader, challenge sets, vocabulary, matrices and splits on the hand-made real-format fixture."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_playlists, uri, write_mpd
from mmcf.mpd.challenge import CATEGORIES, Query, read_challenge
from mmcf.mpd.dataset import load_training
from mmcf.mpd.errors import DataError, UserError
from mmcf.mpd.matrix import InputWeights, item_matrix, query_matrix
from mmcf.mpd.reader import read_playlists, read_slice, slice_files
from mmcf.mpd.matrix import build_vocab
from mmcf.mpd.split import Validation, ValidationConfig, read_answers, split_mpd
from mmcf.mpd.vocab import Vocab, VocabConfig


def test_reader_streams_in_slice_order(tiny_mpd):
    pids = [p["pid"] for p in read_playlists(tiny_mpd)]
    assert pids == list(range(400))
    assert [f.name for f in slice_files(tiny_mpd)][:2] == [
        "mpd.slice.0-99.json",
        "mpd.slice.100-199.json",
    ]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.pop("tracks"), "has no 'tracks'"),
        (lambda p: p.update(num_tracks="12"), "'num_tracks' should be int"),
        (lambda p: p["tracks"][0].pop("track_uri"), "track 0 has no 'track_uri'"),
        (lambda p: p["tracks"][1].update(track_uri="spotify:track:short"), "malformed track_uri"),
        (lambda p: p.update(tracks=[]), "no tracks"),
    ],
)
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
    assert again.track_uris == vocab.track_uris and np.array_equal(
        again.track_artist, vocab.track_artist
    )


def test_item_matrix_is_sparse_binary_tracks_then_artists(tiny_mpd):
    training = load_training(tiny_mpd)
    vocab, corpus = training.vocab, training.corpus
    x = item_matrix(corpus, vocab)
    assert x.shape == (400, vocab.n_items) and set(np.unique(x.data)) == {1.0}
    row = corpus.tracks(0)
    assert set(x[0].indices[x[0].indices < vocab.n_tracks]) == set(row)
    assert set(x[0].indices[x[0].indices >= vocab.n_tracks] - vocab.n_tracks) == set(
        vocab.track_artist[row]
    )


def test_one_pass_corpus_matches_mapping_with_a_known_vocabulary(tiny_mpd):
    training = load_training(tiny_mpd, VocabConfig(min_track_playlists=2))
    vocab, corpus = training.vocab, training.corpus
    playlists = list(read_playlists(tiny_mpd))
    expected = [[vocab.track_index.get(t["track_uri"], -1) for t in p["tracks"]] for p in playlists]
    assert [corpus.tracks(r, known_only=False).tolist() for r in range(len(corpus))] == expected
    assert -1 in corpus.track_ids and corpus.pids.tolist() == [p["pid"] for p in playlists]
    again = load_training(tiny_mpd, vocab=vocab).corpus
    assert np.array_equal(again.track_ids, corpus.track_ids) and again.titles == corpus.titles


def test_query_weights_older_seeds_and_unknown_tracks(tiny_mpd):
    vocab = load_training(tiny_mpd).vocab
    seeds = vocab.track_uris[:60] + [uri("track", 999999)]
    q = query_matrix(
        [Query(1, "x", seeds, in_order=True), Query(2, None, seeds, in_order=False)],
        vocab,
        InputWeights(),
    )
    first = q[0].toarray().ravel()
    assert first[0] == pytest.approx(0.15) and first[59] == pytest.approx(1.0)
    assert first[vocab.n_tracks :].max() == pytest.approx(0.5)
    assert q[1].toarray().ravel()[0] == pytest.approx(1.0)  # random seeds: no recency weighting


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


def test_answers_reader_names_a_challenge_set_given_in_their_place(tiny_mpd, tmp_path):
    paths = split_mpd(tiny_mpd, tmp_path / "split", per_category=5, seed=0)
    with pytest.raises(DataError, match="challenge set or MPD slice, not the answers"):
        read_answers(paths["challenge"])
    broken = tmp_path / "answers.json"
    broken.write_text('{"7": {"category": 2}}')
    with pytest.raises(DataError, match="pid 7: needs 'category'"):
        read_answers(broken)


def test_split_refuses_impossible_request(tiny_mpd, tmp_path):
    with pytest.raises(UserError, match="category 9 needs 500"):
        split_mpd(tiny_mpd, tmp_path / "s", per_category=500, seed=0)


def test_validation_carve_is_disjoint_seeded_and_made_like_the_test_split(tiny_mpd, tmp_path):
    config = ValidationConfig(per_category=2, seed=3)
    training = load_training(tiny_mpd, VocabConfig(min_track_playlists=10), validation=config)
    validation = training.validation
    again = load_training(tiny_mpd, validation=config).validation
    assert [q.seeds for q in again.queries] == [q.seeds for q in validation.queries]
    assert len(validation.queries) == 20 and sorted(
        {q.category for q in validation.queries}
    ) == list(range(1, 11))
    assert (
        len(training.corpus) + 20 == 400
        and not set(training.corpus.pids.tolist()) & validation.pids
    )
    # Answers keep every held-out track, in the vocabulary or not, exactly as a test split's
    # answers do.
    original = {p["pid"]: p for p in read_playlists(tiny_mpd)}
    for q in validation.queries:
        playlist, answer = original[q.pid], validation.answers[q.pid]
        assert len(q.seeds) + len(answer.tracks) == len(playlist["tracks"])
        assert sorted(q.seeds + answer.tracks) == sorted(t["track_uri"] for t in playlist["tracks"])
    held = [u for a in validation.answers.values() for u in a.tracks]
    assert any(u not in training.vocab.track_index for u in held)
    # The vocabulary is counted without the validation playlists.
    counts = dict(zip(training.vocab.track_uris, training.vocab.track_counts))
    uri, count = next(iter(counts.items()))
    assert count == sum(
        uri in {t["track_uri"] for t in p["tracks"]}
        for pid, p in original.items()
        if pid not in validation.pids
    )
    validation.save(tmp_path / "v")
    loaded = Validation.load(tmp_path / "v")
    assert loaded.queries == validation.queries and loaded.answers == validation.answers


def test_split_rerun_on_changed_data_never_leaks_the_answers(tmp_path):
    """The issue's repro: the same split of a grown MPD must not keep the old train/ slices."""
    source = write_mpd(tmp_path / "mpd", make_playlists(300), per_slice=100)
    split_mpd(source, tmp_path / "s", per_category=3, seed=1)
    write_mpd(
        source, make_playlists(400, seed=9), per_slice=100
    )  # same names, new content, one more
    paths = split_mpd(source, tmp_path / "s", per_category=3, seed=1)
    held = {q.pid for q in read_challenge(paths["challenge"])}
    train = list(read_playlists(paths["train"]))
    assert len(train) == 370 and not {p["pid"] for p in train} & held
    new = {p["pid"]: p["tracks"] for p in make_playlists(400, seed=9)}
    assert all(p["tracks"] == new[p["pid"]] for p in train)


def test_split_rerun_on_fewer_slices_removes_the_stale_ones(tmp_path):
    source = write_mpd(tmp_path / "mpd", make_playlists(400), per_slice=100)
    split_mpd(source, tmp_path / "s", per_category=2, seed=0)
    (source / "mpd.slice.300-399.json").unlink()
    paths = split_mpd(source, tmp_path / "s", per_category=2, seed=0)
    assert sorted(p.name for p in paths["train"].iterdir()) == [
        f"mpd.slice.{a}-{a + 99}.json" for a in (0, 100, 200)
    ]
    assert max(p["pid"] for p in read_playlists(paths["train"])) < 300


def test_split_resumes_only_the_same_data_and_settings(tmp_path, monkeypatch):
    import mmcf.mpd.split as split

    source = write_mpd(tmp_path / "mpd", make_playlists(400), per_slice=100)
    split_mpd(source, tmp_path / "s", per_category=2, seed=0)
    written = []
    original = split.atomic_write
    monkeypatch.setenv("MMCF_READ_WORKERS", "1")  # slices written in this process, where the spy is
    monkeypatch.setattr(
        split,
        "atomic_write",
        lambda path, *a: written.append(Path(path).name) or original(path, *a),
    )
    split_mpd(source, tmp_path / "s", per_category=2, seed=0)
    assert not [n for n in written if n.startswith("mpd.slice")]  # unchanged: the slices are kept
    written.clear()
    split_mpd(source, tmp_path / "s", per_category=3, seed=0)
    assert (
        len([n for n in written if n.startswith("mpd.slice")]) == 4
    )  # other settings: all rewritten


def test_challenge_shape_must_match_a_category(tiny_mpd, tmp_path):
    paths = split_mpd(tiny_mpd, tmp_path / "s", per_category=1, seed=0)
    data = json.loads(paths["challenge"].read_text())
    five = next(p for p in data["playlists"] if len(p["tracks"]) == 5)
    five["tracks"].pop()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DataError, match="matches no challenge category"):
        read_challenge(bad)


def test_a_killed_rerun_on_changed_data_does_not_resume_old_slices(tmp_path, monkeypatch):
    import mmcf.mpd.split as split

    source = write_mpd(tmp_path / "mpd", make_playlists(300), per_slice=100)
    split_mpd(source, tmp_path / "s", per_category=2, seed=0)
    write_mpd(source, make_playlists(300, seed=9), per_slice=100)  # same names, other content

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(split, "hold_out", killed)
    with pytest.raises(KeyboardInterrupt):
        split_mpd(source, tmp_path / "s", per_category=2, seed=0)
    # the old slices are gone already; the pool may have written some of the new data's
    new = {p["pid"]: p["tracks"] for p in make_playlists(300, seed=9)}
    left = [p for f in (tmp_path / "s" / "train").glob("mpd.slice.*") for p in read_slice(f)]
    assert all(p["tracks"] == new[p["pid"]] for p in left)
    monkeypatch.undo()
    paths = split_mpd(source, tmp_path / "s", per_category=2, seed=0)
    assert all(p["tracks"] == new[p["pid"]] for p in read_playlists(paths["train"]))
