"""DAE throughput on the CPU: training steps and scoring, as playlists/s and achieved GFLOP/s
against matmul peaks.

    python benchmarks/dae.py [--items 100000,700000] [--threads N] [--rounds R] [--out F.json]

For each vocabulary size and precision (fp32, bf16) it times, on random playlists of MPD-like size
(~40 input entries, ~90 target items per playlist):
- train-exact: one step with the exact loss over every item (the reference) + fused Adam;
- train-sampled: one step with the loss on the batch's positives + sampled negatives + lazy Adam;
- train-head: the same plus the most frequent items summed exactly (DAEConfig's default head);
- train-head-torch-adam: the same step with lazy Adam on torch's fused kernel (the head's runs in
  place, the other rows gathered and written back: before this release; now a compiled kernel
  updates every row in place, `models/training/native_adam.py`): the baseline of the row above,
  timed in the same run;
- score: encoder + sigmoid over every track, as `DAE.score` does it.
With `--rounds R` every mode is timed R times round-robin and its fastest round kept (a shared
machine's noise only ever slows a run down).

FLOPs are counted as 2·m·n·k per matmul-like product: a training step's decoder costs 3 matmuls of
[batch × hidden] by [hidden × C] (logits, grad of hidden, grad of the decoder weights) =
6·batch·hidden·C, where C is the number of output columns the step actually computes (every item for
the exact loss; the positives + head + sampled negatives of each timed batch, averaged, for the
sampled loss); the sparse encoder adds 2·nnz·hidden forward and 2·nnz·hidden for its weight gradient
(nnz = input entries). Scoring costs 2·batch·hidden·tracks + 2·nnz·hidden. Element-wise work
(sigmoids, the loss, Adam) is not counted: it is overhead, not useful FLOPs.

Per row it reports:
- GFLOP/s: the counted FLOPs / the measured time of the whole step;
- "of matmul peak": that / the GFLOP/s of the bare dense matmuls of the same shapes and precision
  ([batch × hidden] × [hidden × C], and for training its two gradient matmuls), timed in the same
  run under the step's allocator settings, in the faster of the two output layouts (the fastest of
  5: a peak; before, the mean of 3 in one layout, timed outside `reuse_freed_memory`, gave identical
  shapes peaks 2× apart and inflated some ratios): the fraction of what plain matmuls reach at these
  shapes;
- "of square peak": that / the GFLOP/s of a large square matmul (--square, default 2048³) of the
  same precision timed in the same run (best of 5): the fraction of what this CPU reaches on a
  matmul at all;
- "share of time in matmuls": the bare matmuls' time / the step's time (what this script called the
  "roofline" before). It equals "of matmul peak" up to the encoder's FLOPs (same work counted both
  ways), so the new information is in the GFLOP/s and the square-peak column.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import ujson

from mmcf.mpd.atomic import atomic_write
from mmcf.models.dae import DAEConfig
from mmcf.models.dae.batches import Inputs, NegativeSampler, binary_targets, csr_inputs
from mmcf.models.dae.network import DAENet
from mmcf.models.allocator import reuse_freed_memory
from mmcf.models.training.lazy_adam import LazyAdam
from mmcf.models.training.losses import SparseTargets

HIDDEN = 256
# untimed training steps first: the heap grows over the first few (page faults; at 946,331 outputs
# steps 1–5 took 1.3–3× a later one), an epoch of thousands of steps runs at the steady rate
WARMUP_STEPS = 5


def random_batch(
    rng: np.random.Generator,
    rows: int,
    n_items: int,
    inputs: int,
    targets: int,
    sampler: NegativeSampler | None,
) -> tuple[Inputs, SparseTargets]:
    """Inputs and targets of `rows` random playlists, popular items more likely (Zipf-like)."""

    def draw(k: int) -> np.ndarray:
        return np.minimum((n_items * rng.random(k) ** 3).astype(np.int64), n_items - 1)

    ids = draw(rows * inputs)
    weights = np.full(len(ids), 1 / np.sqrt(inputs), np.float32)
    batch_in = Inputs(
        torch.from_numpy(ids), torch.arange(0, rows * inputs, inputs), torch.from_numpy(weights)
    )
    pos_rows = np.repeat(np.arange(rows), targets)
    key = np.unique(pos_rows * n_items + draw(rows * targets))
    r, c = key // n_items, key % n_items
    order = np.lexsort((r, c))
    return batch_in, binary_targets(r[order], c[order], sampler, rng)


def timed(fn, repeat: int, warmup: int = 1) -> float:
    """Mean seconds of `fn` over `repeat` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def fastest(fn, tries: int = 5) -> float:
    """Seconds of the fastest of `tries` calls after a warm-up: a peak (on a shared machine the
    mean would measure the other jobs)."""
    fn()  # warm-up
    times = []
    for _ in range(tries):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_flops(rows: int, cols: int, train: bool, rank: int = HIDDEN) -> float:
    """FLOPs of `matmuls`: 2·rows·rank·cols, three times for a training step."""
    return (3 if train else 1) * 2.0 * rows * rank * cols


