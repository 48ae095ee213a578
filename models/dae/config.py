"""Settings of the DAE: its four per-category networks (variants) and `DAEConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import InputWeights

from ..training.device import check_device


@dataclass(frozen=True)
class Variant:
    """One of the four per-category networks: which prefixes it trains on and what it serves."""

    name: str
    categories: tuple[int, ...]
    prefix: str  # "fraction" of the playlist, first "count" tracks, or the "whole" one
    low: float
    high: float
    keep: tuple[float, float]  # input keep probability, drawn U(low, high) per minibatch
    tied_only: bool = False


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("0to1", (1, 2), "fraction", 0.0, 0.3, (0.75, 0.75), tied_only=True),
        Variant("5", (3, 4), "count", 1, 50, (0.75, 0.75)),
        Variant("10to100", (5, 6, 7, 9), "fraction", 0.3, 0.6, (0.75, 0.75)),
        Variant("25to100random", (8, 10), "whole", 1.0, 1.0, (0.5, 0.8)),
    )
}
ALL_VARIANTS = tuple(VARIANTS)


@dataclass
class DAEConfig:
    """Settings of the DAE. `DAEConfig.reference()` is the published MMCF setting.

    The defaults depart from the reference where measurement said so: the loss on the batch's
    positives, the most frequent items (exact) and negatives sampled from the rest (re-weighted,
    unbiased) with lazy Adam; other learning rates and batch size; L2 instead of L1 row
    normalisation; the decoder bias at each item's log-odds; fewer epochs, early-stopped on
    validation R-precision. They were measured on a tuning split that no reported number comes from
    (`benchmarks/dae_ablation.py`); the figures are in `benchmarks/results/` and the README.
    """

    configs: tuple[str, ...] = ALL_VARIANTS  # which networks to train (the rest route to these)
    hidden: int = 256
    batch_size: int = 64
    # at most, tied + untied, per network; 0 = by the data size (`max_epochs`): 6, or more on small
    # data sets, enough for `min_steps` minibatches (at most 30); early stopping still applies
    epochs: int = 0
    min_steps: int = 1200
    # playlists per epoch, a fresh seeded sample each epoch when fewer than all; 0 = by the data
    # size: all of them, at most `EPOCH_SAMPLE` (larger data sets train on sampled epochs)
    epoch_playlists: int = 0
    tied_only_epochs: int = 10  # at most, for the tied-only network (0to1); 0 = `epochs`
    tied_epochs: int = 1  # pre-training epochs with tied weights before untying
    patience: int = 2  # stop after this many epochs without a better validation R-precision
    lr_tied: float = 0.03
    lr_untied: float = 0.015
    keep_hidden: float = 0.8
    neg_weight: float = 0.55
    norm: str = "l2"  # input row normalisation: "l1" (reference) or "l2"
    hide_and_seek: bool = True
    tied_pretrain: bool = True  # False: untied from a random start (tied-only networks stay tied)
    init_scale: float = 0.0  # std of the initial weights; 0 = Glorot uniform (the reference)
    bias_init: str = "prior"  # decoder bias: "zeros" (reference) or "prior" (log-odds of each item)
    bf16: bool = False  # bf16 matmuls (autocast-like) in training and scoring
    device: str = "auto"  # auto | cpu | cuda
    negatives: int = 4096  # sampled negative items per minibatch; 0 = exact loss over every item
    negative_power: float = 0.5  # negatives drawn ∝ (playlist count + 1) ** power
    # the most frequent items always in the loss (exact), the rest sampled
    head_negatives: int = 32768
    chunk_items: int = 32768  # output items per chunk of the exact loss
    score_batch: int = 512
    seed: int = 0
    inputs: InputWeights = field(default_factory=InputWeights)

    def __post_init__(self) -> None:
        self.configs = tuple(self.configs)
        if isinstance(self.inputs, dict):
            self.inputs = InputWeights(**self.inputs)
        unknown = [c for c in self.configs if c not in VARIANTS]
        if unknown or not self.configs:
            raise UserError(
                f"DAE configs {unknown or '()'} unknown; choose from {', '.join(ALL_VARIANTS)}"
            )
        if self.norm not in ("l1", "l2"):
            raise UserError(f"DAE norm must be 'l1' or 'l2', not {self.norm!r}")
        if self.bias_init not in ("zeros", "prior"):
            raise UserError(f"DAE bias_init must be 'zeros' or 'prior', not {self.bias_init!r}")
        check_device(self.device, "DAE")

    @classmethod
    def reference(cls, **changes) -> "DAEConfig":
        """The published setting: exact loss, batch 250, L1 input, zero bias, Adam 0.01 / 0.005, ~20
        epochs.

        The split of the 20 epochs into 10 tied + 10 untied is our assumption (not published).
        """
        values = dict(
            batch_size=250,
            norm="l1",
            bias_init="zeros",
            negatives=0,
            lr_tied=0.01,
            lr_untied=0.005,
            epochs=20,
            tied_epochs=10,
            patience=3,
        )
        return cls(**{**values, **changes})


BASE_EPOCHS, MAX_EPOCHS = 6, 30
# Past EPOCH_SAMPLE training playlists an epoch is a sample of that many, and a network's work
# (epochs × sample) shrinks from 6 × 200k at 200k playlists to 2 × 200k from 600k on, so that
# the default training fits 2 hours on 2 cores at MPD scale (README, "What each step needs at
# full scale")
EPOCH_SAMPLE, MIN_SAMPLED_EPOCHS = 200_000, 2


def epoch_size(config: DAEConfig, playlists: int) -> int:
    """Playlists in one epoch of a network trained on `playlists` training playlists."""
    return min(playlists, config.epoch_playlists or EPOCH_SAMPLE)


def max_epochs(config: DAEConfig, variant: Variant, playlists: int) -> int:
    """The most epochs one network trains on `playlists` training playlists."""
    tied_only = config.tied_only_epochs if variant.tied_only else 0
    if config.epochs:
        return tied_only or config.epochs
    base = tied_only or BASE_EPOCHS
    if playlists > EPOCH_SAMPLE:  # the work budget of large data sets, in playlists
        work = base * EPOCH_SAMPLE * EPOCH_SAMPLE / playlists
        return max(MIN_SAMPLED_EPOCHS, round(work / epoch_size(config, playlists)))
    steps_per_epoch = max(1, -(-epoch_size(config, playlists) // config.batch_size))
    by_size = min(MAX_EPOCHS, -(-config.min_steps // steps_per_epoch))
    return max(by_size, base)


def variant_for(query: Query) -> str:
    """The variant serving a query's category, or (no known category) the one for its shape."""
    for variant in VARIANTS.values():
        if query.category in variant.categories:
            return variant.name
    n = len(query.seeds)
    if n <= 1:
        return "0to1"
    if n < 10:
        return "5"
    return "10to100" if query.in_order else "25to100random"
