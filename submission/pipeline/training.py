"""Train a model into a model directory: one shared vocabulary, one sub-directory per model."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any, Collection, Iterable

from mmcf.models import distributed
from mmcf.models.base import Recommender
from mmcf.mpd.dataset import TrainingData
from mmcf.mpd.split import ValidationConfig
from mmcf.mpd.vocab import VocabConfig

from .data import prepare_data
from .kinds import KINDS, build_config, instantiate
from .loading import load_model, trained_kinds

log = logging.getLogger(__name__)


def requirements(kind: str) -> tuple[str, ...]:
    """The member kinds a model of `kind` with default settings requires to be trained first."""
    return instantiate(kind, build_config(kind, {})).requires


def training_order(kinds: Iterable[str], done: Collection[str] = ()) -> list[str]:
    """`kinds` and the members they require that are not `done`, in the order of KINDS."""
    wanted: set[str] = set()
    todo = list(kinds)
    while todo:
        kind = todo.pop()
        if kind not in wanted:
            wanted.add(kind)
            todo += [member for member in requirements(kind) if member not in done]
    return [kind for kind in KINDS if kind in wanted]


def training_plan(model_dir: str | Path, kind: str) -> list[str]:
    """What `mmcf train --model KIND` trains:
    the required members not trained here yet, then KIND."""
    return training_order([kind], trained_kinds(model_dir) if Path(model_dir).is_dir() else ())


def train(
    mpd_dir: str | Path,
    model_dir: str | Path,
    kind: str,
    config: Any = None,
    resume: bool = False,
    vocab_config: VocabConfig | None = None,
    validation: ValidationConfig | None = None,
    data: TrainingData | None = None,
) -> Recommender:
    """Fit one model on the playlists of `mpd_dir` (less the validation carve);
    save it in MODEL_DIR/<kind>.

    The model gets what its class declares: the validation playlists, a checkpoint directory
    (removed once the model is saved), the trained members it requires or uses. `data`: the result
    of `prepare_data(mpd_dir, model_dir)` when the caller has it already (the demo trains several
    models on one read). Under torchrun (WORLD_SIZE > 1) every rank calls this for a data-parallel
    model (the DAE); rank 0 writes.
    """
    model_dir = Path(model_dir)
    distributed.init_from_env(getattr(config, "device", "auto"))
    data = data or prepare_data(mpd_dir, model_dir, vocab_config, validation)
    model = instantiate(kind, config)
    started = time.perf_counter()
    model.fit(data.corpus, data.vocab, **fit_arguments(model, model_dir, data, resume))
    if distributed.is_main():
        model.save(model_dir / kind)
        # the saved model is what resuming was for (at MPD scale the DAE's are tens of GB)
        shutil.rmtree(checkpoint_dir(model_dir, kind), ignore_errors=True)
    log.info("trained %s in %.1f s", kind, time.perf_counter() - started)
    return model


def checkpoint_dir(model_dir: Path, kind: str) -> Path:
    """Where a resumable model's checkpoints live while it trains."""
    return model_dir / kind / "checkpoints"


def fit_arguments(
    model: Recommender, model_dir: Path, data: TrainingData, resume: bool
) -> dict[str, Any]:
    """What `model.fit` takes beyond corpus and vocabulary, read off its declared capabilities."""
    arguments: dict[str, Any] = {}
    if model.uses_validation:
        arguments["validation"] = data.validation
    if model.resumable:
        arguments.update(checkpoint_dir=checkpoint_dir(model_dir, model.kind), resume=resume)
    trained = set(trained_kinds(model_dir))
    wanted = [*model.requires, *(m for m in model.uses_if_trained if m in trained)]
    if wanted:
        arguments["members"] = {name: load_model(model_dir, name, data.vocab) for name in wanted}
    return arguments