def square_gflops(bf16: bool, n: int, tries: int = 5) -> float:
    """GFLOP/s of one [n × n] × [n × n] matmul in the given precision, the fastest of `tries`."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2.0 * n**3 / fastest(lambda: a @ b, tries) / 1e9


def matmuls(rows: int, cols: int, bf16: bool, train: bool, rank: int = HIDDEN) -> float:
    """Seconds of the bare matmuls of one step: [rows, rank] × [rank, cols] (and its two
    gradients), the fastest of 5 in the faster of the two layouts (rows × cols outputs as the
    scoring does them, or cols × rows as the sampled loss does): a peak, as `square_gflops`.
    Training steps run inside `reuse_freed_memory`, so their matmuls are timed there too: outside
    it glibc maps and page-faults every output over 32 MB afresh (the decoder gradient at MPD size),
    which halved the peak of some rows and not others."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    h, w = torch.randn(rows, rank, dtype=dtype), torch.randn(cols, rank, dtype=dtype)
    g = torch.randn(rows, cols, dtype=dtype)
    gt = g.T.contiguous()

    def by_rows():
        h @ w.T
        if train:
            g @ w
            g.T @ h

    def by_columns():
        w @ h.T
        if train:
            gt.T @ w
            gt @ h

    with reuse_freed_memory() if train else contextlib.nullcontext():
        return min(fastest(by_rows), fastest(by_columns))


def train_step(
    n_items: int,
    rows: int,
    bf16: bool,
    negatives: int,
    steps: int,
    head: int = 0,
    native: bool = True,
) -> tuple[float, float, float]:
    """Seconds per training step (untied network), the mean output columns it computes, its
    FLOPs."""
    rng = np.random.default_rng(0)
    net = DAENet(n_items, HIDDEN, torch.Generator().manual_seed(0))
    net.untie()
    sampler = (
        NegativeSampler(np.arange(n_items)[::-1].copy(), negatives, 0.5, head)
        if negatives
        else None
    )
    opt = (
        LazyAdam(net.parameters(), lr=0.005, native=native)
        if sampler
        else torch.optim.Adam(net.parameters(), lr=0.005, fused=True)
    )
    batches = [
        random_batch(rng, rows, n_items, 40, 90, sampler) for _ in range(steps + WARMUP_STEPS)
    ]
    it = iter(batches)

    def step():
        inputs, targets = next(it)
        hidden = net.encode(inputs, sparse_grad=sampler is not None)
        loss = net.loss(hidden, targets, 0.55, DAEConfig.chunk_items, bf16)
        opt.zero_grad()
        loss.backward()
        opt.step()

    with reuse_freed_memory():  # as the trainer runs an epoch
        seconds = timed(step, steps, WARMUP_STEPS)
    timed_batches = batches[WARMUP_STEPS:]
    cols = float(
        np.mean([n_items if t.columns is None else len(t.columns) for _, t in timed_batches])
    )
    nnz = float(np.mean([len(i.ids) for i, _ in timed_batches]))
    flops = 6.0 * rows * HIDDEN * cols + 4.0 * nnz * HIDDEN
    return seconds, cols, flops


def score_step(n_items: int, rows: int, bf16: bool) -> tuple[float, float]:
    """Seconds to score one batch over every track (the first half of the items), and its FLOPs."""
    import scipy.sparse as sp

    n_tracks = n_items // 2
    net = DAENet(n_items, HIDDEN, torch.Generator().manual_seed(0)).eval()
    rng = np.random.default_rng(0)
    x = sp.csr_matrix(
        (
            np.ones(rows * 40, np.float32),
            rng.integers(0, n_items, rows * 40),
            np.arange(0, rows * 40 + 1, 40),
        ),
        shape=(rows, n_items),
    )

    @torch.no_grad()
    def run():
        net.decode(net.encode(csr_inputs(x, "l2")), n_tracks, bf16)

    return timed(run, 3), 2.0 * rows * HIDDEN * n_tracks + 2.0 * x.nnz * HIDDEN


def measured(
    row: dict, seconds: float, flops: float, matmul_s: float, matmul_flops_: float, square: float
) -> dict:
    """The row with its time, achieved GFLOP/s and the ratios to the two matmul peaks."""
    gflops, peak = flops / seconds / 1e9, matmul_flops_ / matmul_s / 1e9
    return row | {
        "step_s": seconds,
        "playlists_per_s": row["batch"] / seconds,
        "gflop": flops / 1e9,
        "gflops": gflops,
        "matmul_s": matmul_s,
        "matmul_gflops": peak,
        "of_matmul_peak": gflops / peak,
        "square_gflops": square,
        "of_square_peak": gflops / square,
        "share_of_time_in_matmuls": matmul_s / seconds,
    }


