"""Playlists as catalogue track ids: a theme (genre, context, era, energy), a length, one to
three strands (scenes its context likes), and segments that drift to neighbouring scenes, each
drawn around anchor artists, as album runs, from the scene, the genre and the charts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalogue import build_catalogue, draw_in_ranges, scene_of
from .config import CURRENT_ERA, ENERGIES, ERAS, SLICE_SIZE, STRANDS, SynthConfig
from .themes import CONTEXTS, GENRE_INDEX, GENRES, MAINSTREAM


@dataclass
class SliceTracks:
    """The track sequences of one slice, as catalogue ids, and their themes."""

    lengths: np.ndarray
    tracks: np.ndarray
    genre: np.ndarray
    context: np.ndarray
    era: np.ndarray


class Playlists:
    """Themes and track sequences of MPD-shaped playlists, slice by slice.

    Everything is a function of (seed, config, slice number), so slices can be made in any order.
    """

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
        """The strand each position draws from: 1-3 per playlist, the first weighing most."""
        n = int(owner[-1]) + 1
        used = 1 + (rng.random((n, 1)) < self.config.p_strands).sum(axis=1)
        weights = np.concatenate([np.ones((n, 1)), rng.uniform(0.2, 0.8, (n, STRANDS - 1))], axis=1)
        weights[np.arange(STRANDS)[None, :] >= used[:, None]] = 0
        cum = np.cumsum(weights, axis=1)
        cum /= cum[:, -1:]
        return (rng.random(len(owner))[:, None] > cum[owner]).sum(axis=1)

    def _segments(self, lengths, genre, context, era, energy, rng):
        """Scenes [segment, strand] and the segment of each position.

        A playlist has up to three strands: its own scene and scenes of genres its context likes
        (or related genres). At every new segment the anchors are drawn afresh and one strand may
        drift to a related genre, a neighbouring era or a neighbouring energy.
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
        """Track ids: per position a source (album run, anchor, scene, genre, charts) and a draw."""
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
        """Redraw repeats in a playlist (from the scene, then anywhere); ≥ 3 artists, ≥ 2 albums."""
        cat = self.catalogue
        owner = np.repeat(np.arange(len(lengths)), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        scene_lo = cat.artist_track_range(cat.scene_artists[scene_of_pos])
        scene_hi = cat.artist_track_range(cat.scene_artists[scene_of_pos + 1])
        for attempt in range(30):
            redo = repeats(owner, tracks)
            if attempt % 2:  # every other round: too few artists or albums
                few = (
                    distinct(owner, cat.album_artist[cat.track_album[tracks]], len(lengths)) < 3
                ) | (distinct(owner, cat.track_album[tracks], len(lengths)) < 2)
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


def repeats(owner: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """True where a track already occurred earlier in the same playlist."""
    key = owner.astype(np.int64) * (int(tracks.max()) + 1) + tracks
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    repeat = np.ones(len(tracks), bool)
    repeat[order[np.concatenate([[True], ordered[1:] != ordered[:-1]])]] = False
    return repeat


def distinct(owner: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Distinct values per playlist."""
    key = sorted_unique(owner.astype(np.int64) * (int(values.max()) + 1) + values)
    return np.bincount(key // (int(values.max()) + 1), minlength=n)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (much faster than numpy's hash-based unique on these sizes)."""
    values = np.sort(values)
    if not len(values):
        return values
    return values[np.concatenate([[True], values[1:] != values[:-1]])]
