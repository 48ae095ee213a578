"""Data-parallel DAE training: 2 gloo processes on CPU reach what one process reaches with the same
global batch.

Exact equality is not expected: the two ranks' partial gradients are added in a different order than
one process adds the same terms (float sums are not associative). ATOL sits between that rounding
difference and the much larger one of training without the gradient sum (each rank alone on its half
of every batch).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from conftest import make_playlists
from mmcf.models import distributed
from mmcf.models.dae import DAE, DAEConfig
from mmcf.models.dae.training import DAETraining, shard
from mmcf.mpd.dataset import from_playlists
from mmcf.mpd.split import ValidationConfig

WORLD = 2
ATOL = 1e-4
NEGATIVES = (100, 0)  # sampled loss + lazy Adam (sparse gradients), exact loss + torch Adam (dense)


def tiny_data():
    training = from_playlists(
        make_playlists(339), validation=ValidationConfig(per_category=5, max_share=1)
    )
    return training.vocab, training.corpus, training.validation


def tiny_config(vocab, corpus, negatives: int) -> DAEConfig:
    """Network "5": 1 tied + 1 untied epoch, validated; batches of 32, the last of 1 row (one rank
    gets none)."""
    assert len(corpus) % 32 == 1
    small = dict(hidden=16, batch_size=32, epochs=2, tied_epochs=1, patience=9, chunk_items=256)
    return DAEConfig(configs=("5",), negatives=negatives, **small)


def weights(model: DAE) -> dict[str, torch.Tensor]:
    return model.nets["5"].tensors()


def _worker(rank: int, port: int, out_dir: str) -> None:
    """One rank: for each loss, train with a kill after epoch 1, resume to the end, save the
    weights."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        vocab, corpus, validation = tiny_data()
        epoch = DAETraining.epoch
        results = {}
        for negatives in NEGATIVES:
            config, ckpt = (
                tiny_config(vocab, corpus, negatives),
                Path(out_dir) / f"ckpt-{negatives}",
            )

            def killed_in_epoch_2(task, number):
                if number == 2:
                    raise KeyboardInterrupt
                return epoch(task, number)

            DAETraining.epoch = killed_in_epoch_2
            try:
                DAE(config).fit(corpus, vocab, validation, checkpoint_dir=ckpt)
            except KeyboardInterrupt:
                pass
            DAETraining.epoch = epoch
            model = DAE(config).fit(corpus, vocab, validation, checkpoint_dir=ckpt, resume=True)
            results[negatives] = {"weights": weights(model), "history": model.history["5"]}
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        distributed.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(out_dir: Path, timeout: float = 120) -> list[dict]:
    context = mp.spawn(_worker, args=(free_port(), str(out_dir)), nprocs=WORLD, join=False)
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=1):
            assert time.monotonic() < deadline, "distributed training hung"
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def test_two_gloo_processes_match_one_process(tmp_path):
    ranks = spawn(tmp_path)
    vocab, corpus, validation = tiny_data()
    for negatives in NEGATIVES:
        single = DAE(tiny_config(vocab, corpus, negatives)).fit(corpus, vocab, validation)
        ours, theirs = ranks[0][negatives], ranks[1][negatives]
        assert [h["epoch"] for h in ours["history"]] == [
            1,
            2,
        ]  # epoch 1 from the checkpoint, 2 resumed
        for name, expected in weights(single).items():
            assert torch.equal(ours["weights"][name], theirs["weights"][name]), (
                name
            )  # ranks stay identical
            diff = (ours["weights"][name] - expected).abs().max().item()
            assert diff < ATOL, (
                f"negatives={negatives} {name}: max |distributed − single| = {diff:.2e}"
            )
        for mine, one in zip(ours["history"], single.history["5"]):
            assert mine["loss"] == pytest.approx(one["loss"], rel=1e-4)
            assert mine["r_precision"] == pytest.approx(one["r_precision"], abs=0.005)
        assert ours["history"] == theirs["history"]
        written = sorted(p.name for p in (tmp_path / f"ckpt-{negatives}").iterdir())
        assert written == ["dae-5.best.pt", "dae-5.ckpt.pt"]  # rank 0's files, no stray temps


def test_shards_cover_each_batch_once(monkeypatch):
    assert shard(7) == (0, 7, 1.0)  # one process: the whole batch, weight 1
    for world, n in ((2, 7), (3, 2), (2, 1)):
        monkeypatch.setattr(distributed, "world_size", lambda: world)
        shards = []
        for rank in range(world):
            monkeypatch.setattr(distributed, "rank", lambda: rank)
            shards.append(shard(n))
        assert [i for lo, hi, share in shards if share > 0 for i in range(lo, hi)] == list(range(n))
        assert sum(share for *_, share in shards) == pytest.approx(1.0)
        assert all(hi > lo for lo, hi, _ in shards)  # every rank runs ≥ 1 row (weight 0 if spare)
