"""A synthetic Million Playlist Dataset: MPD's schema and shape, drawn from latent musical themes.

The catalogue is a fixed universe of artists → albums → tracks grouped into scenes (genre × era ×
energy), sized for `SynthConfig.universe_playlists` playlists (1 M by default), so N playlists look like
an N-playlist sample of one MPD-sized world: at 1 M the totals are MPD-like, at 20 k it looks like a
2 % sample (many tracks rare or unseen). Track popularity follows an MPD-like rank curve over the
whole catalogue (the charts), and draws within a scene, genre or anchor window follow it: the global
hits are mainstream, niche scenes have flatter heads, many playlists hold no chart hit at all. A
playlist picks a theme (genre, context, era) and a title that says so (any casing, emoji, sometimes
Korean or Japanese; often the genre with its era, "90s country"; sometimes only the context, a name or
nothing): titles carry about as much as MPD's, where title-only continuation reaches ~3× popularity's
R-precision (the CNN alone on 17,000 synthetic playlists: 0.0485 vs 0.0149); it mixes one to three
strands (scenes its context likes) and walks on, segment by segment, to new anchor artists and
neighbouring scenes, drawing tracks around the anchors, as album runs, from the wider scene and genre,
and from the charts.
Everything is a pure function of (seed, config, slice number): slices can be made in any order.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import ujson
from tqdm import tqdm

from .atomic import atomic_write
from .errors import UserError
from .reader import SLICE_PATTERN, load_json

log = logging.getLogger(__name__)

SLICE_SIZE = 1000
SETTINGS_FILE = "synth.json"
FORMAT = "mmcf synthetic MPD v1"
BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
ERAS = ("70s", "80s", "90s", "2000s", "2010s")
CURRENT_ERA = len(ERAS) - 1
ENERGIES = 3  # 0 calm, 1 mid, 2 high
STRANDS = 3  # scenes a playlist mixes at most
START_TIME, END_TIME = 1_293_840_000, 1_509_494_400  # 2011-01-01 .. 2017-11-01


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator; the defaults are calibrated against MPD's published shape."""

    universe_playlists: int = (
        1_000_000  # the catalogue is sized for this many playlists (or for n if larger)
    )
    artists: int = 300_000  # artists per million playlists of universe
    min_scene_artists: int = 40
    artist_tail: float = 1.0  # Pareto exponent of artist popularity (smaller = heavier tail)
    artist_cap: float = 100.0  # ... capped at this many times the least popular artist
    extra_albums: float = 1.2  # mean albums per artist beyond the first
    album_spread: float = 1.5  # lognormal sigma of album popularity within an artist
    track_spread: float = 1.6  # lognormal sigma of track popularity within an album
    head_exponent: float = (
        0.9  # track popularity by rank r: (r + head_offset) ** -head_exponent ...
    )
    head_offset: float = 30.0
    tail_start: int = 100_000  # ... then falling with tail_exponent beyond this rank (per million)
    tail_exponent: float = 2.3
    chart_weight: float = (
        1.0  # popularity = (the scene's own rank curve) ** (1 - w) × (the charts) ** w
    )
    length_median: float = 53.0  # playlist length: lognormal, cut to [5, 250]
    length_sigma: float = 0.95
    segment_length: float = 15.0  # mean tracks before a playlist drifts to a related scene
    p_strands: float = 0.45  # chance of each extra strand (a playlist mixes 1-3 scenes)
    p_context_genre: float = (
        0.6  # an extra strand takes a genre the context likes (else a related one)
    )
    p_drift: float = 0.8  # at a new segment, one strand drifts to a neighbouring scene
    window_artists: int = 15  # anchor window: this many artists each side of the anchor
    anchor_power: float = 0.6  # anchors drawn in proportion to artist popularity ** anchor_power
    p_album: float = 0.15  # next track continues the previous one's album
    p_window: float = 0.5  # ... is drawn around the segment's anchor artist
    p_scene: float = 0.15  # ... from the whole scene
    p_genre: float = 0.06  # ... from the whole genre
    p_global: float = 0.02  # ... from the charts (mainstream playlists only)
    title_tail: float = 0.03  # share of one-off titles
    description_rate: float = 0.02
    collaborative_rate: float = 0.023


# ---------------------------------------------------------------- themes: genres, contexts, eras


@dataclass(frozen=True)
class Genre:
    name: str
    share: float
    age: float  # mean era index (0 = 70s … 4 = 2010s)
    titles: tuple[str, ...]
    foreign: tuple[str, ...] = ()  # non-Latin or emoji titles with the same meaning
    related: tuple[str, ...] = ()
    script: str = "en"  # style of its artist and track names: en, es, ko, ja


