"""Deterministic ids and names: Spotify-style URIs by hashing, artist, album and track names in
four styles (English, Spanish, Korean, Japanese)."""

from __future__ import annotations

import numpy as np
import ujson

from .catalogue import Catalogue
from .themes import GENRES

BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)

# Word pools for catalogue names (deterministic per item id).
# fmt: off
EN_WORDS = (
    "Love", "Heart", "Night", "Fire", "Dream", "Light", "Gold", "Rain", "Summer", "Ghost",
    "Wild", "River", "Star", "Midnight", "Crazy", "Home", "Lost", "Blue", "Sky", "Dance",
    "Young", "Forever", "Paradise", "Shadow", "Diamond", "Ocean", "Thunder", "Echo", "Honey",
    "Velvet", "Money", "City", "Highway", "Angel", "Sugar", "Storm", "Wolf", "Electric",
    "Silver", "Moon", "Sunset", "Thunder", "Magic", "Mirror", "Runaway", "Golden", "Broken",
    "Secret", "Neon", "Paper", "Stone", "Glass",
)
EN_FIRST = (
    "Jack", "Lily", "Max", "Ava", "Leo", "Zoe", "Sam", "Mia", "Kai", "Nina", "Eli", "Ruby",
    "Jay", "Cole", "Luna", "Drew", "Isla", "Miles", "Nova", "Reed", "Sky", "Jade", "Finn",
    "Rose",
)
EN_LAST = (
    "Carter", "Hayes", "Brooks", "Rivers", "Stone", "Young", "Walker", "Price", "Monroe",
    "Lane", "Parker", "James", "Knight", "Fox", "Bell", "Vance", "Cruz", "Reyes", "West",
    "Gray",
)
ARTIST_PREFIX = ("The ", "DJ ", "Lil ", "MC ", "Young ", "", "", "", "", "")
ES_WORDS = (
    "Amor", "Corazón", "Noche", "Fuego", "Baila", "Vida", "Sueño", "Luna", "Calor", "Tú",
    "Mi Gente", "Despacito", "Bonita", "Otra Vez", "Loco", "Mañana", "Playa", "Sol", "Perreo",
    "Contigo",
)
KO_WORDS = (
    "사랑", "봄날", "별", "꿈", "너", "밤", "하루", "우리", "기억", "빛", "바다", "시간",
    "노래", "여름", "눈물", "마음", "소녀", "불꽃", "달", "안녕",
)
KO_NAMES = (
    "소년단", "블랙", "트와이스", "레드", "세븐", "엑소", "아이유", "빅뱅", "마마무",
    "여자친구",
)
JA_WORDS = (
    "桜", "夜空", "青春", "未来", "恋", "夢", "光", "君", "世界", "約束", "花火", "空", "星",
    "風", "心", "涙", "夏", "群青", "雨", "明日",
)
JA_NAMES = (
    "米津", "あいみょん", "ヨルシカ", "嵐", "星野", "宇多田", "椎名", "ずとまよ", "緑黄色",
    "スピッツ",
)
# fmt: on


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash per value."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hashes(seed: int, kind: int, ids: np.ndarray) -> np.ndarray:
    """A 64-bit hash of (seed, kind, id) for each id."""
    with np.errstate(over="ignore"):
        salt = _mix(np.array([seed * 8 + kind], dtype=np.uint64))
        return _mix(ids.astype(np.uint64) ^ salt)


def spotify_ids(seed: int, kind: int, ids: np.ndarray) -> list[str]:
    """22 base-62 characters per id, deterministic and (in practice) unique."""
    chars = np.empty((len(ids), 22), dtype=np.uint8)
    for half in range(2):
        h = hashes(seed, kind * 2 + half, ids)
        for k in range(11):
            chars[:, half * 11 + k] = BASE62[(h % np.uint64(62)).astype(np.int64)]
            h = h // np.uint64(62)
    return chars.view("S22").ravel().astype(str).tolist()


