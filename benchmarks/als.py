"""Ours vs implicit's ALS on the same data and split: quality and speed side by side.

    python benchmarks/als.py [--playlists 20000] [--per-category 100] \
        [--models implicit-als,dae] [--out als.json]

Needs the optional extra `compare` (implicit). Builds the held-out split of
benchmarks/dae_ablation.py (synthetic playlists, challenge-shaped queries), then for each
recommender measures:
- fit seconds (wall, same machine, same run);
- recommend throughput for the held-out playlists (top 500, seeds excluded), playlists/s;
- its achieved GFLOP/s: the FLOPs of the recommend call (2·m·n·k per matmul: scoring every track,
  2·playlists·rank·tracks; implicit's fold-in of each playlist's s seeds by Cholesky,
  2·s·rank² + 2·s·rank + rank³/3 + 2·rank²; the DAE's sparse encoder, 2·nnz·hidden; top-500
  selection and URI lists are not FLOPs) / the recommend time, and its ratio to two peaks timed in
  the same run
  (fp32): the bare scoring matmul of the same shape ([batch × rank] × [rank × tracks]), and a large
  square matmul (what this CPU reaches on a matmul at all);
- "share of time in matmuls": the bare scoring matmuls' time / the recommend time (this script's
  former "matmul share");
- R-precision, NDCG and clicks over all held-out playlists.
The kNN scores with a sparse product: no FLOP count or peak for it.

`implicit-als` is what a user of implicit would run: AlternatingLeastSquares.fit on the playlist ×
track matrix, then recommend(..., recalculate_user=True) to fold in each new playlist's seeds.
`dae` and `item-knn` are ours (default settings) through Recommender.recommend.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice: its own threads, not BLAS's
import numpy as np  # noqa: E402
import pandas as pd
import torch
import ujson

from dae import matmul_flops, matmuls, square_gflops
from dae_ablation import held_out_split
from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.matrix import build_corpus, query_matrix, rows_to_matrix, seed_ids
from mmcf.mpd.metrics import score_all, summarize
from mmcf.mpd.matrix import build_vocab
from mmcf.models.als import ALSConfig
from mmcf.models.base import fill
from mmcf.models.dae import DAE, DAEConfig
from mmcf.models.knn import ItemKNN, track_matrix

BATCH = 256


class ImplicitALS:
    """implicit's ALS used as its documentation shows, with our ALS peer's settings."""

    def __init__(self, config: ALSConfig) -> None:
        from implicit.als import AlternatingLeastSquares

        self.model = AlternatingLeastSquares(
            factors=config.factors,
            regularization=config.regularization,
            alpha=config.alpha,
            iterations=config.iterations,
            random_state=config.seed,
            num_threads=torch.get_num_threads(),
        )
        self.rank = config.factors

    def fit(self, corpus, vocab) -> "ImplicitALS":
        self.vocab = vocab
        self.model.fit(track_matrix(corpus, vocab.n_tracks), show_progress=False)
        return self

    def recommend(self, queries, n: int = 500) -> list[list[str]]:
        out = []
        for start in range(0, len(queries), BATCH):
            batch = queries[start : start + BATCH]
            seeds = rows_to_matrix([seed_ids(q, self.vocab) for q in batch], self.vocab)[
                :, : self.vocab.n_tracks
            ]
            ids, _ = self.model.recommend(
                np.arange(len(batch)),
                seeds,
                N=n,
                filter_already_liked_items=True,
                recalculate_user=True,
            )
            for query, row in zip(batch, ids):
                uris = [self.vocab.track_uris[i] for i in row if i >= 0]
                out.append(uris + fill(uris, query.seeds, self.vocab.fill_uris, n - len(uris)))
        return out


def implicit_flops(model: ImplicitALS, queries, vocab) -> float:
    """FLOPs of implicit's recommend with recalculate_user: Cholesky fold-in per playlist + scoring
    every track."""
    r = model.rank
    seeds = np.array([len(seed_ids(q, vocab)) for q in queries], dtype=np.float64)
    fold_in = (2 * seeds * r * r + 2 * seeds * r + r**3 / 3 + 2 * r * r).sum()
    return fold_in + 2.0 * len(queries) * r * vocab.n_tracks


def dae_flops(model: DAE, queries, vocab) -> float:
    """FLOPs of the DAE's recommend: sparse encoder (2·nnz·hidden) + decoder over every track."""
    h = model.config.hidden
    nnz = query_matrix(queries, vocab, model.config.inputs).nnz
    return 2.0 * nnz * h + 2.0 * len(queries) * h * vocab.n_tracks


