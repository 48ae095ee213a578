"""The epoch loop both neural models train with: early stopping, checkpoints, resume.

A model describes one training run as an `EpochTask` (its network, optimizer, one epoch,
validation); `train` runs the epochs until the budget is spent or validation R-precision has not
improved for `patience` epochs, keeps the best epoch's weights, and with a `Checkpoints` directory
writes a checkpoint (atomically, on rank 0) after the first epoch that ends at least
`$MMCF_CHECKPOINT_SECONDS` (default 300; 0: every epoch) after the last one was written, and after
the run's last epoch, so that an interrupted run of the same data and settings resumes after its
last saved epoch. At MPD scale an epoch is longer than that and every one is saved; short epochs
would otherwise spend a third of their time writing weights and Adam's moments. `fingerprint`
names what a checkpoint must match to be resumed.
"""

from __future__ import annotations

import abc
import dataclasses
import glob
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ujson

from mmcf.mpd.errors import UserError

from .. import distributed
from ..store import load_tensors, save_tensors
from ..allocator import reuse_freed_memory

log = logging.getLogger(__name__)

CHECKPOINT_ENV, CHECKPOINT_SECONDS = "MMCF_CHECKPOINT_SECONDS", 300.0


def checkpoint_seconds() -> float:
    """The least time between two checkpoints: `$MMCF_CHECKPOINT_SECONDS`, else 300."""
    chosen = os.environ.get(CHECKPOINT_ENV, "").strip()
    try:
        return max(float(chosen), 0.0) if chosen else CHECKPOINT_SECONDS
    except ValueError:
        raise UserError(
            f"{CHECKPOINT_ENV}={chosen!r}: expected a number of seconds (0: every epoch)"
        ) from None


@dataclass
class Progress:
    """Where a run stands after `epoch` epochs (saved in the checkpoint)."""

    epoch: int = 0
    best_epoch: int = 0
    best_score: float = -1.0  # the best validation R-precision (-1: none yet, or no validation)
    history: list = field(default_factory=list)  # the task's record of each epoch
    done: bool = False


class EpochTask(abc.ABC):
    """One training run of one network, as the trainer drives it."""

    label: str  # how the run is named in the log
    max_epochs: int
    patience: int  # epochs without a better validation R-precision before stopping
    min_epochs: int = 0  # no early stop before this many epochs
    validates: bool  # has validation queries (else every epoch counts as the best so far)

    def before_epoch(self, epoch: int) -> None:
        """Called before epoch `epoch` (1-based) runs."""

    @abc.abstractmethod
    def epoch(self, epoch: int) -> float:
        """Train epoch `epoch` (1-based); the mean loss."""

    @abc.abstractmethod
    def validate(self) -> float:
        """Validation R-precision of the network as it is now."""

    @abc.abstractmethod
    def record(self, epoch: int, loss: float, score: float | None) -> Any:
        """The history entry of an epoch."""

    @abc.abstractmethod
    def weights(self) -> dict:
        """A copy of the current weights."""

    @abc.abstractmethod
    def optimizer_state(self) -> dict:
        """The optimizer's state."""

    @abc.abstractmethod
    def restore(self, weights: dict, optimizer_state: dict) -> None:
        """Continue from saved weights and optimizer state."""


