"""The epoch loop's checkpoints: written at most every `every` seconds and after the last epoch, and
a run resumed from an older checkpoint ends where an uninterrupted one does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from mmcf.models.store import load_tensors
from mmcf.models.training import trainer
from mmcf.models.training.trainer import Checkpoints, EpochTask, checkpoint_seconds, train
from mmcf.mpd.errors import UserError

SCORES = [0.1, 0.3, 0.2, 0.4, 0.35]  # validation R-precision by epoch: best at 2, then at 4


class Counting(EpochTask):
    """A one-number 'network' that adds the epoch number; validation scores from SCORES."""

    label, patience, validates = "counting", 9, True

    def __init__(self, kill_at: int = 0) -> None:
        self.max_epochs, self.kill_at = len(SCORES), kill_at
        self.value, self.steps, self.epochs_run = torch.zeros(1), torch.zeros(1), []

    def epoch(self, epoch: int) -> float:
        if epoch == self.kill_at:
            raise KeyboardInterrupt
        self.value += epoch
        self.steps += 1
        self.epochs_run.append(epoch)
        return 0.0

    def validate(self) -> float:
        return SCORES[self.epochs_run[-1] - 1]

    def record(self, epoch: int, loss: float, score: float | None) -> dict:
        return {"epoch": epoch, "score": score}

    def weights(self) -> dict:
        return {"value": self.value.clone()}

    def optimizer_state(self) -> dict:
        return {"steps": self.steps.clone()}

    def restore(self, weights: dict, optimizer_state: dict) -> None:
        self.value, self.steps = weights["value"].clone(), optimizer_state["steps"].clone()


def saved_epochs(tmp_path, every: float) -> list[int]:
    """Train with checkpoints every `every` seconds; the epochs after which STEM.ckpt.pt changed."""
    checkpoints, saved = Checkpoints(tmp_path, "run", every), []
    save = checkpoints.save

    def recording(task, progress, best, fingerprint):
        saved.append(progress.epoch)
        save(task, progress, best, fingerprint)

    checkpoints.save = recording
    train(Counting(), checkpoints, fingerprint="f")
    return saved


def test_every_epoch_with_zero_and_only_the_last_with_a_long_interval(tmp_path):
    assert saved_epochs(tmp_path / "a", 0) == [1, 2, 3, 4, 5]
    assert saved_epochs(tmp_path / "b", 3600) == [5]
    best = load_tensors(tmp_path / "b" / "run.best.pt")
    assert best["value"].item() == 1 + 2 + 3 + 4  # epoch 4's weights


class SavedAfterEpoch2(Checkpoints):
    def due(self, progress) -> bool:
        return progress.epoch == 2 or progress.done


def test_resume_from_an_older_checkpoint_ends_as_an_uninterrupted_run(tmp_path):
    straight, best = train(Counting(), Checkpoints(tmp_path / "a", "run", 0), fingerprint="f")
    with pytest.raises(KeyboardInterrupt):  # epochs 3 and 4 (the best) ran, unsaved; killed in 5
        train(Counting(kill_at=5), SavedAfterEpoch2(tmp_path / "b", "run"), fingerprint="f")
    resumed_task = Counting()
    resumed, resumed_best = train(
        resumed_task, Checkpoints(tmp_path / "b", "run", 3600), resume=True, fingerprint="f"
    )
    assert resumed_task.epochs_run == [3, 4, 5]
    assert resumed.history == straight.history and resumed.best_epoch == straight.best_epoch == 4
    assert torch.equal(resumed_best["value"], best["value"])
    assert torch.equal(resumed_task.value, torch.tensor([15.0]))
    assert torch.equal(load_tensors(tmp_path / "b" / "run.best.pt")["value"], best["value"])


def test_a_finished_runs_checkpoint_keeps_only_its_progress_and_resumes_to_its_best(tmp_path):
    straight, best = train(Counting(), Checkpoints(tmp_path, "run", 0), fingerprint="f")
    assert set(load_tensors(tmp_path / "run.ckpt.pt")) == {"progress", "fingerprint"}
    again = Counting()
    resumed, resumed_best = train(again, Checkpoints(tmp_path, "run"), resume=True, fingerprint="f")
    assert again.epochs_run == [] and resumed.history == straight.history
    assert torch.equal(resumed_best["value"], best["value"])


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MMCF_CHECKPOINT_SECONDS", "12.5")
    assert checkpoint_seconds() == 12.5
    monkeypatch.delenv("MMCF_CHECKPOINT_SECONDS")
    assert checkpoint_seconds() == 300
    monkeypatch.setenv("MMCF_CHECKPOINT_SECONDS", "often")
    with pytest.raises(UserError, match="MMCF_CHECKPOINT_SECONDS='often'"):
        checkpoint_seconds()


class Crash(Exception):
    """A simulated kill in the middle of writing a checkpoint."""


def crash_once(monkeypatch, module, name: str, when) -> None:
    """Make `module.name` raise Crash the first time `when(first argument's file name, *rest)`."""
    real, crashed = getattr(module, name), []

    def flaky(path, *args):
        if not crashed and when(Path(path).name, *args):
            crashed.append(path)
            raise Crash
        return real(path, *args)

    monkeypatch.setattr(module, name, flaky)


@pytest.mark.parametrize(
    "cut, resumed_epochs",
    [
        # killed after epoch 4's best weights, before its checkpoint: epoch 3's checkpoint names
        # epoch 2 as the best, and its weights (not epoch 4's) come back
        ("save_tensors", [4, 5]),
        # killed after epoch 4's checkpoint, before its best weights took STEM.best.pt's place
        ("os.replace", [5]),
    ],
)
def test_a_crash_between_best_weights_and_checkpoint_resumes_with_the_best_it_names(
    tmp_path, monkeypatch, cut, resumed_epochs
):
    straight, best = train(Counting(), Checkpoints(tmp_path / "a", "run", 0), fingerprint="f")
    with monkeypatch.context() as patch:
        if cut == "os.replace":
            crash_once(patch, os, "replace", lambda name, dst: name == "run.best.4.pt")
        else:
            crash_once(
                patch,
                trainer,
                "save_tensors",
                lambda name, state: name == "run.ckpt.pt" and state["progress"]["epoch"] == 4,
            )
        with pytest.raises(Crash):
            train(Counting(), Checkpoints(tmp_path / "b", "run", 0), fingerprint="f")
    assert (tmp_path / "b" / "run.best.4.pt").exists()  # the pending weights the crash left

    restored_task, checkpoints = Counting(), Checkpoints(tmp_path / "b", "run", 0)
    progress, restored_best = checkpoints.restore(restored_task, "f")
    expected_value = sum(range(1, progress.best_epoch + 1))  # the weights after the named epoch
    assert restored_best["value"].item() == expected_value
    assert load_tensors(tmp_path / "b" / "run.best.pt")["value"].item() == expected_value

    resumed_task = Counting()
    resumed, resumed_best = train(
        resumed_task, Checkpoints(tmp_path / "b", "run", 0), resume=True, fingerprint="f"
    )
    assert resumed_task.epochs_run == resumed_epochs
    assert resumed.history == straight.history and resumed.best_epoch == 4
    assert torch.equal(resumed_best["value"], best["value"])
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["run.best.pt", "run.ckpt.pt"]
