"""Training of the title network as an epoch task of the shared trainer.

One step per batch of distinct titles; the dense layer and its loss run in one fused pass over item
chunks (`models/training/losses.py`) against the sparse per-title targets.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from tqdm import tqdm

from mmcf.mpd.challenge import Query
from mmcf.mpd.matrix import PlaylistCorpus, item_matrix
from mmcf.mpd.metrics import Answer
from mmcf.mpd.vocab import Vocab

from ..training.losses import SparseTargets, output_loss
from ..training.trainer import EpochTask
from ..validation import Scores, r_precision
from .config import CNNConfig, max_epochs
from .network import TitleNet, trim


class TitleTraining(EpochTask):
    """The title network's run: seeded epochs over the distinct titles, validation on titles
    alone."""

    label = "title model"

    def __init__(
        self,
        config: CNNConfig,
        net: TitleNet,
        ids: np.ndarray,
        weights: np.ndarray,
        targets: sp.csr_matrix,
        validation: tuple[Sequence[Query], dict[int, Answer]],
        scores: Scores,
        usable: Callable[[str | None], bool],
        vocab: Vocab,
    ) -> None:
        """`ids`, `weights`, `targets`: the distinct titles' characters, loss weights and targets;
        `scores` ranks the validation queries by the model being trained, of which those whose title
        is `usable` are validated."""
        self.cfg, self.net, self.vocab = config, net, vocab
        self.ids, self.title_weights, self.targets = ids, weights, targets
        self.queries, self.answers = validation
        self.scores, self.usable = scores, usable
        self.validates = bool(self.queries)
        self.max_epochs = max_epochs(config, len(ids), targets.shape[1])
        self.patience = config.patience
        self.optimizer = self.new_optimizer()

    def new_optimizer(self) -> torch.optim.Optimizer:
        """Adam; the character embeddings may take a larger step (a rare character is in few
        batches)."""
        embed = list(self.net.embed.parameters())
        rest = [p for name, p in self.net.named_parameters() if not name.startswith("embed.")]
        cfg = self.cfg
        return torch.optim.Adam(
            [{"params": rest}, {"params": embed, "lr": cfg.lr * cfg.embedding_lr}],
            lr=cfg.lr,
            fused=True,
        )

    def epoch(self, epoch: int) -> float:
        """One pass over the distinct titles in a seeded order; the mean weighted loss."""
        cfg, net, device = self.cfg, self.net, self.cfg.torch_device
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        net.train()
        order = rng.permutation(len(self.ids))
        total = 0.0
        for start in tqdm(range(0, len(order), cfg.batch), desc=f"cnn epoch {epoch}", leave=False):
            batch = order[start : start + cfg.batch]
            x = torch.from_numpy(trim(self.ids[batch], max(cfg.widths))).to(device)
            y = SparseTargets.of(self.targets[batch], device)
            w = torch.from_numpy(self.title_weights[batch] / len(batch)).to(device)
            out = net.out
            loss = output_loss(
                net.features(x),
                out.weight,
                out.bias,
                y,
                cfg.negative_weight,
                cfg.chunk_items,
                row_weights=w,
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(batch)
        return total / len(order)

    def validate(self) -> float:
        usable = [q for q in self.queries if self.usable(q.title)]
        return r_precision(self.scores, usable, self.answers, self.vocab, batch_size=256)

    def record(self, epoch: int, loss: float, score: float | None) -> float | None:
        return score

    def weights(self) -> dict:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def optimizer_state(self) -> dict:
        return self.optimizer.state_dict()

    def restore(self, weights: dict, optimizer_state: dict) -> None:
        self.net.load_state_dict(weights)
        self.optimizer.load_state_dict(optimizer_state)


def init_bias(
    net: TitleNet, corpus: PlaylistCorpus, vocab: Vocab, rows: np.ndarray, negative_weight: float
) -> None:
    """Start at the best constant prediction: each item's playlist share under the weighted loss."""
    n_outputs = net.out.bias.shape[0]
    share = np.asarray(item_matrix(corpus, vocab, rows).mean(axis=0)).ravel()[:n_outputs]
    w = negative_weight
    p = np.clip(share / (share + w * (1 - share)), 1e-6, 1 - 1e-6)
    with torch.no_grad():
        net.out.bias.copy_(torch.from_numpy(np.log(p / (1 - p))).float())