GENRES: tuple[Genre, ...] = (
    Genre(
        "pop",
        15,
        3.6,
        ("pop", "pop hits", "top hits", "today's hits", "pop music", "radio"),
        ("팝", "ポップ", "流行"),
        ("dance", "r&b", "indie pop", "k-pop"),
    ),
    Genre(
        "rap",
        14,
        3.7,
        ("rap", "hip hop", "hip-hop", "trap", "bangers", "rap caviar"),
        ("🔥🔥", "💯", "힙합", "ヒップホップ"),
        ("r&b", "pop", "old school rap"),
    ),
    Genre(
        "country",
        8,
        3.4,
        ("country", "country music", "new country", "country jams", "southern"),
        ("🤠", "🇺🇸"),
        ("classic country", "folk", "christian"),
    ),
    Genre(
        "rock",
        6,
        2.8,
        ("rock", "alt rock", "rock music", "rock n roll"),
        ("🤘", "ロック", "록"),
        ("classic rock", "alternative", "metal", "punk"),
    ),
    Genre(
        "classic rock",
        4,
        1.0,
        ("classic rock", "oldies", "rock classics", "dad rock"),
        ("🎸",),
        ("rock", "soul", "folk"),
    ),
    Genre(
        "alternative",
        5,
        3.0,
        ("alternative", "alt", "indie rock", "alt-rock"),
        ("🌙",),
        ("rock", "indie pop", "punk"),
    ),
    Genre(
        "indie pop",
        4,
        3.6,
        ("indie", "indie pop", "indie vibes", "bedroom pop"),
        ("🌿", "インディー"),
        ("alternative", "folk", "pop"),
    ),
    Genre(
        "dance",
        6,
        3.7,
        ("edm", "dance", "electronic", "festival", "bass"),
        ("⚡", "🎧", "일렉"),
        ("house", "pop"),
    ),
    Genre(
        "house",
        2,
        3.4,
        ("house", "deep house", "tropical house", "techno"),
        ("🏠🎶",),
        ("dance", "lo-fi"),
    ),
    Genre(
        "r&b",
        5,
        3.4,
        ("r&b", "rnb", "slow jams", "r and b", "neo soul"),
        ("🌹", "알앤비"),
        ("rap", "soul", "pop"),
    ),
    Genre(
        "soul",
        2,
        0.8,
        ("soul", "motown", "funk", "disco"),
        ("🕺",),
        ("r&b", "classic rock", "jazz"),
    ),
    Genre(
        "latin",
        4,
        3.7,
        ("latin", "reggaeton", "latino", "musica latina", "salsa"),
        ("🇲🇽", "🇵🇷💃", "música"),
        ("pop", "rap"),
        "es",
    ),
    Genre(
        "christian",
        3,
        3.2,
        ("worship", "christian", "gospel", "praise"),
        ("🙏", "✝️"),
        ("country", "folk"),
    ),
    Genre(
        "metal",
        2,
        2.5,
        ("metal", "heavy metal", "metalcore", "hard rock"),
        ("💀", "メタル"),
        ("rock", "punk"),
    ),
    Genre(
        "punk",
        2,
        2.6,
        ("punk", "pop punk", "emo", "screamo"),
        ("🖤",),
        ("alternative", "metal", "rock"),
    ),
    Genre(
        "folk",
        2,
        3.0,
        ("folk", "acoustic", "singer songwriter", "coffee shop"),
        ("☕", "🌾"),
        ("indie pop", "country"),
    ),
    Genre(
        "jazz",
        1.5,
        1.5,
        ("jazz", "smooth jazz", "jazz classics", "swing"),
        ("🎷", "ジャズ", "재즈"),
        ("soul", "classical", "lo-fi"),
    ),
    Genre(
        "classical",
        1.5,
        1.8,
        ("classical", "piano", "orchestra", "instrumental"),
        ("🎻", "🎹", "クラシック", "클래식"),
        ("jazz", "soundtrack"),
    ),
    Genre(
        "soundtrack",
        2,
        3.0,
        ("disney", "musicals", "broadway", "movie soundtracks"),
        ("🏰", "ディズニー", "뮤지컬"),
        ("classical", "pop"),
    ),
    Genre(
        "lo-fi",
        1.5,
        3.8,
        ("lofi", "lo-fi", "chillhop", "lofi beats"),
        ("☁️", "ローファイ"),
        ("jazz", "house", "rap"),
    ),
    Genre(
        "k-pop",
        1.5,
        3.8,
        ("kpop", "k-pop", "bts", "k pop"),
        ("케이팝", "방탄", "아이돌", "🇰🇷"),
        ("pop", "j-pop"),
        "ko",
    ),
    Genre(
        "j-pop",
        1,
        3.4,
        ("jpop", "j-pop", "anime", "anime openings"),
        ("アニメ", "ボカロ", "🇯🇵"),
        ("k-pop", "soundtrack"),
        "ja",
    ),
    Genre(
        "classic country",
        1.5,
        1.2,
        ("classic country", "old country", "90s country"),
        ("🐎",),
        ("country", "folk"),
    ),
    Genre(
        "old school rap",
        2,
        1.9,
        ("old school", "old school rap", "90s rap", "throwback hip hop"),
        ("📼",),
        ("rap", "r&b"),
    ),
    Genre(
        "reggae", 1, 2.5, ("reggae", "dancehall", "island vibes"), ("🌴", "🇯🇲"), ("latin", "rap")
    ),
    Genre(
        "holiday",
        2,
        2.0,
        ("christmas", "christmas music", "holiday", "xmas"),
        ("🎄", "🎅", "クリスマス", "크리스마스"),
        ("soundtrack", "soul"),
    ),
)
GENRE_INDEX = {g.name: i for i, g in enumerate(GENRES)}
MAINSTREAM = ("pop", "rap", "dance", "r&b", "latin", "house", "indie pop", "country", "alternative")


@dataclass(frozen=True)
class Context:
    name: str
    share: float
    energy: int | None  # preferred energy, None = any
    titles: tuple[str, ...]
    foreign: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()  # genres it favours
    era: int | None = None  # era it favours (throwbacks)


