"""DAE ablations on the synthetic demo data: one held-out split, several DAE settings, popularity beside.

    python benchmarks/dae_ablation.py --out dae_ablation.json [--playlists 20000] [--runs default,reference]

The split is made like `mmcf split`: challenge-shaped playlists (by full length) are taken out of the
synthetic set, the vocabulary and corpus are built from the rest. Every run trains on that corpus
(each DAE carves its own validation playlists from it for early stopping) and is scored on the same
held-out queries. Prints R-precision per category, overall NDCG and clicks, training time; writes JSON.

`reference` is the published setting in full (exact loss over every output, 20 epochs): hours on a
2-core CPU at 20k playlists. `reference-sampled` keeps its batch, L1 input, zero bias and learning
rates but uses the default's sampled loss and epoch budget. `--configs` trains fewer networks (the
other categories are then routed to the first one) for quicker comparisons.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import ujson

from mpd.atomic import atomic_write
from mpd.challenge import CATEGORIES, query_from_challenge
from mpd.matrix import build_corpus
from mpd.metrics import coverage
from mpd.split import assign_categories, hold_out
from mpd.synth import synthetic_playlists
from mpd.matrix import build_vocab
from models.dae import DAE, DAEConfig
from models.popularity import Popularity
from models.validation import validate

RUNS = {
    "default": lambda: DAEConfig(),
    "no-hide-and-seek": lambda: DAEConfig(hide_and_seek=False),
    "no-tied-pretraining": lambda: DAEConfig(tied_pretrain=False),
    "l1": lambda: DAEConfig(norm="l1"),
    "exact-loss": lambda: DAEConfig(negatives=0),
    "sampled-long": lambda: DAEConfig(epochs=12, tied_only_epochs=12),
    "head-negatives": lambda: DAEConfig(head_negatives=8192),
    "batch-250": lambda: DAEConfig(batch_size=250),
    "zero-bias": lambda: DAEConfig(bias_init="zeros"),
    "reference": lambda: DAEConfig.reference(),
    "reference-sampled": lambda: DAEConfig.reference(negatives=DAEConfig.negatives, epochs=6, tied_epochs=1,
                                                     patience=2),
}


def held_out_split(n: int, seed: int, per_category: int):
    """Training playlists and challenge-shaped queries + answers, as `mmcf split` makes them."""
    playlists = list(synthetic_playlists(n, seed))
    lengths = np.array([len(p["tracks"]) for p in playlists])
    titles = np.array([bool((p.get("name") or "").strip()) for p in playlists])
    chosen = assign_categories(lengths, titles, per_category, np.random.default_rng(seed), strict=False)
    rng = np.random.default_rng([seed, 1])
    queries, answers = [], {}
    for row, number in sorted(chosen.items()):
        entry, answer = hold_out(playlists[row], CATEGORIES[number - 1], rng)
        query = query_from_challenge(entry, "held-out", row)
        query.category = number          # a category by shape alone is ambiguous for 0/1 seeds
        queries.append(query)
        answers[query.pid] = answer
    train = [p for i, p in enumerate(playlists) if i not in chosen]
    return train, queries, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playlists", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-category", type=int, default=100)
    parser.add_argument("--runs", default="default,no-hide-and-seek,no-tied-pretraining,l1,reference-sampled",
                        help=f"comma-separated, from {', '.join(RUNS)}")
    parser.add_argument("--configs", default=None, help="train only these DAE networks (comma-separated)")
    parser.add_argument("--set", action="append", default=[], help="override a DAEConfig field: name=value")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("dae_ablation.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    train, queries, answers = held_out_split(args.playlists, args.seed, args.per_category)
    vocab = build_vocab(train)
    corpus = build_corpus(train, vocab)
    cover = coverage(answers, vocab.track_index)
    print(f"{len(corpus)} training playlists, {vocab.n_tracks} tracks + {vocab.n_artists} artists, "
          f"{len(queries)} held-out playlists, vocabulary covers {cover:.1%} of held-out tracks; "
          f"{torch.get_num_threads()} threads")
    tables = {"popularity": validate(Popularity().fit(corpus, vocab), queries, answers)}
    info: dict[str, dict] = {"popularity": {"seconds": 0.0}}
    for name in args.runs.split(","):
        config = RUNS[name]()
        for item in args.set:
            key, value = item.split("=", 1)
            setattr(config, key, type(getattr(config, key))(value))
        if args.configs:
            config.configs = tuple(args.configs.split(","))
        start, cpu = time.perf_counter(), time.process_time()
        model = DAE(config).fit(corpus, vocab)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        subset = [q for q in queries if model.route(q) in model.nets] if args.configs else queries
        tables[name] = validate(model, subset, {q.pid: answers[q.pid] for q in subset})
        info[name] = {"seconds": seconds, "cpu_seconds": cpu,
                      "epochs": {k: len(v) for k, v in model.history.items()},
                      "best_epoch": {k: int(np.argmax([h["r_precision"] or 0 for h in v])) + 1
                                     for k, v in model.history.items()},
                      "history": model.history, "config": config.__dict__ | {"inputs": config.inputs.__dict__}}
        print(f"{name}: {seconds:.0f} s wall, {cpu:.0f} s CPU, epochs {info[name]['epochs']}, "
              f"R-precision {tables[name].loc['all', 'r_precision']:.4f}", flush=True)
    report(tables, info)
    with atomic_write(args.out) as f:
        ujson.dump({"playlists": args.playlists, "seed": args.seed, "n_tracks": vocab.n_tracks,
                    "n_artists": vocab.n_artists, "coverage": cover, "threads": torch.get_num_threads(),
                    "runs": {name: {"metrics": table.reset_index(names="category").astype({"category": str})
                                    .to_dict(orient="records"), **info[name]} for name, table in tables.items()}},
                   f, indent=1)
    print(f"wrote {args.out}")


def report(tables: dict[str, pd.DataFrame], info: dict[str, dict]) -> None:
    rprec = pd.DataFrame({name: t["r_precision"] for name, t in tables.items()})
    summary = pd.DataFrame({name: {"ndcg": t.loc["all", "ndcg"], "clicks": t.loc["all", "clicks"],
                                   "train s": info[name]["seconds"]} for name, t in tables.items()})
    ratio = rprec.div(rprec["popularity"], axis=0).drop(columns="popularity").add_suffix(" /pop")
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 3):
        print("\nR-precision by category (popularity beside):")
        print(rprec)
        print("\nR-precision as a multiple of popularity:")
        print(ratio)
        print("\nOverall NDCG, clicks, training seconds:")
        print(summary)


if __name__ == "__main__":
    main()
