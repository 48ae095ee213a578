"""The slice writer: MPD slice files, written in parallel and resumably, and the same playlists as
a stream."""

from __future__ import annotations

import logging
import multiprocessing
import os
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import ujson
from tqdm import tqdm

from ..atomic import atomic_write
from ..errors import UserError
from ..reader import SLICE_PATTERN, load_json
from .config import FORMAT, SynthConfig
from .render import Generator

log = logging.getLogger(__name__)

SETTINGS_FILE = "synth.json"


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
    """Write `playlists` synthetic playlists as MPD slice files in `out_dir`; return their paths.

    Slices are independent, so `workers` processes (default: one per core) write them in parallel;
    the files are the same whatever the worker count. Resumable: slices already written by a run
    with the same settings are kept.
    """
    if playlists < 1:
        raise UserError(f"--playlists must be at least 1, got {playlists}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    config = config or SynthConfig()
    settings = {"format": FORMAT, "playlists": playlists, "seed": seed, "config": asdict(config)}
    _prepare(out_dir, settings)
    generator = Generator(playlists, seed, config)  # builds and caches the catalogue before forking
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
    _worker_generator = Generator(playlists, seed, config)  # catalogue inherited if forked


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
