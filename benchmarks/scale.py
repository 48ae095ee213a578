"""The data steps of a full-scale run, each as a user runs it: `mmcf` commands in fresh processes.

On one MPD directory (e.g. `mmcf synth --playlists 1000000`), with an empty corpus cache:
  1. `mmcf split` (the first read of the MPD: parse, cache, then the split itself),
  2. `mmcf split` again into another directory (the cached corpus: the split alone),
  3. `mmcf train --model popularity` on the split's training slices (their first read),
  4. the cached corpus and `load_training` (vocabulary, validation carve, corpus) of those slices,
  5. `mmcf submit` (popularity) and `mmcf evaluate` on the split's challenge set.
Wall time and peak memory per step (each process's own, from wait4) against the targets of the
full-scale issue; printed as a table and written as JSON.

    python benchmarks/scale.py MPD_DIR WORK_DIR [--per-category 1000]
                               [--out benchmarks/results/scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

TARGETS_S = {
    "split, first read": 300,
    "split, cached": 300,
    "cached load_corpus": 30,
    "evaluate": 60,
    "train popularity, first read": 300,
}
IN_PROCESS = """
import json, sys, time
from mmcf.mpd.cache import load_corpus
from mmcf.mpd.dataset import load_training
from mmcf.mpd.split import ValidationConfig
started = time.perf_counter(); load_corpus(sys.argv[1]); corpus = time.perf_counter() - started
started = time.perf_counter(); data = load_training(sys.argv[1], validation=ValidationConfig())
training = time.perf_counter() - started
print(json.dumps({"cached load_corpus": corpus, "cached load_training": training,
                  "tracks": data.vocab.n_tracks, "playlists": len(data.corpus)}))
"""


def run(command: list[str], env: dict) -> dict:
    """One process: wall seconds, peak RSS (GB), stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(command)}")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_gb": round(usage.ru_maxrss / 1e6, 2),  # ru_maxrss is in KiB on Linux
        "stdout": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mpd", type=Path)
    parser.add_argument("work", type=Path, help="split, models and the cache go here (emptied)")
    parser.add_argument("--per-category", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    env = dict(os.environ, MMCF_CACHE_DIR=str(args.work / "cache"))
    mmcf = [sys.executable, "-m", "mmcf.submission.cli"]
    work, split = args.work, args.work / "split"
    settings = ["--per-category", str(args.per_category), "--seed", "0"]
    steps = {
        "split, first read": mmcf
        + ["split", "--mpd", str(args.mpd), "--out", str(split)]
        + settings,
        "split, cached": mmcf
        + ["split", "--mpd", str(args.mpd), "--out", str(work / "again")]
        + settings,
        "train popularity, first read": mmcf
        + [
            "train",
            "--mpd",
            str(split / "train"),
            "--model-dir",
            str(work / "model"),
            "--model",
            "popularity",
        ],
        "cached load_corpus + load_training": [
            sys.executable,
            "-c",
            IN_PROCESS,
            str(split / "train"),
        ],
        "submit popularity": mmcf
        + [
            "submit",
            "--model-dir",
            str(work / "model"),
            "--challenge",
            str(split / "challenge_set.json"),
            "--out",
            str(work / "popularity.csv.gz"),
            "--team",
            "benchmark",
            "--email",
            "benchmark@example.org",
        ],
        "evaluate": mmcf
        + [
            "evaluate",
            "--submission",
            str(work / "popularity.csv.gz"),
            "--answers",
            str(split / "answers.json"),
            "--mpd",
            str(split / "train"),
        ],
    }
    results = {}
    for name, command in steps.items():
        results[name] = run(command, env)
        print(f"{name}: {results[name]['seconds']} s, {results[name]['peak_gb']} GB", flush=True)
    loads = json.loads(results["cached load_corpus + load_training"].pop("stdout"))
    for name in ("cached load_corpus", "cached load_training"):
        results[name] = {"seconds": round(loads[name], 1)}
    for row in results.values():
        row.pop("stdout", None)
    report = {
        "mpd": str(args.mpd),
        "training_playlists": loads["playlists"],
        "tracks_in_vocabulary": loads["tracks"],
        "cpus": os.cpu_count(),
        "load_average_after": os.getloadavg(),
        "steps": results,
        "targets_seconds": TARGETS_S,
    }
    print(f"\n{'step':38s} {'seconds':>8s} {'peak GB':>8s} {'target s':>9s}")
    for name, row in results.items():
        target = TARGETS_S.get(name, "")
        print(f"{name:38s} {row['seconds']:8.1f} {row.get('peak_gb', ''):>8} {target:>9}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
