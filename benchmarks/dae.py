"""DAE throughput on the CPU: training steps and scoring, as playlists/s and as a share of the matmul limit.

    python benchmarks/dae.py [--items 100000,700000] [--out dae_bench.json]

For each vocabulary size and precision (fp32, bf16) it times, on random playlists of MPD-like size
(~40 input entries, ~90 target items per playlist):
- train-exact: one step with the exact loss over every item (the reference) + fused Adam;
- train-sampled: one step with the loss on the batch's positives + sampled negatives + lazy Adam;
- train-head: the same plus the most frequent items summed exactly (DAEConfig's default head);
- score: encoder + sigmoid over every track, as `DAE.score` does it.
Beside each it times the bare matmuls of the same shapes in the same run (three for a training step:
logits, grad of hidden, grad of the weights; one for scoring): "matmul share" = that time / the step's,
the fraction of the step that is unavoidable matmul work.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import ujson

from mpd.atomic import atomic_write
from models.dae import (DAEConfig, LazyAdam, _Inputs, _NegativeSampler, _Net, _Targets, csr_inputs,
                        output_loss)

HIDDEN = 256


def random_batch(rng: np.random.Generator, rows: int, n_items: int, inputs: int, targets: int,
                 sampler: _NegativeSampler | None) -> tuple[_Inputs, _Targets]:
    """Inputs and targets of `rows` random playlists, popular items more likely (Zipf-like)."""
    def draw(k: int) -> np.ndarray:
        return np.minimum((n_items * rng.random(k) ** 3).astype(np.int64), n_items - 1)
    ids = draw(rows * inputs)
    weights = np.full(len(ids), 1 / np.sqrt(inputs), np.float32)
    batch_in = _Inputs(torch.from_numpy(ids), torch.arange(0, rows * inputs, inputs), torch.from_numpy(weights))
    pos_rows = np.repeat(np.arange(rows), targets)
    key = np.unique(pos_rows * n_items + draw(rows * targets))
    r, c = key // n_items, key % n_items
    order = np.lexsort((r, c))
    r, c = r[order], c[order]
    t = _Targets(torch.from_numpy(r), torch.from_numpy(c))
    if sampler is not None:
        positives, local = np.unique(c, return_inverse=True)
        negatives, weight = sampler.draw(positives, rng)
        t.columns = torch.from_numpy(np.concatenate([positives, negatives]))
        t.col_weight = torch.from_numpy(np.concatenate([np.ones(len(positives)), weight]).astype(np.float32))
        t.local = torch.from_numpy(local.astype(np.int64))
    return batch_in, t


def timed(fn, repeat: int) -> float:
    fn()                                     # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def matmuls(rows: int, cols: int, bf16: bool, train: bool, rank: int = HIDDEN) -> float:
    """Seconds of the bare matmuls of one step: [rows, rank] × [rank, cols] (and its two gradients)."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    h, w = torch.randn(rows, rank, dtype=dtype), torch.randn(cols, rank, dtype=dtype)
    g = torch.randn(rows, cols, dtype=dtype)

    def run():
        h @ w.T
        if train:
            g @ w
            g.T @ h
    return timed(run, 3)


def train_step(n_items: int, rows: int, bf16: bool, negatives: int, steps: int,
               head: int = 0) -> tuple[float, int]:
    """Seconds per training step (untied network) and the number of output columns it scores."""
    rng = np.random.default_rng(0)
    net = _Net(n_items, HIDDEN, torch.Generator().manual_seed(0))
    net.untie()
    sampler = _NegativeSampler(np.arange(n_items)[::-1].copy(), negatives, 0.5, head) if negatives else None
    opt = LazyAdam(net.parameters(), lr=0.005) if sampler else torch.optim.Adam(net.parameters(), lr=0.005,
                                                                                fused=True)
    batches = [random_batch(rng, rows, n_items, 40, 90, sampler) for _ in range(steps + 1)]
    it = iter(batches)

    def step():
        inputs, targets = next(it)
        hidden = net.encode(inputs, sparse_grad=sampler is not None)
        loss = output_loss(hidden, net, targets, 0.55, DAEConfig.chunk_items, bf16)
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = timed(step, steps)
    cols = n_items if sampler is None else int(np.mean([len(t.columns) for _, t in batches]))
    return seconds, cols


def score_step(n_items: int, rows: int, bf16: bool) -> float:
    import scipy.sparse as sp
    n_tracks = n_items // 2
    net = _Net(n_items, HIDDEN, torch.Generator().manual_seed(0)).eval()
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((np.ones(rows * 40, np.float32), rng.integers(0, n_items, rows * 40),
                       np.arange(0, rows * 40 + 1, 40)), shape=(rows, n_items))

    @torch.no_grad()
    def run():
        net.decode(net.encode(csr_inputs(x, "l2")), n_tracks, bf16)
    return timed(run, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="100000,700000", help="vocabulary sizes (tracks + artists)")
    parser.add_argument("--batch", type=int, default=DAEConfig.batch_size, help="training batch")
    parser.add_argument("--negatives", type=int, default=DAEConfig.negatives)
    parser.add_argument("--head", type=int, default=DAEConfig.head_negatives, help="exact head of train-head")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--score-batch", type=int, default=DAEConfig.score_batch)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per setting")
    parser.add_argument("--out", type=Path, default=Path("dae_bench.json"))
    args = parser.parse_args()
    rows = []
    for n_items in (int(n) for n in args.items.split(",")):
        for precision in args.precisions.split(","):
            bf16 = precision == "bf16"
            for mode, negatives, head in (("train-exact", 0, 0), ("train-sampled", args.negatives, 0),
                                          ("train-head", args.negatives, args.head)):
                seconds, cols = train_step(n_items, args.batch, bf16, negatives, args.steps, head)
                limit = matmuls(args.batch, cols, bf16, train=True)
                rows.append({"items": n_items, "precision": precision, "mode": mode, "batch": args.batch,
                             "columns": cols, "step_s": seconds, "playlists_per_s": args.batch / seconds,
                             "matmul_s": limit, "matmul_share": limit / seconds})
                print(rows[-1], flush=True)
            seconds = score_step(n_items, args.score_batch, bf16)
            limit = matmuls(args.score_batch, n_items // 2, bf16, train=False)
            rows.append({"items": n_items, "precision": precision, "mode": "score", "batch": args.score_batch,
                         "columns": n_items // 2, "step_s": seconds, "playlists_per_s": args.score_batch / seconds,
                         "matmul_s": limit, "matmul_share": limit / seconds})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(table.to_string(index=False))
    with atomic_write(args.out) as f:
        ujson.dump({"threads": torch.get_num_threads(), "hidden": HIDDEN, "results": rows}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
