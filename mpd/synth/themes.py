"""The themes a playlist is drawn from: genres (share, age, titles, related genres, script of
their names) and listening contexts (preferred energy, titles, favourite genres, era)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Genre:
    name: str
    share: float
    age: float  # mean era index (0 = 70s … 4 = 2010s)
    titles: tuple[str, ...]
    foreign: tuple[str, ...] = ()  # non-Latin or emoji titles with the same meaning
    related: tuple[str, ...] = ()
    script: str = "en"  # style of its artist and track names: en, es, ko, ja


@dataclass(frozen=True)
class Context:
    name: str
    share: float
    energy: int | None  # preferred energy, None = any
    titles: tuple[str, ...]
    foreign: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()  # genres it favours
    era: int | None = None  # era it favours (throwbacks)


# fmt: off
GENRES: tuple[Genre, ...] = (
    Genre("pop", 15, 3.6, ("pop", "pop hits", "top hits", "today's hits", "pop music", "radio"),
        ("팝", "ポップ", "流行"), ("dance", "r&b", "indie pop", "k-pop")),
    Genre("rap", 14, 3.7, ("rap", "hip hop", "hip-hop", "trap", "bangers", "rap caviar"),
        ("🔥🔥", "💯", "힙합", "ヒップホップ"), ("r&b", "pop", "old school rap")),
    Genre("country", 8, 3.4,
        ("country", "country music", "new country", "country jams", "southern"), ("🤠", "🇺🇸"),
        ("classic country", "folk", "christian")),
    Genre("rock", 6, 2.8, ("rock", "alt rock", "rock music", "rock n roll"),
        ("🤘", "ロック", "록"), ("classic rock", "alternative", "metal", "punk")),
    Genre("classic rock", 4, 1.0, ("classic rock", "oldies", "rock classics", "dad rock"),
        ("🎸",), ("rock", "soul", "folk")),
    Genre("alternative", 5, 3.0, ("alternative", "alt", "indie rock", "alt-rock"), ("🌙",),
        ("rock", "indie pop", "punk")),
    Genre("indie pop", 4, 3.6, ("indie", "indie pop", "indie vibes", "bedroom pop"),
        ("🌿", "インディー"), ("alternative", "folk", "pop")),
    Genre("dance", 6, 3.7, ("edm", "dance", "electronic", "festival", "bass"),
        ("⚡", "🎧", "일렉"), ("house", "pop")),
    Genre("house", 2, 3.4, ("house", "deep house", "tropical house", "techno"), ("🏠🎶",),
        ("dance", "lo-fi")),
    Genre("r&b", 5, 3.4, ("r&b", "rnb", "slow jams", "r and b", "neo soul"), ("🌹", "알앤비"),
        ("rap", "soul", "pop")),
    Genre("soul", 2, 0.8, ("soul", "motown", "funk", "disco"), ("🕺",),
        ("r&b", "classic rock", "jazz")),
    Genre("latin", 4, 3.7, ("latin", "reggaeton", "latino", "musica latina", "salsa"),
        ("🇲🇽", "🇵🇷💃", "música"), ("pop", "rap"), "es"),
    Genre("christian", 3, 3.2, ("worship", "christian", "gospel", "praise"), ("🙏", "✝️"),
        ("country", "folk")),
    Genre("metal", 2, 2.5, ("metal", "heavy metal", "metalcore", "hard rock"), ("💀", "メタル"),
        ("rock", "punk")),
    Genre("punk", 2, 2.6, ("punk", "pop punk", "emo", "screamo"), ("🖤",),
        ("alternative", "metal", "rock")),
    Genre("folk", 2, 3.0, ("folk", "acoustic", "singer songwriter", "coffee shop"),
        ("☕", "🌾"), ("indie pop", "country")),
    Genre("jazz", 1.5, 1.5, ("jazz", "smooth jazz", "jazz classics", "swing"),
        ("🎷", "ジャズ", "재즈"), ("soul", "classical", "lo-fi")),
    Genre("classical", 1.5, 1.8, ("classical", "piano", "orchestra", "instrumental"),
        ("🎻", "🎹", "クラシック", "클래식"), ("jazz", "soundtrack")),
    Genre("soundtrack", 2, 3.0, ("disney", "musicals", "broadway", "movie soundtracks"),
        ("🏰", "ディズニー", "뮤지컬"), ("classical", "pop")),
    Genre("lo-fi", 1.5, 3.8, ("lofi", "lo-fi", "chillhop", "lofi beats"), ("☁️", "ローファイ"),
        ("jazz", "house", "rap")),
    Genre("k-pop", 1.5, 3.8, ("kpop", "k-pop", "bts", "k pop"),
        ("케이팝", "방탄", "아이돌", "🇰🇷"), ("pop", "j-pop"), "ko"),
    Genre("j-pop", 1, 3.4, ("jpop", "j-pop", "anime", "anime openings"),
        ("アニメ", "ボカロ", "🇯🇵"), ("k-pop", "soundtrack"), "ja"),
    Genre("classic country", 1.5, 1.2, ("classic country", "old country", "90s country"),
        ("🐎",), ("country", "folk")),
    Genre("old school rap", 2, 1.9,
        ("old school", "old school rap", "90s rap", "throwback hip hop"), ("📼",),
        ("rap", "r&b")),
    Genre("reggae", 1, 2.5, ("reggae", "dancehall", "island vibes"), ("🌴", "🇯🇲"),
        ("latin", "rap")),
    Genre("holiday", 2, 2.0, ("christmas", "christmas music", "holiday", "xmas"),
        ("🎄", "🎅", "クリスマス", "크리스마스"), ("soundtrack", "soul")),
)
# fmt: on
GENRE_INDEX = {g.name: i for i, g in enumerate(GENRES)}
MAINSTREAM = ("pop", "rap", "dance", "r&b", "latin", "house", "indie pop", "country", "alternative")

# fmt: off
CONTEXTS: tuple[Context, ...] = (
    Context("none", 30, None, ()),
    Context("workout", 7, 2, ("workout", "gym", "running", "lifting", "cardio", "beast mode"),
        ("운동", "筋トレ", "健身", "💪", "🏋️"), ("rap", "dance", "metal", "rock")),
    Context("chill", 8, 0, ("chill", "chill vibes", "relax", "mellow", "vibes", "chillin"),
        ("😌", "まったり", "휴식", "☁️✨"), ("indie pop", "r&b", "lo-fi", "folk")),
    Context("party", 6, 2, ("party", "turn up", "pregame", "party mix", "lit"),
        ("🎉", "🍻", "パーティー", "파티"), ("rap", "dance", "pop", "latin")),
    Context("drive", 5, 1, ("road trip", "driving", "car jams", "drive", "cruising"),
        ("ドライブ", "드라이브", "兜风", "🚗", "🛣️"), ("country", "classic rock", "pop")),
    Context("study", 4, 0, ("study", "focus", "homework", "studying", "concentration"),
        ("勉強", "공부", "📚", "作業用"), ("classical", "lo-fi", "jazz")),
    Context("sleep", 2, 0, ("sleep", "bedtime", "calm", "night"), ("睡眠", "잠", "😴", "💤"),
        ("classical", "folk", "lo-fi")),
    Context("sad", 5, 0, ("sad", "feels", "sad songs", "heartbreak", "crying"),
        ("💔", "😢", "슬픔", "泣ける"), ("indie pop", "alternative", "r&b", "folk")),
    Context("love", 4, 1, ("love", "love songs", "bae", "romance", "wedding"),
        ("❤️", "💕", "사랑", "ラブソング"), ("r&b", "country", "pop")),
    Context("summer", 6, 2, ("summer", "summer vibes", "summer 2017", "beach", "pool party"),
        ("☀️", "🌊", "여름", "夏", "verano"), ("pop", "latin", "reggae", "house")),
    Context("throwback", 6, 1,
        ("throwback", "throwbacks", "oldies", "memories", "old but gold"),
        ("📻", "懐メロ", "추억"), ("pop", "rap", "rock"), era=2),
    Context("happy", 4, 2, ("good vibes", "happy", "feel good", "good mood", "sunshine"),
        ("😊", "🌈", "행복"), ("pop", "indie pop", "soul")),
    Context("morning", 2, 1, ("morning", "wake up", "coffee", "sunday morning"),
        ("☕️", "朝", "아침"), ("folk", "indie pop", "jazz")),
    Context("christmas", 2, 1, ("christmas", "xmas", "holiday"),
        ("🎄", "クリスマス", "크리스마스"), ("holiday",)),
)
# fmt: on
CONTEXT_INDEX = {c.name: i for i, c in enumerate(CONTEXTS)}
