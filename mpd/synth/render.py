"""Playlists as MPD JSON text: titles, counts, timestamps and followers, and each track's URIs and
names (cached as JSON fragments across slices)."""

from __future__ import annotations

import random

import numpy as np
import ujson

from .config import END_TIME, FORMAT, START_TIME, SynthConfig
from .names import Names
from .playlists import Playlists, distinct, sorted_unique
from .themes import CONTEXTS, GENRES
from .titles import description, theme_title

FRAGMENT_CACHE = 2_000_000  # track JSON fragments kept between slices


class Generator(Playlists):
    """Makes slices of MPD-shaped playlists as JSON text."""

    def __init__(self, playlists: int, seed: int, config: SynthConfig | None = None):
        super().__init__(playlists, seed, config)
        self.names = Names(seed, self.catalogue)
        self._fragments: dict[int, str] = {}

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
        n_albums = distinct(owner, albums, n).tolist()
        n_artists = distinct(owner, cat.album_artist[albums], n).tolist()
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
            [t for t in sorted_unique(tracks).tolist() if t not in cache], dtype=np.int64
        )
        if not len(new):
            return cache
        cat = self.catalogue
        albums = cat.track_album[new]
        artists = cat.album_artist[albums]
        artist_json = self.names("artist", 1, artists, artists)
        album_json = self.names("album", 2, albums, artists)
        track_json = self.names("track", 0, new, artists)
        for t, ms, artist, album, track in zip(
            new.tolist(), cat.duration[new].tolist(), artist_json, album_json, track_json
        ):
            cache[t] = (
                f'"artist_name":{artist[1]},"track_uri":"spotify:track:{track[0]}",'
                f'"artist_uri":"spotify:artist:{artist[0]}","track_name":{track[1]},'
                f'"album_uri":"spotify:album:{album[0]}","duration_ms":{ms},"album_name":{album[1]}'
            )
        return cache

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