CONTEXTS: tuple[Context, ...] = (
    Context("none", 30, None, ()),
    Context(
        "workout",
        7,
        2,
        ("workout", "gym", "running", "lifting", "cardio", "beast mode"),
        ("운동", "筋トレ", "健身", "💪", "🏋️"),
        ("rap", "dance", "metal", "rock"),
    ),
    Context(
        "chill",
        8,
        0,
        ("chill", "chill vibes", "relax", "mellow", "vibes", "chillin"),
        ("😌", "まったり", "휴식", "☁️✨"),
        ("indie pop", "r&b", "lo-fi", "folk"),
    ),
    Context(
        "party",
        6,
        2,
        ("party", "turn up", "pregame", "party mix", "lit"),
        ("🎉", "🍻", "パーティー", "파티"),
        ("rap", "dance", "pop", "latin"),
    ),
    Context(
        "drive",
        5,
        1,
        ("road trip", "driving", "car jams", "drive", "cruising"),
        ("ドライブ", "드라이브", "兜风", "🚗", "🛣️"),
        ("country", "classic rock", "pop"),
    ),
    Context(
        "study",
        4,
        0,
        ("study", "focus", "homework", "studying", "concentration"),
        ("勉強", "공부", "📚", "作業用"),
        ("classical", "lo-fi", "jazz"),
    ),
    Context(
        "sleep",
        2,
        0,
        ("sleep", "bedtime", "calm", "night"),
        ("睡眠", "잠", "😴", "💤"),
        ("classical", "folk", "lo-fi"),
    ),
    Context(
        "sad",
        5,
        0,
        ("sad", "feels", "sad songs", "heartbreak", "crying"),
        ("💔", "😢", "슬픔", "泣ける"),
        ("indie pop", "alternative", "r&b", "folk"),
    ),
    Context(
        "love",
        4,
        1,
        ("love", "love songs", "bae", "romance", "wedding"),
        ("❤️", "💕", "사랑", "ラブソング"),
        ("r&b", "country", "pop"),
    ),
    Context(
        "summer",
        6,
        2,
        ("summer", "summer vibes", "summer 2017", "beach", "pool party"),
        ("☀️", "🌊", "여름", "夏", "verano"),
        ("pop", "latin", "reggae", "house"),
    ),
    Context(
        "throwback",
        6,
        1,
        ("throwback", "throwbacks", "oldies", "memories", "old but gold"),
        ("📻", "懐メロ", "추억"),
        ("pop", "rap", "rock"),
        era=2,
    ),
    Context(
        "happy",
        4,
        2,
        ("good vibes", "happy", "feel good", "good mood", "sunshine"),
        ("😊", "🌈", "행복"),
        ("pop", "indie pop", "soul"),
    ),
    Context(
        "morning",
        2,
        1,
        ("morning", "wake up", "coffee", "sunday morning"),
        ("☕️", "朝", "아침"),
        ("folk", "indie pop", "jazz"),
    ),
    Context(
        "christmas",
        2,
        1,
        ("christmas", "xmas", "holiday"),
        ("🎄", "クリスマス", "크리스마스"),
        ("holiday",),
    ),
)
CONTEXT_INDEX = {c.name: i for i, c in enumerate(CONTEXTS)}
ERA_TITLES = (
    ("70s", "70s hits", "seventies"),
    ("80s", "80s hits", "80's"),
    ("90s", "90s hits", "90's"),
    ("2000s", "00s", "early 2000s"),
    ("2017", "new music", "new"),
)
GENERIC_TITLES = (
    "my playlist",
    "music",
    "songs",
    "favorites",
    "my songs",
    "playlist",
    "mix",
    "jams",
    "stuff",
    "random",
    "good songs",
    "liked",
    "new playlist",
    "shuffle",
    "car",
    "spotify",
    "my music",
    "faves",
    "everything",
    "yes",
    "ok",
    "idk",
    "misc",
    "bangers only",
)
NAMES = (
    "jake",
    "emily",
    "sarah",
    "mike",
    "chris",
    "alex",
    "jess",
    "matt",
    "ashley",
    "josh",
    "kate",
    "ryan",
    "lauren",
    "nick",
    "megan",
    "tyler",
    "hannah",
    "kyle",
    "rachel",
    "sam",
    "brandon",
    "taylor",
    "justin",
    "amanda",
    "zach",
    "olivia",
    "ethan",
    "mia",
    "noah",
    "ava",
    "dylan",
    "grace",
)
PERSONAL = ("{}'s playlist", "{}", "for {}", "{} mix", "songs for {}", "{} ❤️", "{} and me")
ADJECTIVES = (
    "good",
    "new",
    "old",
    "late",
    "lazy",
    "golden",
    "blue",
    "wild",
    "sweet",
    "dark",
    "bright",
    "lost",
    "young",
    "electric",
    "quiet",
    "loud",
    "slow",
    "fast",
    "easy",
    "rainy",
    "sunny",
    "midnight",
    "summer",
    "winter",
    "spring",
    "fall",
    "crazy",
    "soft",
    "cool",
    "hot",
    "broken",
    "little",
    "big",
    "lonely",
    "happy",
    "final",
    "first",
    "secret",
    "velvet",
    "neon",
    "cosmic",
    "dreamy",
    "fresh",
    "silver",
    "wasted",
    "holy",
    "free",
    "vintage",
    "pretty",
    "strange",
)
NOUNS = (
    "days",
    "nights",
    "vibes",
    "feels",
    "dreams",
    "hearts",
    "roads",
    "waves",
    "lights",
    "stars",
    "tunes",
    "jams",
    "beats",
    "songs",
    "memories",
    "moments",
    "thoughts",
    "mornings",
    "evenings",
    "drives",
    "skies",
    "fire",
    "rain",
    "city",
    "ocean",
    "river",
    "summer",
    "weekend",
    "sunday",
    "friday",
    "mood",
    "energy",
    "madness",
    "magic",
    "noise",
    "sound",
    "groove",
    "hour",
    "life",
    "love",
    "soul",
    "spirit",
    "youth",
    "heat",
    "gold",
    "smoke",
    "rhythm",
    "escape",
    "mess",
    "bops",
)
DESCRIPTIONS = (
    "songs for {}",
    "my favorite {}",
    "the best {} songs",
    "{} all day",
    "just {}",
    "a little {} for you",
    "{} and nothing else",
)
PUNCTUATION = ("!", "!!", ".", "~", " :)", "!!!", " <3", "...")

# Word pools for catalogue names (deterministic per item id).
EN_WORDS = (
    "Love",
    "Heart",
    "Night",
    "Fire",
    "Dream",
    "Light",
    "Gold",
    "Rain",
    "Summer",
    "Ghost",
    "Wild",
    "River",
    "Star",
    "Midnight",
    "Crazy",
    "Home",
    "Lost",
    "Blue",
    "Sky",
    "Dance",
    "Young",
    "Forever",
    "Paradise",
    "Shadow",
    "Diamond",
    "Ocean",
    "Thunder",
    "Echo",
    "Honey",
    "Velvet",
    "Money",
    "City",
    "Highway",
    "Angel",
    "Sugar",
    "Storm",
    "Wolf",
    "Electric",
    "Silver",
    "Moon",
    "Sunset",
    "Thunder",
    "Magic",
    "Mirror",
    "Runaway",
    "Golden",
    "Broken",
    "Secret",
    "Neon",
    "Paper",
    "Stone",
    "Glass",
)
EN_FIRST = (
    "Jack",
    "Lily",
    "Max",
    "Ava",
    "Leo",
    "Zoe",
    "Sam",
    "Mia",
    "Kai",
    "Nina",
    "Eli",
    "Ruby",
    "Jay",
    "Cole",
    "Luna",
    "Drew",
    "Isla",
    "Miles",
    "Nova",
    "Reed",
    "Sky",
    "Jade",
    "Finn",
    "Rose",
)
EN_LAST = (
    "Carter",
    "Hayes",
    "Brooks",
    "Rivers",
    "Stone",
    "Young",
    "Walker",
    "Price",
    "Monroe",
    "Lane",
    "Parker",
    "James",
    "Knight",
    "Fox",
    "Bell",
    "Vance",
    "Cruz",
    "Reyes",
    "West",
    "Gray",
)
ARTIST_PREFIX = ("The ", "DJ ", "Lil ", "MC ", "Young ", "", "", "", "", "")
ES_WORDS = (
    "Amor",
    "Corazón",
    "Noche",
    "Fuego",
    "Baila",
    "Vida",
    "Sueño",
    "Luna",
    "Calor",
    "Tú",
    "Mi Gente",
    "Despacito",
    "Bonita",
    "Otra Vez",
    "Loco",
    "Mañana",
    "Playa",
    "Sol",
    "Perreo",
    "Contigo",
)
KO_WORDS = (
    "사랑",
    "봄날",
    "별",
    "꿈",
    "너",
    "밤",
    "하루",
    "우리",
    "기억",
    "빛",
    "바다",
    "시간",
    "노래",
    "여름",
    "눈물",
    "마음",
    "소녀",
    "불꽃",
    "달",
    "안녕",
)
KO_NAMES = (
    "소년단",
    "블랙",
    "트와이스",
    "레드",
    "세븐",
    "엑소",
    "아이유",
    "빅뱅",
    "마마무",
    "여자친구",
)
JA_WORDS = (
    "桜",
    "夜空",
    "青春",
    "未来",
    "恋",
    "夢",
    "光",
    "君",
    "世界",
    "約束",
    "花火",
    "空",
    "星",
    "風",
    "心",
    "涙",
    "夏",
    "群青",
    "雨",
    "明日",
)
JA_NAMES = (
    "米津",
    "あいみょん",
    "ヨルシカ",
    "嵐",
    "星野",
    "宇多田",
    "椎名",
    "ずとまよ",
    "緑黄色",
    "スピッツ",
)