class Checkpoints:
    """STEM.ckpt.pt (the last saved epoch: weights, optimizer, progress) and STEM.best.pt (the best
    epoch's weights up to it) in a directory, written at most every `every` seconds.

    A finished run's STEM.ckpt.pt holds its progress alone: it resumes from STEM.best.pt, and a
    model of several networks (the DAE) keeps one network's optimizer state on disk, not all.
    New best weights are written as STEM.best.EPOCH.pt and become STEM.best.pt only once the
    checkpoint naming that epoch is written, so a crash in between never pairs the two wrongly.
    """

    def __init__(self, directory: str | Path, stem: str, every: float | None = None) -> None:
        self.stem = stem
        self.last = Path(directory) / f"{stem}.ckpt.pt"
        self.best = Path(directory) / f"{stem}.best.pt"
        self.every = checkpoint_seconds() if every is None else every
        self.saved_at = time.monotonic()
        self.best_saved = 0  # the epoch whose weights STEM.best.pt holds (0: none)

    def exists(self) -> bool:
        return self.last.exists()

    def due(self, progress: Progress) -> bool:
        """Whether the epoch just finished is saved: the run's last, or `every` seconds on."""
        return progress.done or time.monotonic() - self.saved_at >= self.every

    def save(self, task: EpochTask, progress: Progress, best: dict, fingerprint: str) -> None:
        """The best weights (if they changed since the last save), then the last epoch's state."""
        if distributed.is_main():
            new_best = progress.best_epoch != self.best_saved
            if new_best:
                save_tensors(self.pending(progress.best_epoch), best)
            state = {"progress": dataclasses.asdict(progress), "fingerprint": fingerprint}
            if not progress.done:
                state.update(weights=task.weights(), optimizer=task.optimizer_state())
            save_tensors(self.last, state)
            if new_best:
                os.replace(self.pending(progress.best_epoch), self.best)
        self.best_saved, self.saved_at = progress.best_epoch, time.monotonic()

    def pending(self, epoch: int) -> Path:
        """Where epoch `epoch`'s best weights wait for the checkpoint that names them."""
        return self.best.with_name(f"{self.stem}.best.{epoch}.pt")

    def settle(self, best_epoch: int) -> None:
        """Finish a save cut short: the pending best weights the checkpoint names become
        STEM.best.pt; any other pending weights (written before a crash, unnamed) are dropped."""
        pending = re.compile(re.escape(self.stem) + r"\.best\.\d+\.pt")
        for path in self.best.parent.glob(f"{glob.escape(self.stem)}.best.*.pt"):
            if path == self.pending(best_epoch):
                os.replace(path, self.best)
            elif pending.fullmatch(path.name):
                path.unlink()

    def restore(self, task: EpochTask, fingerprint: str) -> tuple[Progress, dict]:
        """The saved progress and best weights; the task continues from the last epoch."""
        if not self.last.exists():
            raise UserError(
                f"{self.last}: rank {distributed.rank()} cannot see rank 0's checkpoint; with "
                "several machines the model directory must be on a shared filesystem"
            )
        saved = load_tensors(self.last)
        if saved.get("fingerprint") != fingerprint:
            raise UserError(
                f"{self.last}: checkpoint of a different training run (other data or settings); "
                "remove the checkpoint directory or train without --resume"
            )
        progress = Progress(**saved["progress"])
        distributed.from_main(lambda: self.settle(progress.best_epoch))
        if not progress.done:
            task.restore(saved["weights"], saved["optimizer"])
        best = load_tensors(self.best) if self.best.exists() else task.weights()
        self.best_saved = progress.best_epoch
        log.info(
            "%s: resuming after epoch %d (best %.4f at epoch %d)",
            task.label,
            progress.epoch,
            progress.best_score,
            progress.best_epoch,
        )
        return progress, best


def train(
    task: EpochTask,
    checkpoints: Checkpoints | None = None,
    resume: bool = False,
    fingerprint: str = "",
) -> tuple[Progress, dict]:
    """Run the task's epochs; its progress and the best epoch's weights (the last without
    validation)."""
    progress, best = Progress(), task.weights()
    if resume and checkpoints is not None and distributed.from_main(checkpoints.exists):
        progress, best = checkpoints.restore(task, fingerprint)
        if progress.done:
            log.info("%s: already trained (checkpoint %s)", task.label, checkpoints.last)
    while not progress.done and progress.epoch < task.max_epochs:
        epoch = progress.epoch + 1
        start = time.perf_counter()
        task.before_epoch(epoch)
        with reuse_freed_memory():
            loss = task.epoch(epoch)
        score = distributed.from_main(task.validate) if task.validates else None
        progress.history.append(task.record(epoch, loss, score))
        if distributed.is_main():
            log.info(
                "%s epoch %d: loss %.3f, validation R-precision %s (%.1fs)",
                task.label,
                epoch,
                loss,
                "-" if score is None else f"{score:.4f}",
                time.perf_counter() - start,
            )
        progress.epoch = epoch
        if score is None or score > progress.best_score:
            progress.best_epoch = epoch
            progress.best_score = progress.best_score if score is None else score
            best = task.weights()
        stale = epoch - progress.best_epoch
        progress.done = epoch >= task.max_epochs or (
            stale >= task.patience and epoch >= task.min_epochs
        )
        if checkpoints is not None and checkpoints.due(progress):
            checkpoints.save(task, progress, best, fingerprint)
    return progress, best


def settings(config: Any, ignore: tuple[str, ...] = ("device",)) -> dict:
    """A config dataclass as plain data, without the fields that do not change what is trained."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in ignore}


def fingerprint(*parts: Any) -> str:
    """SHA-1 of a run's inputs: arrays by their bytes, strings as UTF-8, anything else as JSON."""
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(part.tobytes())
        elif isinstance(part, str):
            digest.update(part.encode())
        else:
            digest.update(ujson.dumps(part).encode())
    return digest.hexdigest()