def measure(
    name: str, model, rank: int, corpus, vocab, queries, answers, flops=None, square: float = 0.0
) -> dict:
    start = time.perf_counter()
    model.fit(corpus, vocab)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    recs = model.recommend(queries, 500)
    seconds = time.perf_counter() - start
    row = {"model": name, "fit s": fit_seconds, "recommend playlists/s": len(queries) / seconds}
    if flops is not None:
        batches = -(-len(queries) // BATCH)
        matmul_s = matmuls(BATCH, vocab.n_tracks, bf16=False, train=False, rank=rank)
        peak = matmul_flops(BATCH, vocab.n_tracks, train=False, rank=rank) / matmul_s / 1e9
        gflops = flops(model, queries, vocab) / seconds / 1e9
        row |= {
            "recommend GFLOP/s": gflops,
            "matmul GFLOP/s (same shape)": peak,
            "of matmul peak": gflops / peak,
            "square GFLOP/s": square,
            "of square peak": gflops / square,
            "share of time in matmuls": batches * matmul_s / seconds,
        }
    table = summarize(
        score_all(dict(zip((q.pid for q in queries), recs)), answers, vocab.artist_of())
    )
    row |= {
        "r_precision": table.loc["all", "r_precision"],
        "ndcg": table.loc["all", "ndcg"],
        "clicks": table.loc["all", "clicks"],
    }
    print(
        f"{name}: fit {fit_seconds:.1f} s, recommend {row['recommend playlists/s']:.0f} playlists/s"
        + (f" ({row['recommend GFLOP/s']:.1f} GFLOP/s)" if flops is not None else "")
        + f", R-precision {row['r_precision']:.4f}",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playlists", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-category", type=int, default=100)
    parser.add_argument(
        "--dae-epochs", type=int, default=None, help="cap the DAE's epochs per network"
    )
    parser.add_argument(
        "--dae-configs",
        default=None,
        help="train only these DAE networks (comma-separated; the other categories are routed to "
        "the first): quicker when only recommend's speed is wanted",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch and implicit threads (default: all)"
    )
    parser.add_argument(
        "--models", default="implicit-als,item-knn,dae", help="which of implicit-als, item-knn, dae"
    )
    parser.add_argument("--square", type=int, default=2048, help="size of the square matmul peak")
    parser.add_argument("--out", type=Path, default=Path("als.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)

    train, queries, answers = held_out_split(args.playlists, args.seed, args.per_category)
    vocab = build_vocab(train)
    corpus = build_corpus(train, vocab)
    print(
        f"{len(corpus)} training playlists, {vocab.n_tracks} tracks, "
        f"{len(queries)} held-out playlists, {torch.get_num_threads()} threads"
    )
    dae_config = DAEConfig()
    if args.dae_epochs:
        dae_config.epochs = dae_config.tied_only_epochs = args.dae_epochs
    if args.dae_configs:
        dae_config.configs = tuple(args.dae_configs.split(","))
    als_config = ALSConfig()
    square = square_gflops(False, args.square)
    chosen = args.models.split(",")
    rows = []
    if "implicit-als" in chosen:
        rows.append(
            measure(
                "implicit-als",
                ImplicitALS(als_config),
                als_config.factors,
                corpus,
                vocab,
                queries,
                answers,
                implicit_flops,
                square,
            )
        )
    if "item-knn" in chosen:  # a sparse product: no dense FLOP count or peak
        rows.append(measure("item-knn (ours)", ItemKNN(), 0, corpus, vocab, queries, answers))
    if "dae" in chosen:
        rows.append(
            measure(
                "dae (ours)",
                DAE(dae_config),
                dae_config.hidden,
                corpus,
                vocab,
                queries,
                answers,
                dae_flops,
                square,
            )
        )
    table = pd.DataFrame(rows).set_index("model")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 4):
        print(table)
    with atomic_write(args.out) as f:
        ujson.dump(
            {
                "playlists": args.playlists,
                "seed": args.seed,
                "n_tracks": vocab.n_tracks,
                "queries": len(queries),
                "threads": torch.get_num_threads(),
                "square": args.square,
                "dae_epochs": args.dae_epochs,
                "dae_configs": args.dae_configs,
                "rows": table.reset_index().to_dict(orient="records"),
            },
            f,
            indent=1,
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