# ---------------------------------------------------------------- the catalogue


@dataclass
class Catalogue:
    """The universe of scenes → artists → albums → tracks, laid out so every group is a contiguous range."""

    scene_genre: np.ndarray  # [scenes]; scene = (genre * eras + era) * energies + energy
    scene_artists: np.ndarray  # [scenes + 1] artist range of each scene
    artist_albums: np.ndarray  # [artists + 1] album range of each artist
    album_tracks: np.ndarray  # [albums + 1] track range of each album
    artist_scene: np.ndarray  # [artists]
    album_artist: np.ndarray  # [albums]
    track_album: np.ndarray  # [tracks]
    track_cum: np.ndarray  # [tracks + 1] cumulative track popularity (sampling by range)
    chart_cum: np.ndarray  # [tracks + 1] cumulative chart popularity (global hits, across scenes)
    artist_cum: (
        np.ndarray
    )  # [artists + 1] cumulative artist popularity ** anchor_power (anchor draws)
    duration: np.ndarray  # [tracks] ms

    @property
    def n_tracks(self) -> int:
        return len(self.track_album)

    def artist_track_range(self, artists: np.ndarray) -> np.ndarray:
        return self.album_tracks[self.artist_albums[artists]]


def scene_of(genre: int, era: int, energy: int) -> int:
    return (genre * len(ERAS) + era) * ENERGIES + energy


def scene_demand() -> np.ndarray:
    """Expected share of playlist tracks in each scene: genre share × era (around the genre's age) × energy."""
    eras = np.arange(len(ERAS))
    demand = []
    for genre in GENRES:
        era = np.exp(-0.5 * ((eras - genre.age) / 1.1) ** 2)
        era = era / era.sum()
        demand.append(genre.share * era[:, None] * np.full(ENERGIES, 1 / ENERGIES)[None, :])
    demand = np.concatenate([d.ravel() for d in demand])
    return demand / demand.sum()


@functools.lru_cache(maxsize=2)
def build_catalogue(seed: int, config: SynthConfig, scale: float) -> Catalogue:
    """The universe for `scale` million playlists (cached: tests and slices share it)."""
    rng = np.random.default_rng([seed, 0xCA7])
    demand = scene_demand()
    want = demand**0.8
    per_scene = np.maximum(
        config.min_scene_artists, np.round(config.artists * scale * want / want.sum())
    )
    per_scene = per_scene.astype(np.int64)
    n_artists = int(per_scene.sum())
    artist_scene = np.repeat(np.arange(len(demand)), per_scene)
    pareto = np.minimum(
        (1.0 - rng.random(n_artists)) ** (-1.0 / config.artist_tail), config.artist_cap
    )
    scene_total = np.bincount(artist_scene, weights=pareto, minlength=len(demand))
    artist_pop = pareto / scene_total[artist_scene] * demand[artist_scene]

    relative = pareto / np.median(pareto)
    n_albums_of = 1 + np.minimum(
        rng.poisson(config.extra_albums * np.minimum(relative, 50) ** 0.25), 30
    )
    n_albums = int(n_albums_of.sum())
    album_artist = np.repeat(np.arange(n_artists), n_albums_of)
    album_share = _normalised(
        rng.lognormal(0, config.album_spread, n_albums), album_artist, n_artists
    )
    kind = rng.random(n_albums)
    n_tracks_of = np.where(
        kind < 0.35,
        rng.integers(1, 4, n_albums),
        np.where(kind < 0.5, rng.integers(4, 8, n_albums), rng.integers(8, 19, n_albums)),
    )
    track_album = np.repeat(np.arange(n_albums), n_tracks_of)
    track_share = _normalised(
        rng.lognormal(0, config.track_spread, len(track_album)), track_album, n_albums
    )
    latent = artist_pop[album_artist[track_album]] * album_share[track_album] * track_share
    chart = np.empty_like(latent)
    chart[np.argsort(-latent, kind="stable")] = rank_popularity(len(latent), config, scale)
    track_pop = chart
    if config.chart_weight < 1:
        scene_pop = scene_popularity(
            latent, artist_scene[album_artist[track_album]], demand, config, scale
        )
        track_pop = scene_pop ** (1 - config.chart_weight) * chart**config.chart_weight
    duration = np.clip(
        rng.lognormal(np.log(215_000), 0.3, len(track_album)), 30_000, 1_200_000
    ).astype(np.int64)
    return Catalogue(
        scene_genre=np.arange(len(demand)) // (len(ERAS) * ENERGIES),
        scene_artists=_indptr(per_scene),
        artist_albums=_indptr(n_albums_of),
        album_tracks=_indptr(n_tracks_of),
        artist_scene=artist_scene,
        album_artist=album_artist,
        track_album=track_album,
        track_cum=_cumulative(track_pop),
        chart_cum=_cumulative(chart),
        artist_cum=_cumulative(artist_pop**config.anchor_power),
        duration=duration,
    )


