"""The generator's knobs and fixed constants: slices, eras, energies, strands, the time span."""

from __future__ import annotations

from dataclasses import dataclass

SLICE_SIZE = 1000
FORMAT = "mmcf synthetic MPD v1"
ERAS = ("70s", "80s", "90s", "2000s", "2010s")
CURRENT_ERA = len(ERAS) - 1
ENERGIES = 3  # 0 calm, 1 mid, 2 high
STRANDS = 3  # scenes a playlist mixes at most
START_TIME, END_TIME = 1_293_840_000, 1_509_494_400  # 2011-01-01 .. 2017-11-01


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator; the defaults are calibrated against MPD's published shape."""

    # the catalogue is sized for this many playlists (or for n if larger)
    universe_playlists: int = 1_000_000
    artists: int = 300_000  # artists per million playlists of universe
    min_scene_artists: int = 40
    artist_tail: float = 1.0  # Pareto exponent of artist popularity (smaller = heavier tail)
    artist_cap: float = 100.0  # ... capped at this many times the least popular artist
    extra_albums: float = 1.2  # mean albums per artist beyond the first
    album_spread: float = 1.5  # lognormal sigma of album popularity within an artist
    track_spread: float = 1.6  # lognormal sigma of track popularity within an album
    # track popularity by rank r: (r + head_offset) ** -head_exponent ...
    head_exponent: float = 0.9
    head_offset: float = 30.0
    tail_start: int = 100_000  # ... then falling with tail_exponent beyond this rank (per million)
    tail_exponent: float = 2.3
    # popularity = (the scene's own rank curve) ** (1 - w) × (the charts) ** w
    chart_weight: float = 1.0
    length_median: float = 53.0  # playlist length: lognormal, cut to [5, 250]
    length_sigma: float = 0.95
    segment_length: float = 15.0  # mean tracks before a playlist drifts to a related scene
    p_strands: float = 0.45  # chance of each extra strand (a playlist mixes 1-3 scenes)
    p_context_genre: float = 0.6  # an extra strand takes a genre the context likes (else related)
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
