"""Title normalisation (ours and the reference's) and the character vocabulary."""

from __future__ import annotations

import pytest

from mmcf.mpd.errors import UserError
from mmcf.mpd.titles import PAD, UNK, CharVocab, has_non_latin_or_emoji, normalize_title


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Road Trip!!", "road trip"),
        ("  chill   vibes\t", "chill vibes"),
        ("80's Hip-Hop", "80s hip hop"),
        ("운동", "운동"),
        ("ドライブ", "ドライブ"),
        ("🔥🔥", "🔥🔥"),
        ("Café", "café"),
        ("Straße", "strasse"),
        ("ＷＯＲＫＯＵＴ　２０１８", "workout 2018"),  # full-width letters, digits and space (NFKC)
        ("ｶﾀｶﾅ", "カタカナ"),  # half-width katakana (NFKC)
        ("हिंदी गाने", "हिंदी गाने"),  # Devanagari vowel signs are combining marks
        ("!!!", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_unicode_normaliser(title, expected):
    assert normalize_title(title) == expected


def test_emoji_sequences_are_kept_and_variation_selectors_dropped():
    assert normalize_title("❤️ love") == normalize_title("❤ love") == "❤ love"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalize_title(f"{family} Family!") == f"{family} family"
    assert normalize_title("👍🏽") == "👍🏽"  # skin tone stays with its emoji
    assert normalize_title("a\u200db") == "ab"  # a ZWJ outside an emoji sequence goes
    assert normalize_title("🇰🇷 kpop") == "🇰🇷 kpop"  # flags: regional indicators


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Road Trip!!", "roadtrip"),
        ("80's Hip-Hop", "80ship-hop"),
        ("<3 + R/B", "<3+r/b"),
        ("운동", ""),
        ("ドライブ", ""),
        ("🔥🔥", ""),
        ("Café", "caf"),
        ("ＷＯＲＫＯＵＴ", ""),
        ("abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnopqrstuvwxy"),  # cut at 25
    ],
)
def test_reference_normaliser(title, expected):
    assert normalize_title(title, "reference") == expected


def test_unknown_mode_is_a_user_error():
    with pytest.raises(UserError, match="normaliser"):
        normalize_title("x", "ascii")


def test_non_latin_or_emoji():
    assert [has_non_latin_or_emoji(t) for t in ("운동", "🔥", "Café", "rock 2018", "!!")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_char_vocab_ids_and_unknown(tmp_path):
    vocab = CharVocab.build(["aab", "ab", "abz", "운동"], min_count=2)
    assert vocab.chars == ["a", "b"]  # most frequent first; z and Hangul seen once
    assert len(vocab) == 4  # padding + unknown + 2
    assert vocab.encode("abz") == [2, 3, UNK]
    assert vocab.encode("abab", max_len=3) == [2, 3, 2]
    batch = vocab.encode_batch(["ab", "a"], max_len=10, min_len=4)
    assert batch.tolist() == [[2, 3, PAD, PAD], [2, PAD, PAD, PAD]]
    assert vocab.known("zza") and not vocab.known("zz")
    vocab.save(tmp_path / "chars.json")
    again = CharVocab.load(tmp_path / "chars.json")
    assert (again.chars, again.mode, again.min_count) == (vocab.chars, "unicode", 2)


def test_char_vocab_normalises_with_its_mode():
    titles = ["Rock!", "ROCK", "록 음악"]
    assert set(CharVocab.build(titles, 1, "reference").chars) == set("rock")
    assert "록" in CharVocab.build(titles, 1, "unicode").chars


def test_char_vocab_load_errors(tmp_path):
    with pytest.raises(UserError, match="no character vocabulary"):
        CharVocab.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(UserError, match="not a character vocabulary"):
        CharVocab.load(tmp_path / "bad.json")