def rank_popularity(n: int, config: SynthConfig, scale: float) -> np.ndarray:
    """MPD-like popularity by rank: a Zipf–Mandelbrot head and a steeper tail (half the seen tracks seen once)."""
    return rank_popularity_at(np.arange(1, n + 1, dtype=float), config, scale)


def rank_popularity_at(rank: np.ndarray, config: SynthConfig, scale: float) -> np.ndarray:
    rank = rank / scale
    head = (rank + config.head_offset) ** -config.head_exponent
    knee = config.tail_start + config.head_offset
    tail = (
        knee**-config.head_exponent * ((rank + config.head_offset) / knee) ** -config.tail_exponent
    )
    return np.where(rank <= config.tail_start, head, tail)


def scene_popularity(
    latent: np.ndarray, scene: np.ndarray, demand: np.ndarray, config: SynthConfig, scale: float
) -> np.ndarray:
    """Within each scene the same rank curve, stretched to the scene's size and scaled to its demand."""
    order = np.lexsort((-latent, scene))  # tracks are laid out scene by scene already
    sizes = np.bincount(scene, minlength=len(demand))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(latent)) - np.repeat(starts, sizes)
    stretched = rank * (len(latent) / np.repeat(np.maximum(sizes, 1), sizes))
    curve = rank_popularity_at(stretched + 1, config, scale)
    pop = np.empty_like(latent)
    totals = np.bincount(scene[order], weights=curve, minlength=len(demand))
    pop[order] = curve / np.repeat(totals, sizes) * np.repeat(demand, sizes)
    return pop