def _pick(words: tuple[str, ...], h: int) -> str:
    return words[h % len(words)]


def artist_name(h: int, script: str) -> str:
    if script == "ko" and h % 3:
        return _pick(KO_NAMES, h >> 8) + _pick(("", "단", " 2", "즈"), h >> 20)
    if script == "ja" and h % 3:
        return _pick(JA_NAMES, h >> 8) + _pick(("", "ズ", "さん", " feat. 初音ミク"), h >> 20)
    if script == "es" and h % 2:
        return _pick(("J ", "Bad ", "El ", "La ", "Los ", "DJ ", ""), h >> 4) + _pick(
            ES_WORDS, h >> 12
        )
    style = h % 4
    if style == 0:
        return f"{_pick(EN_FIRST, h >> 8)} {_pick(EN_LAST, h >> 16)}"
    if style == 1:
        return f"The {_pick(EN_WORDS, h >> 8)} {_pick(EN_WORDS, h >> 16)}s"
    surname = _pick(("", " " + EN_LAST[h >> 24 & 15]), h >> 30)
    return f"{_pick(ARTIST_PREFIX, h >> 8)}{_pick(EN_WORDS, h >> 16)}{surname}"


def track_name(h: int, script: str) -> str:
    words = {"ko": KO_WORDS, "ja": JA_WORDS, "es": ES_WORDS}.get(script) if h % 3 else None
    if words:
        return _pick(words, h >> 4) + _pick(("", " " + _pick(words, h >> 20), " (Remix)"), h >> 12)
    style = h % 5
    core = (
        f"{_pick(EN_WORDS, h >> 8)} {_pick(EN_WORDS, h >> 16)}"
        if style < 3
        else _pick(EN_WORDS, h >> 8)
    )
    return core + _pick(
        ("", "", "", " - Remix", " (feat. " + _pick(EN_FIRST, h >> 40) + ")", " - Live"), h >> 28
    )


def album_name(h: int, script: str) -> str:
    if h % 7 == 0:
        return _pick(("Greatest Hits", "Deluxe Edition", "Live", "Singles", "Remixes"), h >> 8)
    return track_name(h >> 3, script)


SCRIPTS = ("en", "es", "ko", "ja")
NAMERS = {"artist": artist_name, "album": album_name, "track": track_name}
NAME_TABLE = 16384  # distinct names per script and kind


class Names:
    """(URI id, JSON-quoted name) of catalogue items, by kind ("artist", "album", "track").

    Names come from a table per script and kind, so they repeat like real ones; the tables fill as
    names are asked for.
    """

    def __init__(self, seed: int, catalogue: Catalogue):
        self.seed, self.catalogue = seed, catalogue
        self.script_of_genre = np.array([SCRIPTS.index(g.script) for g in GENRES])
        self.tables: dict[str, dict[int, str]] = {what: {} for what in NAMERS}

    def __call__(
        self, what: str, kind: int, ids: np.ndarray, artists: np.ndarray
    ) -> list[tuple[str, str]]:
        """The (URI id, JSON-quoted name) of each id; `artists` (one per id) set the script."""
        scripts = self.script_of_genre[
            self.catalogue.scene_genre[self.catalogue.artist_scene[artists]]
        ]
        slots = (hashes(self.seed, kind + 9, ids) % np.uint64(NAME_TABLE)).astype(np.int64)
        keys = (slots * len(SCRIPTS) + scripts).tolist()
        table = self.tables[what]
        missing = np.array(sorted(set(keys).difference(table)), dtype=np.int64)
        for key, h in zip(missing.tolist(), hashes(self.seed, kind + 17, missing).tolist()):
            table[key] = ujson.dumps(
                NAMERS[what](h, SCRIPTS[key % len(SCRIPTS)]), ensure_ascii=False
            )
        return list(zip(spotify_ids(self.seed, kind, ids), [table[k] for k in keys]))
