"""The catalogue: a fixed universe of scenes (genre × era × energy) → artists → albums → tracks,
with MPD-like popularity, and draws from ranges of it."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .config import ENERGIES, ERAS, SynthConfig
from .themes import GENRES


@dataclass
class Catalogue:
    """Scenes → artists → albums → tracks, laid out so that every group is a contiguous range."""

    scene_genre: np.ndarray  # [scenes]; scene = (genre * eras + era) * energies + energy
    scene_artists: np.ndarray  # [scenes + 1] artist range of each scene
    artist_albums: np.ndarray  # [artists + 1] album range of each artist
    album_tracks: np.ndarray  # [albums + 1] track range of each album
    artist_scene: np.ndarray  # [artists]
    album_artist: np.ndarray  # [albums]
    track_album: np.ndarray  # [tracks]
    track_cum: np.ndarray  # [tracks + 1] cumulative track popularity (sampling by range)
    chart_cum: np.ndarray  # [tracks + 1] cumulative chart popularity (global hits, across scenes)
    artist_cum: np.ndarray  # [artists + 1] cumulative artist popularity ** anchor_power (anchors)
    duration: np.ndarray  # [tracks] ms

    @property
    def n_tracks(self) -> int:
        return len(self.track_album)

    def artist_track_range(self, artists: np.ndarray) -> np.ndarray:
        return self.album_tracks[self.artist_albums[artists]]


def scene_of(genre: int, era: int, energy: int) -> int:
    return (genre * len(ERAS) + era) * ENERGIES + energy


def scene_demand() -> np.ndarray:
    """Expected share of playlist tracks per scene: genre share × era (around its age) × energy."""
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
    """MPD-like popularity by rank: a Zipf–Mandelbrot head, then a steeper tail (as in MPD, about
    half the tracks seen are seen once)."""
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
    """Within each scene the same rank curve, stretched to the scene's size, scaled to demand."""
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
    """One index per range [lo, hi), drawn in proportion to the weights of cumulative sum `cum`."""
    start, stop = cum[lo], cum[hi]
    target = start + rng.random(len(lo)) * (stop - start)
    order = np.argsort(target)  # sorted keys make searchsorted several times faster
    picked = np.empty(len(lo), np.int64)
    picked[order] = np.searchsorted(cum, target[order], side="right") - 1
    return np.clip(picked, lo, hi - 1)
