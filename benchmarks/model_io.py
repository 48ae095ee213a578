"""What reading and writing model weights costs, against the way it was done before, in one run.

1. Loading: a fresh process loads a trained model (`load_model`) and answers the first playlists of
   a challenge set (500 tracks each), as now (weights memory-mapped, each DAE network holding its
   loaded tensors) or as before (weights read whole, each DAE network initialised at random, then
   the loaded weights copied in). Answering is timed too: a mapped file is read when first used.
2. Checkpoints: `mmcf train --model dae` trains one network (`--set configs=5`) on a copy of a
   model directory, with a checkpoint after every epoch (`MMCF_CHECKPOINT_SECONDS=0`, as before)
   and with the default interval.

Rounds alternate the two ways so both see the same machine; a figure is the fastest round.

    python benchmarks/model_io.py MODEL_DIR TRAIN_DIR CHALLENGE [--kinds dae,cnn,als,mmcf]
        [--rounds 3] [--train-rounds 1] [--epochs 3] [--out benchmarks/results/model_io.json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ujson

from mmcf.mpd.atomic import atomic_write

LOAD_AND_ANSWER = """
import functools, json, sys, time
import torch
model_dir, challenge, kind, mode, n = sys.argv[1:6]
if mode == "before":
    from mmcf.models.dae.network import DAENet
    def initialised_then_copied(tensors):
        net = DAENet(*tensors["w_enc"].shape, torch.Generator())
        net.assign(tensors)
        return net
    DAENet.holding = staticmethod(initialised_then_copied)
    torch.load = functools.partial(torch.load, mmap=False)
from mmcf.mpd.challenge import read_challenge
from mmcf.submission.pipeline.loading import load_model
queries = read_challenge(challenge)[: int(n)]
started = time.perf_counter()
model = load_model(model_dir, kind)
loaded = time.perf_counter()
model.recommend(queries, 500)
print(json.dumps({"load": loaded - started, "answer": time.perf_counter() - loaded}))
"""


def load_seconds(model_dir: Path, challenge: Path, kind: str, mode: str, n: int) -> dict:
    """Seconds to load `kind` and to answer its first `n` playlists, in a fresh process."""
    argv = [sys.executable, "-c", LOAD_AND_ANSWER, str(model_dir), str(challenge), kind, mode]
    done = subprocess.run([*argv, str(n)], check=True, capture_output=True, text=True)
    return ujson.loads(done.stdout.strip().splitlines()[-1])


def train_seconds(model_dir: Path, train_dir: Path, every: str | None, epochs: int) -> float:
    """Wall seconds of `mmcf train --model dae` (one network) into a copy of the model directory."""
    with tempfile.TemporaryDirectory(dir=model_dir.parent) as work:
        copy = Path(work) / "model"
        copy.mkdir()
        for name in ("vocab.json.gz", "source.json", "validation"):
            source = model_dir / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / name)
        env = dict(os.environ)
        env.pop("MMCF_CHECKPOINT_SECONDS", None)
        if every is not None:
            env["MMCF_CHECKPOINT_SECONDS"] = every
        command = [
            sys.executable, "-m", "mmcf.submission.cli", "train", "--mpd", str(train_dir),
            "--model-dir", str(copy), "--model", "dae", "--set", "configs=5",
            "--set", f"epochs={epochs}", "--set", "head_negatives=0",
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(
            command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return time.perf_counter() - started


def alternated(rounds: int, ways: list[str], run) -> dict[str, list]:
    """`run(way)` for each way, `rounds` times, in alternating order."""
    results: dict[str, list] = {way: [] for way in ways}
    for round_ in range(rounds):
        for way in ways if round_ % 2 == 0 else ways[::-1]:
            results[way].append(run(way))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("train_dir", type=Path, help="the training playlists of MODEL_DIR")
    parser.add_argument("challenge", type=Path)
    parser.add_argument("--kinds", default="dae,cnn,als,mmcf")
    parser.add_argument("--playlists", type=int, default=200, help="answered after loading")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train-rounds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3, help="of the one DAE network trained")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/model_io.json"))
    args = parser.parse_args()
    result: dict = {"playlists": args.playlists, "rounds": args.rounds, "load": {}}
    print(f"{'load + first answers':24s} {'before s':>9s} {'now s':>9s} {'ratio':>7s}")
    for kind in args.kinds.split(","):
        runs = alternated(
            args.rounds,
            ["before", "now"],
            lambda way: load_seconds(args.model_dir, args.challenge, kind, way, args.playlists),
        )
        best = {way: min(r["load"] + r["answer"] for r in rs) for way, rs in runs.items()}
        result["load"][kind] = {"runs": runs, "fastest": best}
        ratio = best["now"] / best["before"]
        print(f"{kind:24s} {best['before']:9.2f} {best['now']:9.2f} {ratio:7.3f}")
    every = {"every epoch": "0", "default interval": None}
    runs = alternated(
        args.train_rounds,
        list(every),
        lambda way: train_seconds(args.model_dir, args.train_dir, every[way], args.epochs),
    )
    best = {way: min(seconds) for way, seconds in runs.items()}
    result["train"] = {"epochs": args.epochs, "runs": runs, "fastest": best}
    print(f"\n`mmcf train --model dae` (network 5, {args.epochs} epochs), checkpoints:")
    for way, seconds in best.items():
        print(f"  {way:18s} {seconds:8.1f} s")
    with atomic_write(args.out) as f:
        ujson.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
