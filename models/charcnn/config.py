"""Settings of the title model: `CNNConfig`."""

from __future__ import annotations

from dataclasses import dataclass

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
    epochs: int = 12  # at most; early stopping on validation R-precision
    patience: int = 2  # epochs without improvement before stopping
    lr: float = 0.001
    embedding_lr: float = 1.0  # the character embeddings' learning rate, times lr
    batch: int = 150  # distinct titles per step
    teacher: bool = True  # learn the trained DAE's outputs (`requires` the DAE); False: true items
    teacher_rows: int = 0  # playlists per title whose teacher targets are averaged (0: all of them)
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
