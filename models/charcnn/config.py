"""Settings of the title model: `CNNConfig`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmcf.mpd.errors import UserError
from mmcf.mpd.titles import MODES

from ..training.device import check_device, resolve_device

TITLE_WEIGHTS = ("count", "sqrt", "one")


@dataclass
class CNNConfig:
    """Settings of the title model: MMCF's network, Adam lr 0.001 and batch 150. Ours by default
    (measured with benchmarks/titles.py): the Unicode normaliser, tracks-only outputs, a teacher
    averaged per distinct title, the title memory blended in. `CNNConfig.reference()` restores the
    published choices."""

    # "unicode" (ours) or "reference" (a–z 0–9 / < > + -, 25 characters)
    normalizer: str = "unicode"
    max_chars: int = 40  # longer titles are cut
    min_char_count: int = 2  # rarer characters map to the unknown id
    embedding: int = 50
    widths: tuple[int, ...] = (3, 5, 7, 9)
    filters: int = 100
    keep: float = 0.8  # dropout keep probability before the dense layer
    artists: bool = False  # also predict artists (the reference); tracks only is faster
    negative_weight: float = 0.55  # loss −Σ [y log p + w (1 − y) log(1 − p)], as the DAE
    title_weight: str = "count"  # weight of a distinct title in the loss: "count" | "sqrt" | "one"
    epochs: int = 0  # at most (early stopping on validation R-precision); 0 = by the data size
    patience: int = 2  # epochs without improvement before stopping
    lr: float = 0.001
    embedding_lr: float = 1.0  # the character embeddings' learning rate, times lr
    batch: int = 150  # distinct titles per step
    teacher: bool = True  # learn the trained DAE's outputs (`requires` the DAE); False: true items
    # playlists per title whose teacher targets are averaged; 0 = by the data size (all of them on
    # small data sets)
    teacher_rows: int = 0
    teacher_top: int = 5000  # largest entries kept of each title's mean teacher target
    # blend with the title memory for titles seen in training (0: CNN alone)
    memory_weight: float = 0.5
    memory_top: int = 1000  # tracks remembered per title
    chunk_items: int = 65536  # output items per chunk of the fused loss
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
        if self.normalizer not in MODES:
            raise UserError(
                f"unknown title normaliser {self.normalizer!r}; choose one of {', '.join(MODES)}"
            )
        check_device(self.device, "title model")
        if self.max_chars < max(self.widths):
            raise UserError(
                f"max_chars {self.max_chars} is shorter than the widest convolution "
                f"({max(self.widths)})"
            )
        if self.title_weight not in TITLE_WEIGHTS:
            raise UserError(
                f"unknown title weight {self.title_weight!r}; "
                f"choose one of {', '.join(TITLE_WEIGHTS)}"
            )

    @property
    def torch_device(self) -> torch.device:
        return resolve_device(self.device)

    @classmethod
    def reference(cls, **changes) -> "CNNConfig":
        """MMCF's published setting: the reference normaliser (titles cut at 25 characters), artists
        predicted, no title memory."""
        return cls(
            **{
                "normalizer": "reference",
                "max_chars": 25,
                "artists": True,
                "memory_weight": 0.0,
                **changes,
            }
        )


# The title model's work by the data size, bounded so that the default training fits 2 hours on
# 2 cores at MPD scale (README, "What each step needs at full scale"); neither binds at 100,000
# synthetic playlists.
BASE_EPOCHS, MIN_EPOCHS = 12, 2
EPOCH_CELLS = 3 * 10**10  # distinct titles × outputs × epochs
TEACHER_CELLS = 2**35  # playlists through the teacher × its outputs


def max_epochs(config: CNNConfig, titles: int, outputs: int) -> int:
    """The most epochs over `titles` distinct titles against `outputs` items."""
    if config.epochs:
        return config.epochs
    return max(MIN_EPOCHS, min(BASE_EPOCHS, EPOCH_CELLS // max(titles * outputs, 1)))


def teacher_rows(config: CNNConfig, title_sizes: np.ndarray, teacher_outputs: int) -> int:
    """Playlists per title through the teacher: `teacher_rows`, or by the data size all of them (0)
    while they fit TEACHER_CELLS, else the largest per-title cap that fits (at least 1)."""
    if config.teacher_rows:
        return config.teacher_rows
    budget = TEACHER_CELLS // max(teacher_outputs, 1)
    if title_sizes.sum() <= budget:
        return 0
    lo, hi = 1, int(title_sizes.max())
    while lo < hi:  # the largest cap k with Σ min(size, k) ≤ budget
        k = (lo + hi + 1) // 2
        lo, hi = (k, hi) if np.minimum(title_sizes, k).sum() <= budget else (lo, k - 1)
    return lo