def _normalised(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    return values / np.bincount(group, weights=values, minlength=n_groups)[group]


def _indptr(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _cumulative(weights: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(weights / weights.sum())])


def draw_in_ranges(
    cum: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One index per range [lo, hi), drawn in proportion to the weights whose cumulative sum is `cum`."""
    start, stop = cum[lo], cum[hi]
    target = start + rng.random(len(lo)) * (stop - start)
    order = np.argsort(target)  # sorted keys make searchsorted several times faster
    picked = np.empty(len(lo), np.int64)
    picked[order] = np.searchsorted(cum, target[order], side="right") - 1
    return np.clip(picked, lo, hi - 1)


# ---------------------------------------------------------------- deterministic ids and names


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
    return f"{_pick(ARTIST_PREFIX, h >> 8)}{_pick(EN_WORDS, h >> 16)}{_pick(('', ' ' + EN_LAST[h >> 24 & 15]), h >> 30)}"


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
FRAGMENT_CACHE = 2_000_000  # track JSON fragments kept between slices


# ---------------------------------------------------------------- titles


def stylise(text: str, r: random.Random) -> str:
    """A surface variant of a title: casing, punctuation, emoji, stretched letters."""
    u = r.random()
    if u < 0.5:
        text = text.lower()
    elif u < 0.8:
        text = " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
    elif u < 0.9:
        text = text.upper()
    u = r.random()
    if u < 0.04 and text[-1:].isalpha():
        text += text[-1] * r.randint(2, 4)
    elif u < 0.12:
        text += r.choice(PUNCTUATION)
    elif u < 0.17:
        text += " " + r.choice(("✌️", "🔥", "✨", "🎶", "💯", "😎", "🙌"))
    if r.random() < 0.03:
        text = text.replace(" ", "") if r.random() < 0.5 else " " + text
    return text


def theme_title(genre: Genre, context: Context, era: int, r: random.Random, tail: float) -> str:
    """A title that says something about the theme (or, sometimes, nothing)."""
    u = r.random()
    if u < tail:
        return f"{r.choice(ADJECTIVES)} {r.choice(NOUNS)}"
    u = (u - tail) / (1 - tail)
    if u < 0.06:
        options = genre.foreign + context.foreign
        return stylise(r.choice(options), r) if options else r.choice(genre.titles)
    if u < 0.12:
        return stylise(
            r.choice(PERSONAL).format(r.choice(NAMES))
            if r.random() < 0.4
            else r.choice(GENERIC_TITLES),
            r,
        )
    if era != CURRENT_ERA and u < 0.22:
        return stylise(r.choice(ERA_TITLES[era]) + r.choice(("", " " + genre.titles[0])), r)
    if context.titles and u < 0.32:
        return stylise(r.choice(context.titles), r)
    if context.titles and u < 0.56:
        pair = [r.choice(genre.titles[:2]), r.choice(context.titles[:3])]
        return stylise(" ".join(pair if r.random() < 0.5 else pair[::-1]), r)
    if r.random() < 0.5:  # "90s country", "2017 rap"
        return stylise(f"{ERA_TITLES[era][0]} {r.choice(genre.titles[:2])}", r)
    return stylise(r.choice(genre.titles), r)


def description(genre: Genre, context: Context, r: random.Random) -> str:
    topic = r.choice(context.titles or genre.titles)
    return r.choice(DESCRIPTIONS).format(topic)


# ---------------------------------------------------------------- playlists


@dataclass
class SliceTracks:
    """The track sequences of one slice, as catalogue ids, and their themes."""

    lengths: np.ndarray
    tracks: np.ndarray
    genre: np.ndarray
    context: np.ndarray
    era: np.ndarray


class Generator:
    """Makes slices of MPD-shaped playlists; everything is a function of (seed, config, slice number)."""

    def __init__(self, playlists: int, seed: int, config: SynthConfig | None = None):
        self.playlists, self.seed = playlists, seed
        self.config = config or SynthConfig()
        scale = max(playlists, self.config.universe_playlists) / 1_000_000
        self.catalogue = build_catalogue(seed, self.config, scale)
        c = self.config
        self.sources = np.cumsum([c.p_album, c.p_window, c.p_scene, c.p_genre, c.p_global])
        self.sources /= self.sources[-1]
        self.genre_share = np.array([g.share for g in GENRES], float)
        self.context_share = np.array([x.share for x in CONTEXTS], float)
        self.affinity = self._genre_affinity()
        self.affinity_cum = np.minimum(np.cumsum(self.affinity, axis=1), 1.0)
        self.affinity_cum[:, -1] = 1.0
        self.mainstream = np.array([g.name in MAINSTREAM for g in GENRES])
        self.related = [[GENRE_INDEX[n] for n in g.related] for g in GENRES]
        self._script_of_genre = np.array([SCRIPTS.index(g.script) for g in GENRES])
        self._fragments: dict[int, str] = {}
        self._name_tables: dict[str, dict[int, str]] = {what: {} for what in NAMERS}

    def _genre_affinity(self) -> np.ndarray:
        """P(genre | context): genre shares, with the context's favourite genres boosted."""
        table = np.tile(self.genre_share, (len(CONTEXTS), 1))
        for i, context in enumerate(CONTEXTS):
            for name in context.genres:
                table[i, GENRE_INDEX[name]] *= 6.0 if context.name == "christmas" else 3.0
            if context.name != "christmas":
                table[i, GENRE_INDEX["holiday"]] *= 0.2
        return table / table.sum(axis=1, keepdims=True)

    @property
    def n_slices(self) -> int:
        return -(-self.playlists // SLICE_SIZE)

    def slice_range(self, index: int) -> tuple[int, int]:
        first = index * SLICE_SIZE
        return first, min(first + SLICE_SIZE, self.playlists) - 1

    # -- themes and track ids

    def slice_tracks(self, index: int) -> SliceTracks:
        """Themes and track ids of every playlist of slice `index` (the vectorised core)."""
        first, last = self.slice_range(index)
        n = last - first + 1
        rng = np.random.default_rng([self.seed, index, 1])
        c = self.config
        context = rng.choice(len(CONTEXTS), n, p=self.context_share / self.context_share.sum())
        genre = (self.affinity[context].cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        era = self._eras(genre, context, rng)
        energy = self._energies(context, rng)
        lengths = self._lengths(n, rng)
        owner = np.repeat(np.arange(n), lengths)
        scenes, seg_of_pos, seg_start = self._segments(lengths, genre, context, era, energy, rng)
        strand = seg_of_pos * STRANDS + self._strand_of_position(owner, rng)
        tracks = self._draw(scenes.ravel(), strand, seg_start, self.mainstream[genre][owner], rng)
        tracks = self._fix(tracks, lengths, scenes.ravel()[strand], rng)
        return SliceTracks(lengths, tracks, genre, context, era)

    def _eras(self, genre: np.ndarray, context: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        age = np.array([g.age for g in GENRES])[genre]
        wanted = np.array([CURRENT_ERA if x.era is None else x.era for x in CONTEXTS])[context]
        age = np.where(
            np.array([x.era is not None for x in CONTEXTS])[context], np.minimum(age, wanted), age
        )
        return np.clip(np.rint(age + rng.normal(0, 0.9, len(genre))), 0, CURRENT_ERA).astype(
            np.int64
        )

    def _energies(self, context: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        preferred = np.array([-1 if x.energy is None else x.energy for x in CONTEXTS])[context]
        anything = rng.integers(0, ENERGIES, len(context))
        return np.where((preferred < 0) | (rng.random(len(context)) < 0.2), anything, preferred)

    def _lengths(self, n: int, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        lengths = np.rint(rng.lognormal(np.log(c.length_median), c.length_sigma, n)).astype(
            np.int64
        )
        bad = (lengths < 5) | (lengths > 250)
        while bad.any():
            lengths[bad] = np.rint(
                rng.lognormal(np.log(c.length_median), c.length_sigma, bad.sum())
            )
            bad = (lengths < 5) | (lengths > 250)
        return lengths

    def _strand_of_position(self, owner: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Which of its strands each position draws from: 1-3 strands per playlist, the first weighing most."""
        n = int(owner[-1]) + 1
        used = 1 + (rng.random((n, 1)) < self.config.p_strands).sum(axis=1)
        weights = np.concatenate([np.ones((n, 1)), rng.uniform(0.2, 0.8, (n, STRANDS - 1))], axis=1)
        weights[np.arange(STRANDS)[None, :] >= used[:, None]] = 0
        cum = np.cumsum(weights, axis=1)
        cum /= cum[:, -1:]
        return (rng.random(len(owner))[:, None] > cum[owner]).sum(axis=1)

    def _segments(self, lengths, genre, context, era, energy, rng):
        """Scenes [segment, strand] and the segment of each position.

        A playlist has up to three strands: its own scene and scenes of genres its context likes (or
        related genres). At every new segment the anchors are drawn afresh and one strand may drift to
        a related genre, a neighbouring era or a neighbouring energy.
        """
        c = self.config
        total = int(lengths.sum())
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        position = np.arange(total) - np.repeat(starts, lengths)
        brk = (rng.random(total) < 1.0 / c.segment_length) & (position >= 5)
        brk[starts] = True
        seg_of_pos = np.cumsum(brk) - 1
        owners = np.repeat(np.arange(len(lengths)), lengths)[brk].tolist()
        moves = rng.random((len(owners), 5)).tolist()
        scenes = np.empty((len(owners), STRANDS), np.int64)
        strands: list[list[int]] = []
        for s, p in enumerate(owners):
            kind, step, pick, which, other = moves[s]
            if s == 0 or owners[s - 1] != p:
                g, e, y = int(genre[p]), int(era[p]), int(energy[p])
                strands = [[g, e, y]]
                for k in range(1, STRANDS):
                    u = moves[s][k + 2]
                    if u < c.p_context_genre:
                        g2 = int(
                            np.searchsorted(
                                self.affinity_cum[context[p]], u / c.p_context_genre, side="right"
                            )
                        )
                    else:
                        g2 = self._related(g, u)
                    strands.append([g2, e, y])
            elif kind < c.p_drift:
                strand = strands[int(which * STRANDS)]
                if step < 0.3:
                    strand[0] = self._related(strand[0], pick)
                elif step < 0.65:
                    strand[1] = min(CURRENT_ERA, max(0, strand[1] + (1 if pick < 0.5 else -1)))
                else:
                    strand[2] = min(ENERGIES - 1, max(0, strand[2] + (1 if pick < 0.5 else -1)))
            scenes[s] = [scene_of(*strand) for strand in strands]
        return scenes, seg_of_pos, np.flatnonzero(brk)

    def _related(self, genre: int, u: float) -> int:
        related = self.related[genre]
        return related[min(int(u * len(related)), len(related) - 1)] if related else genre

    def _draw(self, scenes, strand, opening, mainstream, rng) -> np.ndarray:
        """Track ids: per position a source (album run, anchor window, scene, genre, anywhere) and a draw."""
        cat, c = self.catalogue, self.config
        total = len(strand)
        first_artist, end_artist = cat.scene_artists[scenes], cat.scene_artists[scenes + 1]
        anchor = draw_in_ranges(cat.artist_cum, first_artist, end_artist, rng)
        w_lo = np.maximum(first_artist, anchor - c.window_artists)
        w_hi = np.minimum(end_artist, anchor + c.window_artists + 1)
        genre = cat.scene_genre[scenes]
        per_genre = len(ERAS) * ENERGIES
        ranges = np.stack(
            [
                np.stack([cat.artist_track_range(w_lo), cat.artist_track_range(w_hi)]),
                np.stack(
                    [cat.artist_track_range(first_artist), cat.artist_track_range(end_artist)]
                ),
                np.stack(
                    [
                        cat.artist_track_range(cat.scene_artists[genre * per_genre]),
                        cat.artist_track_range(cat.scene_artists[(genre + 1) * per_genre]),
                    ]
                ),
                np.stack([np.zeros_like(scenes), np.full_like(scenes, cat.n_tracks)]),
            ]
        )  # [source, lo/hi, strand]
        source = np.searchsorted(self.sources, rng.random(total), side="right")
        source[opening] = 1  # a segment opens around an anchor
        source[(source == 4) & ~mainstream] = 3  # only mainstream playlists take global hits
        drawn = np.maximum(source - 1, 0)
        lo = ranges[drawn, 0, strand]
        hi = ranges[drawn, 1, strand]
        tracks = draw_in_ranges(cat.track_cum, lo, hi, rng)
        hits = source == 4
        tracks[hits] = draw_in_ranges(cat.chart_cum, lo[hits], hi[hits], rng)
        return self._album_runs(tracks, source == 0)

    def _album_runs(self, tracks: np.ndarray, follows: np.ndarray) -> np.ndarray:
        """A position that follows the previous one continues its album, track by track."""
        cat = self.catalogue
        index = np.arange(len(tracks))
        head = np.maximum.accumulate(np.where(follows, 0, index))
        base = tracks[head]
        album = cat.track_album[base]
        start, size = cat.album_tracks[album], np.diff(cat.album_tracks)[album]
        return np.where(follows, start + (base - start + index - head) % size, tracks)

    def _fix(self, tracks, lengths, scene_of_pos, rng) -> np.ndarray:
        """Redraw repeats within a playlist (from the scene, then anywhere); ensure ≥ 3 artists, ≥ 2 albums."""
        cat = self.catalogue
        owner = np.repeat(np.arange(len(lengths)), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        scene_lo = cat.artist_track_range(cat.scene_artists[scene_of_pos])
        scene_hi = cat.artist_track_range(cat.scene_artists[scene_of_pos + 1])
        for attempt in range(30):
            redo = _repeats(owner, tracks)
            if attempt % 2:  # every other round: too few artists or albums
                few = (
                    _distinct(owner, cat.album_artist[cat.track_album[tracks]], len(lengths)) < 3
                ) | (_distinct(owner, cat.track_album[tracks], len(lengths)) < 2)
                for p in np.flatnonzero(few).tolist():
                    redo[starts[p] + np.arange(1, lengths[p], 2)] = True
            if not redo.any():
                if attempt % 2:
                    return tracks
                continue
            lo, hi = scene_lo[redo], scene_hi[redo]
            if attempt >= 4:
                lo, hi = np.zeros_like(lo), np.full_like(hi, cat.n_tracks)
            tracks[redo] = draw_in_ranges(cat.track_cum, lo, hi, rng)
        raise RuntimeError("synthetic playlists: could not satisfy the artist/album minimums")

    # -- JSON

    def slice_json(self, index: int) -> list[str]:
        """The playlists of slice `index`, each as its MPD JSON text."""
        first, _ = self.slice_range(index)
        st = self.slice_tracks(index)
        cat, c = self.catalogue, self.config
        fragments = self._track_fragments(st.tracks)
        texts = [fragments[t] for t in st.tracks.tolist()]
        n = len(st.lengths)
        owner = np.repeat(np.arange(n), st.lengths)
        albums = cat.track_album[st.tracks]
        n_albums = _distinct(owner, albums, n).tolist()
        n_artists = _distinct(owner, cat.album_artist[albums], n).tolist()
        starts = np.concatenate([[0], np.cumsum(st.lengths)[:-1]])
        durations = np.add.reduceat(cat.duration[st.tracks], starts).tolist()
        r = random.Random(self.seed * 1_000_003 + index)
        out, at = [], 0
        for i, length in enumerate(st.lengths.tolist()):
            genre, context = GENRES[st.genre[i]], CONTEXTS[st.context[i]]
            head = {
                "name": theme_title(genre, context, int(st.era[i]), r, c.title_tail),
                "collaborative": "true" if r.random() < c.collaborative_rate else "false",
                "pid": first + i,
                "modified_at": int(END_TIME - (END_TIME - START_TIME) * r.random() ** 2)
                // 86400
                * 86400,
            }
            head.update(
                num_tracks=length,
                num_albums=n_albums[i],
                num_followers=int((1 - r.random()) ** -0.5),
                num_edits=max(1, int(length * r.random() * 0.3) + r.randint(0, 3)),
                duration_ms=durations[i],
                num_artists=n_artists[i],
            )
            if r.random() < c.description_rate:
                head["description"] = description(genre, context, r)
            text = ujson.dumps(head, ensure_ascii=False)[:-1]
            tracks = ",".join([f'{{"pos":{p},{t}}}' for p, t in enumerate(texts[at : at + length])])
            at += length
            out.append(f'{text},"tracks":[{tracks}]}}')
        return out

    def _track_fragments(self, tracks: np.ndarray) -> dict[int, str]:
        """The JSON text (all but pos) of every distinct track in `tracks`, cached across slices."""
        cache = self._fragments
        if len(cache) > FRAGMENT_CACHE:
            cache.clear()
        new = np.array(
            [t for t in _sorted_unique(tracks).tolist() if t not in cache], dtype=np.int64
        )
        if not len(new):
            return cache
        cat = self.catalogue
        albums = cat.track_album[new]
        artists = cat.album_artist[albums]
        artist_json = self._names("artist", 1, artists, artists)
        album_json = self._names("album", 2, albums, artists)
        track_json = self._names("track", 0, new, artists)
        for t, ms, artist, album, track in zip(
            new.tolist(), cat.duration[new].tolist(), artist_json, album_json, track_json
        ):
            cache[t] = (
                f'"artist_name":{artist[1]},"track_uri":"spotify:track:{track[0]}",'
                f'"artist_uri":"spotify:artist:{artist[0]}","track_name":{track[1]},'
                f'"album_uri":"spotify:album:{album[0]}","duration_ms":{ms},"album_name":{album[1]}'
            )
        return cache

    def _names(
        self, what: str, kind: int, ids: np.ndarray, artists: np.ndarray
    ) -> list[tuple[str, str]]:
        """(URI id, JSON-quoted name) per id; names come from a table per script, so they repeat like real ones."""
        scripts = self._script_of_genre[
            self.catalogue.scene_genre[self.catalogue.artist_scene[artists]]
        ]
        slots = (hashes(self.seed, kind + 9, ids) % np.uint64(NAME_TABLE)).astype(np.int64)
        keys = (slots * len(SCRIPTS) + scripts).tolist()
        table = self._name_tables[what]
        missing = np.array(sorted(set(keys).difference(table)), dtype=np.int64)
        for key, h in zip(missing.tolist(), hashes(self.seed, kind + 17, missing).tolist()):
            table[key] = ujson.dumps(
                NAMERS[what](h, SCRIPTS[key % len(SCRIPTS)]), ensure_ascii=False
            )
        return list(zip(spotify_ids(self.seed, kind, ids), [table[k] for k in keys]))

    def slice_info(self, index: int) -> str:
        first, last = self.slice_range(index)
        return ujson.dumps(
            {
                "generated_on": "synthetic",
                "slice": f"{first}-{last}",
                "version": FORMAT,
                "seed": self.seed,
            }
        )


def _repeats(owner: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """True where a track already occurred earlier in the same playlist."""
    key = owner.astype(np.int64) * (int(tracks.max()) + 1) + tracks
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    repeat = np.ones(len(tracks), bool)
    repeat[order[np.concatenate([[True], ordered[1:] != ordered[:-1]])]] = False
    return repeat


def _distinct(owner: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Distinct values per playlist."""
    key = _sorted_unique(owner.astype(np.int64) * (int(values.max()) + 1) + values)
    return np.bincount(key // (int(values.max()) + 1), minlength=n)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (much faster than numpy's hash-based unique on these sizes)."""
    values = np.sort(values)
    if not len(values):
        return values
    return values[np.concatenate([[True], values[1:] != values[:-1]])]


# ---------------------------------------------------------------- public API


def synthetic_playlists(n: int, seed: int, config: SynthConfig | None = None) -> Iterator[dict]:
    """MPD-schema playlists with pids 0 … n-1, exactly those `generate` writes."""
    generator = Generator(n, seed, config)
    for index in range(generator.n_slices):
        for text in generator.slice_json(index):
            yield ujson.loads(text)


def slice_name(first: int, last: int) -> str:
    return f"mpd.slice.{first}-{last}.json"


def generate(
    out_dir: str | Path,
    playlists: int,
    seed: int,
    config: SynthConfig | None = None,
    workers: int | None = None,
) -> list[Path]:
    """Write `playlists` synthetic playlists as MPD slice files under `out_dir`; returns the slice paths.

    Slices are independent, so `workers` processes (default: one per core) write them in parallel; the
    files are the same whatever the worker count. Resumable: slices already written by a run with the
    same settings are kept.
    """
    if playlists < 1:
        raise UserError(f"--playlists must be at least 1, got {playlists}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    config = config or SynthConfig()
    settings = {"format": FORMAT, "playlists": playlists, "seed": seed, "config": asdict(config)}
    _prepare(out_dir, settings)
    generator = Generator(
        playlists, seed, config
    )  # builds (and caches) the catalogue before any fork
    paths = [out_dir / slice_name(*generator.slice_range(i)) for i in range(generator.n_slices)]
    todo = [i for i, path in enumerate(paths) if not path.exists()]
    workers = min(workers or _cores(), max(len(todo), 1))
    with tqdm(
        total=playlists,
        initial=playlists - sum(_slice_size(generator, i) for i in todo),
        desc="synthetic MPD",
        unit=" playlists",
        unit_scale=True,
        leave=False,
    ) as bar:
        if workers == 1:
            for index in todo:
                bar.update(_write_slice(generator, index, paths[index]))
        else:
            context = multiprocessing.get_context(
                "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            )
            with context.Pool(workers, _worker_init, (playlists, seed, config)) as pool:
                for done in pool.imap_unordered(_worker_write, [(i, paths[i]) for i in todo]):
                    bar.update(done)
    return paths


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _slice_size(generator: Generator, index: int) -> int:
    first, last = generator.slice_range(index)
    return last - first + 1


def _write_slice(generator: Generator, index: int, path: Path) -> int:
    """Write slice `index` to `path` (atomically); returns its number of playlists."""
    body = ",\n".join(generator.slice_json(index))
    with atomic_write(path) as f:
        f.write(f'{{"info":{generator.slice_info(index)},"playlists":[\n{body}\n]}}\n')
    return _slice_size(generator, index)


_worker_generator: Generator | None = None


def _worker_init(playlists: int, seed: int, config: SynthConfig) -> None:
    global _worker_generator
    _worker_generator = Generator(
        playlists, seed, config
    )  # catalogue inherited from the parent if forked


def _worker_write(job: tuple[int, Path]) -> int:
    return _write_slice(_worker_generator, *job)


def _prepare(out_dir: Path, settings: dict) -> None:
    """Check `out_dir` holds nothing but an earlier run with these settings; record the settings."""
    marker = out_dir / SETTINGS_FILE
    slices = (
        [p for p in out_dir.iterdir() if SLICE_PATTERN.match(p.name)] if out_dir.is_dir() else []
    )
    if marker.exists():
        if load_json(marker) == settings:
            return
        log.info("%s: settings changed, replacing %d slice files", out_dir, len(slices))
        for path in slices:
            path.unlink()
    elif slices:
        raise UserError(
            f"{out_dir}: holds MPD slices not written by this generator; choose an empty directory"
        )
    with atomic_write(marker) as f:
        ujson.dump(settings, f, indent=1)
