"""What the second stage costs at `mmcf submit` time, against the plain MMCF blend, in one run.

Each round runs `mmcf submit` once per model kind, each in a fresh process (start-up, loading the
model and its members, answering every playlist, writing the file: what a user waits for), in
alternating order so both kinds see the same machine; a kind's figure is its fastest round (these
machines are shared and noisy). Prints the table and writes JSON.

    python benchmarks/submit_cost.py MODEL_DIR CHALLENGE --name real [--kinds blend,mmcf]
                                     [--rounds 3] [--out benchmarks/results/submit_cost_real.json]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ujson

from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.challenge import read_challenge


def submit_seconds(model_dir: Path, challenge: Path, kind: str, out: Path) -> float:
    """Wall seconds of one `mmcf submit` in a fresh process."""
    command = [
        sys.executable, "-m", "mmcf.submission.cli", "submit", "--model-dir", str(model_dir),
        "--challenge", str(challenge), "--out", str(out), "--model", kind,
        "--team", "bench", "--email", "bench@example.org",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out.unlink()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("challenge", type=Path)
    parser.add_argument("--name", required=True, help="what the data is (real, synthetic20k…)")
    parser.add_argument("--kinds", default="blend,mmcf", help="baseline first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    out = args.out or Path(f"benchmarks/results/submit_cost_{args.name}.json")
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as work:
        for round_ in range(args.rounds):
            order = kinds if round_ % 2 == 0 else kinds[::-1]
            for kind in order:
                csv = Path(work) / f"{kind}.csv.gz"
                seconds[kind].append(submit_seconds(args.model_dir, args.challenge, kind, csv))
    best = {kind: min(values) for kind, values in seconds.items()}
    baseline = best[kinds[0]]
    result = {
        "name": args.name,
        "playlists": len(read_challenge(args.challenge)),
        "rounds": args.rounds,
        "seconds": {k: [round(s, 2) for s in v] for k, v in seconds.items()},
        "fastest": {k: round(s, 2) for k, s in best.items()},
        "to_baseline": {k: round(s / baseline, 3) for k, s in best.items()},
    }
    print(f"{'model':10s} {'fastest s':>10s} {'× ' + kinds[0]:>10s}   every round")
    for kind in kinds:
        rounds = " ".join(f"{s:.1f}" for s in seconds[kind])
        print(f"{kind:10s} {best[kind]:10.2f} {best[kind] / baseline:10.3f}   {rounds}")
    with atomic_write(out) as f:
        ujson.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
