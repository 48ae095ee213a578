"""A synthetic Million Playlist Dataset: MPD's schema and shape, drawn from latent musical themes.

The catalogue is a fixed universe of artists → albums → tracks grouped into scenes (genre × era ×
energy), sized for `SynthConfig.universe_playlists` playlists (1 M by default), so N playlists look
like an N-playlist sample of one MPD-sized world: at 1 M the totals are MPD-like, at 20 k it looks
like a 2 % sample (many tracks rare or unseen). Track popularity follows an MPD-like rank curve over
the whole catalogue (the charts), and draws within a scene, genre or anchor window follow it: the
global hits are mainstream, niche scenes have flatter heads, many playlists hold no chart hit at
all. A playlist picks a theme (genre, context, era) and a title that says so (any casing, emoji,
sometimes Korean or Japanese; often the genre with its era, "90s country"; sometimes only the
context, a name or nothing), so titles carry information about the tracks, as MPD's do (the README
has the title-only figures); it mixes one to three strands (scenes its context likes) and walks on,
segment by segment, to new anchor artists and neighbouring scenes, drawing tracks around the
anchors, as album runs, from the wider scene and genre, and from the charts.
Everything is a pure function of (seed, config, slice number): slices can be made in any order.

Modules, in the order they build on each other:
    config     SynthConfig (the knobs) and fixed constants (slice size, eras, energies)
    themes     genres and listening contexts
    catalogue  scenes → artists → albums → tracks, popularity, draws from ranges
    names      URIs and artist, album and track names (four scripts)
    titles     playlist titles and descriptions
    playlists  a slice's themes and track sequences
    render     a slice as MPD JSON text (Generator)
    writer     `generate` (slice files, parallel, resumable) and `synthetic_playlists` (a stream)
"""

from .config import SynthConfig
from .render import Generator
from .themes import CONTEXT_INDEX, CONTEXTS, GENRE_INDEX, GENRES, Context, Genre
from .titles import theme_title
from .writer import generate, slice_name, synthetic_playlists

__all__ = [
    "CONTEXTS",
    "CONTEXT_INDEX",
    "GENRES",
    "GENRE_INDEX",
    "Context",
    "Generator",
    "Genre",
    "SynthConfig",
    "generate",
    "slice_name",
    "synthetic_playlists",
    "theme_title",
]