def measure_size(args: argparse.Namespace, n_items: int, precision: str) -> list[dict]:
    """Every mode at one vocabulary size and precision, `--rounds` times round-robin: each mode's
    fastest round, against the fastest bare matmuls of its shapes over every round (the modes
    train-head and train-head-torch-adam share their shapes, so they share one peak)."""
    bf16 = precision == "bf16"
    square = max(square_gflops(bf16, args.square) for _ in range(args.rounds))
    train_modes = {
        "train-exact": (0, 0, True),
        "train-sampled": (args.negatives, 0, True),
        "train-head": (args.negatives, args.head, True),
        "train-head-torch-adam": (args.negatives, args.head, False),
    }
    best: dict[str, tuple[float, float, float]] = {}  # mode -> (seconds, columns, FLOPs)
    peak: dict[tuple[int, bool], float] = {}  # (columns, train) -> bare matmul seconds
    for _ in range(args.rounds):
        for mode, (negatives, head, native) in train_modes.items():
            timing = train_step(n_items, args.batch, bf16, negatives, args.steps, head, native)
            best[mode] = min(best.get(mode, timing), timing)
            shape = (round(timing[1]), True)
            peak[shape] = min(peak.get(shape, np.inf), matmuls(args.batch, shape[0], bf16, True))
            print(
                f"{n_items} {precision} {mode}: {args.batch / timing[0]:.1f} playlists/s",
                flush=True,
            )
        seconds, flops = score_step(n_items, args.score_batch, bf16)
        timing = (seconds, n_items // 2, flops)
        best["score"] = min(best.get("score", timing), timing)
        shape = (n_items // 2, False)
        peak[shape] = min(peak.get(shape, np.inf), matmuls(args.score_batch, shape[0], bf16, False))
    rows = []
    for mode, (seconds, cols, flops) in best.items():
        train = mode != "score"
        batch = args.batch if train else args.score_batch
        columns = round(cols)
        row = {
            "items": n_items,
            "precision": precision,
            "mode": mode,
            "batch": batch,
            "columns": cols,
        }
        rows.append(
            measured(
                row,
                seconds,
                flops,
                peak[columns, train],
                matmul_flops(batch, columns, train),
                square,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--items", default="100000,700000", help="vocabulary sizes (tracks + artists)"
    )
    parser.add_argument("--batch", type=int, default=DAEConfig.batch_size, help="training batch")
    parser.add_argument("--negatives", type=int, default=DAEConfig.negatives)
    parser.add_argument(
        "--head", type=int, default=DAEConfig.head_negatives, help="exact head of train-head"
    )
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--score-batch", type=int, default=DAEConfig.score_batch)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per setting")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure every mode this many times, keep the fastest"
    )
    parser.add_argument("--square", type=int, default=2048, help="size of the square matmul peak")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--out", type=Path, default=Path("dae_bench.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for n_items in (int(n) for n in args.items.split(",")):
        for precision in args.precisions.split(","):
            rows += measure_size(args, n_items, precision)
    print_table(rows)
    with atomic_write(args.out) as f:
        ujson.dump(
            {
                "threads": torch.get_num_threads(),
                "steps": args.steps,
                "rounds": args.rounds,
                "hidden": HIDDEN,
                "square": args.square,
                "flops": "2*m*n*k per matmul; train: 6*batch*hidden*columns + 4*nnz*hidden; "
                "score: 2*batch*hidden*tracks + 2*nnz*hidden",
                "results": rows,
            },
            f,
            indent=1,
        )
    print(f"wrote {args.out}")


def print_table(rows: list[dict]) -> None:
    table = pd.DataFrame(rows)
    out = pd.DataFrame(
        {
            "items": table["items"],
            "precision": table["precision"],
            "mode": table["mode"],
            "columns": table["columns"].round().astype(int),
            "playlists/s": table["playlists_per_s"].round(1),
            "GFLOP/step": table["gflop"].round(3),
            "GFLOP/s": table["gflops"].round(1),
            "matmul GFLOP/s (same shapes)": table["matmul_gflops"].round(1),
            "of matmul peak": (100 * table["of_matmul_peak"]).round(1).astype(str) + "%",
            "square GFLOP/s": table["square_gflops"].round(1),
            "of square peak": (100 * table["of_square_peak"]).round(1).astype(str) + "%",
            "share of time in matmuls": (100 * table["share_of_time_in_matmuls"])
            .round(1)
            .astype(str)
            + "%",
        }
    )
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(out.to_string(index=False))


if __name__ == "__main__":
    main()
