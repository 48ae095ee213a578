"""Reading an MPD directory: the JSON reader of before vs the first read (parallel parse, cache
written) vs the cached load, all in one run on one synthetic MPD; also JSON parsers on one slice.

    python benchmarks/read.py [--playlists 50000] [--mpd DIR] [--repeat 2]
                              [--out benchmarks/results/read.json]

`--mpd` reuses a directory made by `mmcf synth` (else one is made in the system temp directory).
Each step runs `--repeat` times (best and all times kept: the machine may be shared); playlists/s
projects to the 1,000,000 playlists of the real MPD. The results are checked to be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import ujson

from mmcf.mpd import cache
from mmcf.mpd.dataset import load_training
from mmcf.mpd.fingerprint import SourceDigest
from mmcf.mpd.matrix import record_all
from mmcf.mpd.reader import check_playlist, count_playlists, read_playlists, slice_files
from mmcf.mpd.split import split_mpd
from mmcf.submission.cli import main as mmcf

FULL_MPD = 1_000_000


def timed(
    run: Callable[[], object], repeat: int, before: Callable[[], None] = lambda: None
) -> dict:
    times, result = [], None
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "all": [round(t, 2) for t in times], "result": result}


def parsers(path: Path, repeat: int) -> dict[str, float]:
    """Milliseconds to decode (and validate) one slice, per parser."""
    import msgspec

    from mmcf.mpd.parse import SLICE_DECODER

    raw = path.read_bytes()
    plain = msgspec.json.Decoder()
    playlists = ujson.loads(raw)["playlists"]
    runs = {
        "json": lambda: json.loads(raw),
        "ujson": lambda: ujson.loads(raw),
        "msgspec": lambda: plain.decode(raw),
        "msgspec typed (validates types)": lambda: SLICE_DECODER.decode(raw),
        "check_playlist (the reader's validation)": lambda: [
            check_playlist(p, path, i) for i, p in enumerate(playlists)
        ],
    }
    try:
        import orjson

        runs["orjson"] = lambda: orjson.loads(raw)
    except ImportError:  # not a dependency
        pass
    return {name: round(timed(run, repeat)["seconds"] * 1000, 1) for name, run in runs.items()}


def same(a, b) -> bool:
    return (
        a.pids == b.pids
        and a.titles == b.titles
        and a.track_ids == b.track_ids
        and a.track_names == b.track_names
        and a.track_artist == b.track_artist
        and a.artist_ids == b.artist_ids
        and a.artist_names == b.artist_names
        and all(np.array_equal(x, y) for x, y in zip(a.chunks, b.chunks))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playlists", type=int, default=50_000)
    parser.add_argument("--mpd", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/read.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mmcf-read-"))
    try:
        mpd = args.mpd or work / "mpd"
        if not args.mpd:
            mmcf(["synth", "--out", str(mpd), "--playlists", str(args.playlists)])
        report = measure(mpd, work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def measure(mpd: Path, work: Path, repeat: int) -> dict:
    """Every step `repeat` times, on one MPD directory, with the cache under `work`."""
    files, playlists = slice_files(mpd), count_playlists(mpd)
    root = work / "cache"
    os.environ[cache.CACHE_ENV] = str(root)
    splits = iter(range(repeat))

    def fresh() -> None:
        for child in root.glob("*") if root.exists() else []:
            shutil.rmtree(child)

    def json_reader():
        digest = SourceDigest()
        return record_all(read_playlists(mpd, digest=digest)), digest.summary()

    def inline():
        os.environ["MMCF_READ_WORKERS"] = "0"
        try:
            return cache.load_corpus(mpd)
        finally:
            del os.environ["MMCF_READ_WORKERS"]

    def split():
        out = work / f"split-{next(splits)}"
        split_mpd(mpd, out, per_category=max(1, playlists // 1000), seed=0)

    rows = {
        "JSON reader of before (ujson + validation, 1 process)": timed(json_reader, repeat),
        "first read, parse in this process + cache write": timed(inline, repeat, fresh),
        f"first read, {os.cpu_count()} processes + cache write": timed(
            lambda: cache.load_corpus(mpd), repeat, fresh
        ),
        "cached load (load_corpus)": timed(lambda: cache.load_corpus(mpd), repeat),
        "cached load_training (+ vocab, carve, corpus)": timed(lambda: load_training(mpd), repeat),
        "evaluate's read of before (track_artists, JSON)": timed(
            lambda: cache.stream_track_artists(mpd), repeat
        ),
        "evaluate's read, cached (track_artists)": timed(lambda: cache.track_artists(mpd), repeat),
        "split (cached scan; pool re-reads and writes slices)": timed(split, repeat),
    }
    (old, source), new = (
        rows[next(iter(rows))]["result"],
        rows["cached load (load_corpus)"]["result"],
    )
    identical = same(old, new.recorder) and source == new.source
    artists = [row["result"] for name, row in rows.items() if "track_artists" in name]
    entry = next(root.glob("*/*/manifest.json")).parent
    return {
        "playlists": playlists,
        "slices": len(files),
        "json_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1),
        "cache_mb": round(sum(f.stat().st_size for f in entry.iterdir()) / 1e6, 1),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "identical": identical and artists[0] == artists[1],
        "parsers_ms_per_slice": parsers(files[0], repeat + 1),
        "steps": {
            name: {
                "seconds": round(row["seconds"], 2),
                "all": row["all"],
                "playlists_per_s": round(playlists / row["seconds"]),
                "projected_1m_s": round(row["seconds"] * FULL_MPD / playlists),
            }
            for name, row in rows.items()
        },
    }


def print_table(report: dict) -> None:
    print(
        f"\n{report['playlists']} playlists in {report['slices']} slices "
        f"({report['json_mb']} MB JSON, {report['cache_mb']} MB cached); "
        f"{report['cpus']} CPUs, load {report['load_average'][0]:.1f}"
    )
    print(f"{'step':58s} {'best s':>8s} {'playlists/s':>12s} {'1M proj. s':>11s}  all runs")
    for name, row in report["steps"].items():
        print(
            f"{name:58s} {row['seconds']:8.2f} {row['playlists_per_s']:12,d} "
            f"{row['projected_1m_s']:11,d}  {row['all']}"
        )
    print(f"identical corpus, fingerprint and artists: {report['identical']}")
    print(
        "one slice, ms:", ", ".join(f"{k} {v}" for k, v in report["parsers_ms_per_slice"].items())
    )


if __name__ == "__main__":
    main()
