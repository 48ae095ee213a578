"""Playlist titles and descriptions: what a theme is called, in any casing, with emoji, sometimes
in Korean or Japanese, sometimes a name or nothing about the theme at all."""

from __future__ import annotations

import random

from .config import CURRENT_ERA
from .themes import Context, Genre

# fmt: off
ERA_TITLES = (
    ("70s", "70s hits", "seventies"),
    ("80s", "80s hits", "80's"),
    ("90s", "90s hits", "90's"),
    ("2000s", "00s", "early 2000s"),
    ("2017", "new music", "new"),
)
GENERIC_TITLES = (
    "my playlist", "music", "songs", "favorites", "my songs", "playlist", "mix", "jams",
    "stuff", "random", "good songs", "liked", "new playlist", "shuffle", "car", "spotify",
    "my music", "faves", "everything", "yes", "ok", "idk", "misc", "bangers only",
)
NAMES = (
    "jake", "emily", "sarah", "mike", "chris", "alex", "jess", "matt", "ashley", "josh", "kate",
    "ryan", "lauren", "nick", "megan", "tyler", "hannah", "kyle", "rachel", "sam", "brandon",
    "taylor", "justin", "amanda", "zach", "olivia", "ethan", "mia", "noah", "ava", "dylan",
    "grace",
)
PERSONAL = ("{}'s playlist", "{}", "for {}", "{} mix", "songs for {}", "{} ❤️", "{} and me")
ADJECTIVES = (
    "good", "new", "old", "late", "lazy", "golden", "blue", "wild", "sweet", "dark", "bright",
    "lost", "young", "electric", "quiet", "loud", "slow", "fast", "easy", "rainy", "sunny",
    "midnight", "summer", "winter", "spring", "fall", "crazy", "soft", "cool", "hot", "broken",
    "little", "big", "lonely", "happy", "final", "first", "secret", "velvet", "neon", "cosmic",
    "dreamy", "fresh", "silver", "wasted", "holy", "free", "vintage", "pretty", "strange",
)
NOUNS = (
    "days", "nights", "vibes", "feels", "dreams", "hearts", "roads", "waves", "lights", "stars",
    "tunes", "jams", "beats", "songs", "memories", "moments", "thoughts", "mornings",
    "evenings", "drives", "skies", "fire", "rain", "city", "ocean", "river", "summer",
    "weekend", "sunday", "friday", "mood", "energy", "madness", "magic", "noise", "sound",
    "groove", "hour", "life", "love", "soul", "spirit", "youth", "heat", "gold", "smoke",
    "rhythm", "escape", "mess", "bops",
)
DESCRIPTIONS = (
    "songs for {}", "my favorite {}", "the best {} songs", "{} all day", "just {}",
    "a little {} for you", "{} and nothing else",
)
PUNCTUATION = ("!", "!!", ".", "~", " :)", "!!!", " <3", "...")
# fmt: on


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
