"""Playlist titles for the title model: normalisation and a character vocabulary learned from
training titles.

Two normalisers:

* ``unicode`` (ours): NFKC, case-folding; letters of any script, combining marks, digits and emoji
  are kept; apostrophes vanish ("80's" → "80s"), other punctuation and symbols separate words
  ("hip-hop" → "hip hop"); whitespace is collapsed. Emoji keep their ZWJ sequences and skin tones;
  variation selectors are dropped, so "❤️" and "❤" are the same title.
* ``reference`` (MMCF's): lower-case, keep only ``a–z 0–9 / < > + -`` and cut at 25 characters. It
  loses spaces, accents, emoji and every non-Latin title.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import ujson

from .atomic import atomic_write, open_text
from .errors import UserError

MODES = ("unicode", "reference")
REFERENCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789/<>+-")
REFERENCE_LENGTH = 25
PAD, UNK = 0, 1  # CharVocab ids; characters start at 2
ZWJ = "\u200d"
APOSTROPHES = frozenset("'\u2018\u2019\u02bc\u0060\u00b4\u2032")
SKIN_TONES = range(0x1F3FB, 0x1F400)
_KEEP, _JOIN, _SPACE, _DROP = range(4)


def normalize_title(title: str | None, mode: str = "unicode") -> str:
    """The normalised title ('' when nothing usable is left); `mode` is 'unicode' or 'reference'."""
    if mode not in MODES:
        raise UserError(f"unknown title normaliser {mode!r}; choose one of {', '.join(MODES)}")
    if not title:
        return ""
    if mode == "reference":
        return "".join(c for c in title.lower() if c in REFERENCE_CHARS)[:REFERENCE_LENGTH]
    return _unicode(title)


def _unicode(title: str) -> str:
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", title).casefold())
    out: list[str] = []
    for i, char in enumerate(text):
        action = _action(char, out[-1] if out else " ", text[i + 1 : i + 3])
        if action == _KEEP:
            out.append(char)
        elif action == _SPACE and out and out[-1] != " ":
            out.append(" ")
    return "".join(out).strip()


def _action(char: str, previous: str, following: str) -> int:
    """What to do with one character, given the last kept one and the next two."""
    category = unicodedata.category(char)
    if char in APOSTROPHES:
        return _JOIN
    if category[0] in "LN" or category == "So":
        return _KEEP
    if ord(char) in SKIN_TONES:
        return _KEEP if is_emoji(previous) else _DROP
    if char == ZWJ:  # keep only inside an emoji sequence, so 👨‍👩‍👧 stays one family
        nxt = following.lstrip("\ufe0e\ufe0f")[:1]
        return _KEEP if is_emoji(previous) and nxt and is_emoji(nxt) else _DROP
    if category[0] == "M":  # combining marks (Indic vowels, accents NFKC could not compose)
        return _DROP if _is_variation_selector(char) or previous == " " else _KEEP
    if category[0] in "PSZ" or category == "Cc":
        return _SPACE
    return _DROP  # format, private-use and unassigned code points


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def is_emoji(char: str) -> bool:
    """A pictographic symbol (emoji, ♫, ★, flags' regional indicators, skin tones)."""
    return bool(char) and (unicodedata.category(char) == "So" or ord(char) in SKIN_TONES)


def has_non_latin_or_emoji(title: str | None) -> bool:
    """Does the title carry letters of a non-Latin script or emoji (what the reference normaliser
    loses)?"""
    for char in normalize_title(title, "unicode"):
        if is_emoji(char):
            return True
        if unicodedata.category(char)[0] == "L" and not unicodedata.name(char, "").startswith(
            "LATIN"
        ):
            return True
    return False


@dataclass
class CharVocab:
    """Characters (code points) seen at least `min_count` times in normalised training titles.

    Id 0 pads, id 1 stands for any unknown character, the characters follow from the most frequent.
    """

    chars: list[str]
    mode: str = "unicode"
    min_count: int = 1
    index: dict[str, int] = field(init=False, repr=False)

    FORMAT = "mmcf-charvocab/1"

    def __post_init__(self) -> None:
        self.index = {c: i + 2 for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        """Number of ids, padding and unknown included (the embedding table size)."""
        return len(self.chars) + 2

    @classmethod
    def build(
        cls, titles: Iterable[str | None], min_count: int = 2, mode: str = "unicode"
    ) -> "CharVocab":
        """Learn the characters of raw titles (normalised here with `mode`)."""
        counts: Counter[str] = Counter()
        for title in titles:
            counts.update(normalize_title(title, mode))
        kept = sorted(
            (c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c)
        )
        return cls(kept, mode, min_count)

    def normalize(self, title: str | None) -> str:
        return normalize_title(title, self.mode)

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Ids of an already normalised text, cut at `max_len` characters."""
        return [self.index.get(c, UNK) for c in text[:max_len]]

    def encode_batch(self, texts: Sequence[str], max_len: int, min_len: int = 1) -> np.ndarray:
        """Padded int64 id matrix [len(texts), width], width between `min_len` and `max_len`."""
        ids = [self.encode(t, max_len) for t in texts]
        width = max([min_len, *map(len, ids)])
        out = np.full((len(ids), width), PAD, dtype=np.int64)
        for row, seq in enumerate(ids):
            out[row, : len(seq)] = seq
        return out

    def known(self, text: str) -> bool:
        """Does the normalised text contain at least one character of the vocabulary?"""
        return any(c in self.index for c in text)

    def save(self, path: str | Path) -> None:
        with atomic_write(path) as f:
            ujson.dump(
                {
                    "format": self.FORMAT,
                    "mode": self.mode,
                    "min_count": self.min_count,
                    "chars": self.chars,
                },
                f,
                ensure_ascii=False,
            )

    @classmethod
    def load(cls, path: str | Path) -> "CharVocab":
        try:
            with open_text(path) as f:
                data = ujson.load(f)
        except FileNotFoundError:
            raise UserError(
                f"{path}: no character vocabulary here (train the title model first)"
            ) from None
        except (ValueError, OSError) as exc:
            raise UserError(f"{path}: unreadable character vocabulary ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != cls.FORMAT:
            raise UserError(f"{path}: not a character vocabulary in format {cls.FORMAT}")
        chars = data.get("chars")
        if (
            data.get("mode") not in MODES
            or not isinstance(chars, list)
            or len(set(chars)) != len(chars)
        ):
            raise UserError(f"{path}: malformed character vocabulary")
        return cls(chars, data["mode"], int(data.get("min_count", 1)))
