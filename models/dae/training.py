"""Training of one DAE network (a variant) as an epoch task of the shared trainer.

Under torchrun (WORLD_SIZE > 1) the processes train data-parallel: see `DAETraining.epoch`.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from mmcf.mpd.challenge import Query
from mmcf.mpd.matrix import query_matrix
from mmcf.mpd.vocab import Vocab

from .. import distributed
from ..training.lazy_adam import LazyAdam
from ..training.trainer import EpochTask
from ..validation import r_precision
from .batches import NegativeSampler, TrainingData
from .config import DAEConfig, Variant, epoch_size, max_epochs
from .network import DAENet


def seeded_generator(*seeds: int) -> torch.Generator:
    """A torch generator seeded from a sequence of integers."""
    return torch.Generator().manual_seed(
        int(np.random.SeedSequence(list(seeds)).generate_state(1)[0])
    )


def shard(n: int) -> tuple[int, int, float]:
    """This rank's rows lo..hi-1 of a minibatch of n, and its share of the batch (its loss weight).

    A rank left without rows (n < world size) runs row 0 with weight 0: its gradients are zero but
    have the layout of everyone else's, so the gradient sum stays in step.
    """
    world, rank = distributed.world_size(), distributed.rank()
    lo, hi = n * rank // world, n * (rank + 1) // world
    return (lo, hi, (hi - lo) / n) if hi > lo else (0, 1, 0.0)


class DAETraining(EpochTask):
    """One network's run: tied pre-training, untying, epochs of prefix batches, validation."""

    def __init__(
        self,
        config: DAEConfig,
        variant: Variant,
        index: int,
        data: TrainingData,
        vocab: Vocab,
        queries: list[Query],
        answers: dict,
        device: torch.device,
    ) -> None:
        self.cfg, self.variant, self.index, self.data, self.vocab = (
            config,
            variant,
            index,
            data,
            vocab,
        )
        self.queries, self.answers, self.device = queries, answers, device
        self.label = f"DAE {variant.name}"
        self.validates = bool(queries)
        self.patience = config.patience
        self.max_epochs = max_epochs(config, variant, data.targets.shape[0])
        self.tied_epochs = self.min_epochs = (
            self.max_epochs
            if variant.tied_only
            else (config.tied_epochs if config.tied_pretrain else 0)
        )
        self.sampler = (
            NegativeSampler(
                np.bincount(data.targets.indices, minlength=data.targets.shape[1]),
                config.negatives,
                config.negative_power,
                config.head_negatives,
            )
            if config.negatives
            else None
        )
        self.net = self.new_net()
        self.opt = self.optimizer(self.net)

    def new_net(self) -> DAENet:
        cfg = self.cfg
        net = DAENet(
            self.data.targets.shape[1],
            cfg.hidden,
            seeded_generator(cfg.seed, self.index, 0),
            cfg.init_scale,
        )
        if cfg.bias_init == "prior":
            freq = (np.bincount(self.data.targets.indices, minlength=net.b_dec.shape[0]) + 0.5) / (
                len(self.data) + 1
            )
            net.b_dec.data = torch.from_numpy(np.log(freq / (1 - freq)).astype(np.float32))
        if self.tied_epochs == 0:
            net.untie()
        return net.to(self.device)

    def optimizer(self, net: DAENet) -> "torch.optim.Optimizer | LazyAdam":
        lr = self.cfg.lr_tied if net.tied else self.cfg.lr_untied
        if self.sampler is not None:
            return LazyAdam(net.parameters(), lr=lr)
        return torch.optim.Adam(net.parameters(), lr=lr, fused=True)

    # ---- the trainer's calls

    def before_epoch(self, epoch: int) -> None:
        if epoch - 1 == self.tied_epochs and self.net.tied:
            self.net.untie()
            self.opt = self.optimizer(self.net)

    def epoch(self, epoch: int) -> float:
        """One pass over the data (or a fresh sample of it: `epoch_size`); the mean minibatch loss.

        Data-parallel: every rank draws the same permutation, batches, corruption and sampled
        negatives (same seeded generators), runs the network on its own slice of each batch, and the
        gradients are summed over the ranks with each slice's loss weighted by its share of the
        batch, so a step is the single-process step on the whole batch (up to float rounding).
        """
        cfg, device, net, opt = self.cfg, self.device, self.net, self.opt
        rng = np.random.default_rng([cfg.seed, self.index, epoch])
        gen = seeded_generator(cfg.seed, self.index, epoch, 1)
        order = rng.permutation(len(self.data))[: epoch_size(cfg, len(self.data))]
        batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        net.train()
        quiet = {} if distributed.is_main() else {"disable": True}  # progress bar on rank 0 only
        desc = f"dae {self.variant.name} epoch {epoch}"
        total, bar = 0.0, tqdm(batches, desc=desc, leave=False, unit=" batches", **quiet)
        for step, batch in enumerate(bar):
            inputs = self.data.inputs(batch, self.variant, rng, cfg.hide_and_seek, cfg.norm)
            targets = self.data.batch_targets(batch, self.sampler, rng)
            mask = torch.bernoulli(
                torch.full((len(batch), cfg.hidden), cfg.keep_hidden), generator=gen
            )
            lo, hi, share = shard(len(batch))
            hidden = net.encode(
                inputs.select(lo, hi).to(device), sparse_grad=self.sampler is not None
            )
            hidden = hidden * (mask[lo:hi] / cfg.keep_hidden).to(device)
            targets = targets.select(lo, hi).to(device)
            loss = net.loss(hidden, targets, cfg.neg_weight, cfg.chunk_items, cfg.bf16) * share
            opt.zero_grad(set_to_none=True)
            loss.backward()
            distributed.sum_gradients(net.parameters())
            opt.step()
            total += loss.detach().item()
            if step % 20 == 0:  # this rank's rows, scaled up to the whole batch
                bar.set_postfix(loss=f"{total * distributed.world_size() / (step + 1):.2f}")
        return distributed.sum_value(total) / max(len(batches), 1)

    def validate(self) -> float:
        self.net.eval()
        return r_precision(self.scores, self.queries, self.answers, self.vocab)

    def scores(self, queries: list[Query]) -> torch.Tensor:
        """Track scores of the network as it is now."""
        inputs = query_matrix(queries, self.vocab, self.cfg.inputs)
        cfg = self.cfg
        return self.net.predict(
            inputs, cfg.norm, self.device, self.vocab.n_tracks, cfg.score_batch, cfg.bf16
        )

    def record(self, epoch: int, loss: float, score: float | None) -> dict:
        return {"epoch": epoch, "tied": self.net.tied, "loss": loss, "r_precision": score}

    def weights(self) -> dict:
        return self.net.tensors()

    def optimizer_state(self) -> dict:
        return self.opt.state_dict()

    def restore(self, weights: dict, optimizer_state: dict) -> None:
        net = self.new_net()
        net.assign(weights)
        self.net = net.to(self.device)
        self.opt = self.optimizer(self.net)
        self.opt.load_state_dict(optimizer_state)

    def final_net(self, best: dict) -> DAENet:
        """A network with the given weights, for scoring."""
        return DAENet.holding(best).to(self.device).eval()
