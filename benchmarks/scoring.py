"""Scoring loops with and without the heap's freed blocks kept for reuse, and the blend's weight
search trial against the full recombination it replaced, timed in one run.

On a trained model directory (`mmcf demo`'s, or `mmcf train`'s with the members below), over its
validation playlists:
- `score`: each model scores them in batches of 256 and ranks the top 500 (what `recommend` and
  the validation R-precision do), once with glibc mapping every large block afresh (the previous
  release) and once inside `reuse_freed_memory` (this one);
- `weight trial`: one candidate blend of DAE, CNN, item-kNN and ALS scored for R-precision, by
  recombining every row and ranking all queries (the previous release) and by `Trials` (this one),
  both inside the heap reuse; the two must give the same R-precision (checked).
The modes alternate round by round and each keeps its fastest round (these machines are shared and
noisy). Prints a table and writes JSON.

    python benchmarks/scoring.py MODEL_DIR [--kinds knn,als,dae,cnn] [--rounds 3]
                                 [--out benchmarks/results/scoring.json]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import torch
import ujson

from mmcf.ensemble.blend import combine
from mmcf.ensemble.mmcf import MMCF
from mmcf.ensemble.weights import Trials
from mmcf.models.allocator import reuse_freed_memory
from mmcf.models.base import top_n
from mmcf.models.store import load_vocab
from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.metrics import score_all, summarize
from mmcf.mpd.split import Validation
from mmcf.submission.pipeline.loading import load_model

BATCH, N = 256, 500
WEIGHTS = {"knn": 0.4, "als": 0.3}


def keep_fastest(best: dict, key: tuple[str, str], fn, *args) -> None:
    started = time.perf_counter()
    fn(*args)
    elapsed = time.perf_counter() - started
    best[key] = min(best.get(key, elapsed), elapsed)


def score_and_rank(model, queries) -> None:
    for start in range(0, len(queries), BATCH):
        batch = queries[start : start + BATCH]
        top_n(model.score(batch), batch, model.vocab, N)


def full_trial(parts, vocab) -> float:
    """The previous release's trial: every row recombined, every query ranked."""
    scores = combine(parts.title, parts.w, parts.seeded, parts.dae, parts.peers, WEIGHTS, vocab)
    recs = dict(zip((q.pid for q in parts.queries), top_n(scores, parts.queries, vocab, N)))
    summary = summarize(score_all(recs, parts.answers, vocab.artist_of()))
    return float(summary.loc["all", "r_precision"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--kinds", default="knn,als,dae,cnn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scoring.json"))
    args = parser.parse_args()
    vocab = load_vocab(args.model_dir)
    validation = Validation.load(args.model_dir / "validation")
    queries = validation.queries
    kinds = args.kinds.split(",")
    loaded = {k: load_model(args.model_dir, k, vocab) for k in {*kinds, "dae", "cnn", *WEIGHTS}}
    models = {kind: loaded[kind] for kind in kinds}
    blend = MMCF().assemble(loaded["dae"], loaded["cnn"])
    parts = blend.parts({name: loaded[name] for name in WEIGHTS}, queries, validation.answers)
    trials = Trials(parts, vocab)
    if trials.r_precision(WEIGHTS) != full_trial(parts, vocab):
        raise SystemExit("the two weight trials disagree")
    heaps = {"fresh mappings": contextlib.nullcontext, "heap reuse": reuse_freed_memory}
    trial_ways = {
        "all rows": lambda: full_trial(parts, vocab),
        "Trials": lambda: trials.r_precision(WEIGHTS),
    }
    best: dict[tuple[str, str], float] = {}  # (step, way) → fastest seconds
    for round_ in range(args.rounds):
        flip = slice(None, None, 1 if round_ % 2 == 0 else -1)
        for heap in list(heaps)[flip]:
            with heaps[heap]():
                for kind, model in models.items():
                    keep_fastest(best, (f"score {kind}", heap), score_and_rank, model, queries)
        with reuse_freed_memory():
            for way in list(trial_ways)[flip]:
                keep_fastest(best, ("weight trial", way), trial_ways[way])
    rows = []
    for step in dict.fromkeys(step for step, _ in best):
        (before, old), (after, new) = [(way, t) for (k, way), t in best.items() if k == step]
        rows.append(dict(step=step, before=before, before_s=old, after=after, after_s=new))
    threads = torch.get_num_threads()
    print(f"{len(queries)} queries × {vocab.n_tracks:,} tracks, {threads} threads")
    print(f"{'step':16s} {'before':>26s} {'after':>20s} {'speed-up':>9s}")
    for r in rows:
        before = f"{r['before']:>16s} {r['before_s']:7.3f} s"
        after = f"{r['after']:>10s} {r['after_s']:7.3f} s"
        print(f"{r['step']:16s} {before} {after} {r['before_s'] / r['after_s']:8.2f}×")
    result = dict(model_dir=str(args.model_dir), queries=len(queries), rounds=args.rounds)
    result.update(threads=threads, rows=rows)
    with atomic_write(args.out) as f:
        ujson.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
