"""Ours vs implicit's ALS on the same data and split: quality and speed side by side.

    python benchmarks/als.py [--playlists 20000] [--per-category 100] [--out als.json]

Needs the optional extra `compare` (implicit). Builds the held-out split of benchmarks/dae_ablation.py
(synthetic playlists, challenge-shaped queries), then for each recommender measures:
- fit seconds (wall, same machine, same run);
- recommend throughput for the held-out playlists (top 500, seeds excluded), playlists/s, and the
  share of that time the dense scoring matmul of the same shape takes when timed alone in the same
  run ([batch × rank] × [rank × tracks]: the roofline of scoring every track);
- R-precision, NDCG and clicks over all held-out playlists.

`implicit-als` is what a user of implicit would run: AlternatingLeastSquares.fit on the playlist × track
matrix, then recommend(..., recalculate_user=True) to fold in each new playlist's seeds. `dae` and
`item-knn` are ours (default settings) through Recommender.recommend.
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # implicit's advice: its own threads, not BLAS's
import numpy as np  # noqa: E402
import pandas as pd
import torch
import ujson

from dae import matmuls
from dae_ablation import held_out_split
from mpd.atomic import atomic_write
from mpd.matrix import build_corpus, rows_to_matrix, seed_ids
from mpd.metrics import score_all, summarize
from mpd.matrix import build_vocab
from models.als import ALSConfig
from models.base import fill
from models.dae import DAE, DAEConfig
from models.knn import ItemKNN, track_matrix

BATCH = 256


class ImplicitALS:
    """implicit's ALS used as its documentation shows, with our ALS peer's settings."""

    def __init__(self, config: ALSConfig) -> None:
        from implicit.als import AlternatingLeastSquares
        self.model = AlternatingLeastSquares(factors=config.factors, regularization=config.regularization,
                                             alpha=config.alpha, iterations=config.iterations,
                                             random_state=config.seed, num_threads=torch.get_num_threads())
        self.rank = config.factors

    def fit(self, corpus, vocab) -> "ImplicitALS":
        self.vocab = vocab
        self.model.fit(track_matrix(corpus, vocab.n_tracks), show_progress=False)
        return self

    def recommend(self, queries, n: int = 500) -> list[list[str]]:
        out = []
        for start in range(0, len(queries), BATCH):
            batch = queries[start:start + BATCH]
            seeds = rows_to_matrix([seed_ids(q, self.vocab) for q in batch], self.vocab)[:, :self.vocab.n_tracks]
            ids, _ = self.model.recommend(np.arange(len(batch)), seeds, N=n, filter_already_liked_items=True,
                                          recalculate_user=True)
            for query, row in zip(batch, ids):
                uris = [self.vocab.track_uris[i] for i in row if i >= 0]
                out.append(uris + fill(uris, query.seeds, self.vocab.fill_uris, n - len(uris)))
        return out


def measure(name: str, model, rank: int, corpus, vocab, queries, answers) -> dict:
    start = time.perf_counter()
    model.fit(corpus, vocab)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    recs = model.recommend(queries, 500)
    seconds = time.perf_counter() - start
    batches = -(-len(queries) // BATCH)
    roof = batches * matmuls(BATCH, vocab.n_tracks, bf16=False, train=False, rank=rank)
    table = summarize(score_all(dict(zip((q.pid for q in queries), recs)), answers, vocab.artist_of()))
    row = {"model": name, "fit s": fit_seconds, "recommend playlists/s": len(queries) / seconds,
           "matmul share": roof / seconds, "r_precision": table.loc["all", "r_precision"],
           "ndcg": table.loc["all", "ndcg"], "clicks": table.loc["all", "clicks"]}
    print(f"{name}: fit {fit_seconds:.1f} s, recommend {row['recommend playlists/s']:.0f} playlists/s, "
          f"R-precision {row['r_precision']:.4f}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playlists", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-category", type=int, default=100)
    parser.add_argument("--dae-epochs", type=int, default=None, help="cap the DAE's epochs per network")
    parser.add_argument("--threads", type=int, default=None, help="torch and implicit threads (default: all)")
    parser.add_argument("--out", type=Path, default=Path("als.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)

    train, queries, answers = held_out_split(args.playlists, args.seed, args.per_category)
    vocab = build_vocab(train)
    corpus = build_corpus(train, vocab)
    print(f"{len(corpus)} training playlists, {vocab.n_tracks} tracks, {len(queries)} held-out playlists, "
          f"{torch.get_num_threads()} threads")
    dae_config = DAEConfig()
    if args.dae_epochs:
        dae_config.epochs = dae_config.tied_only_epochs = args.dae_epochs
    als_config = ALSConfig()
    rows = [measure("implicit-als", ImplicitALS(als_config), als_config.factors, corpus, vocab, queries, answers),
            measure("item-knn (ours)", ItemKNN(), 0, corpus, vocab, queries, answers),
            measure("dae (ours)", DAE(dae_config), dae_config.hidden, corpus, vocab, queries, answers)]
    rows[1]["matmul share"] = None            # kNN scores with a sparse product: no dense roofline
    table = pd.DataFrame(rows).set_index("model")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 4):
        print(table)
    with atomic_write(args.out) as f:
        ujson.dump({"playlists": args.playlists, "seed": args.seed, "n_tracks": vocab.n_tracks,
                    "queries": len(queries), "threads": torch.get_num_threads(),
                    "rows": table.reset_index().to_dict(orient="records")}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
