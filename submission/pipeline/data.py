"""The model directory's data:
vocabulary, validation carve and corpus, made once and reused after."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import ujson

from mmcf.models import distributed, store
from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.dataset import TrainingData, load_training
from mmcf.mpd.errors import UserError
from mmcf.mpd.fingerprint import describe_change
from mmcf.mpd.reader import load_json
from mmcf.mpd.split import Validation, ValidationConfig
from mmcf.mpd.vocab import VocabConfig

log = logging.getLogger(__name__)
SOURCE_FILE = "source.json"
VALIDATION_DIR = "validation"


def prepare_data(
    mpd_dir: str | Path,
    model_dir: str | Path,
    vocab_config: VocabConfig | None = None,
    validation: ValidationConfig | None = None,
    replace: bool = False,
) -> TrainingData:
    """Vocabulary, validation carve and corpus: made once per model directory, reused after.

    Reuse is keyed by the data's fingerprint (slice names, sizes, digests) and the settings (None:
    those the directory has, or the defaults for a new one). A model directory whose data or
    settings changed is refused with what changed, or with `replace` emptied and made anew (the
    demo's work directory).
    """
    model_dir = Path(model_dir)
    source_path = model_dir / SOURCE_FILE
    if source_path.exists() and store.vocab_path(model_dir).exists():
        try:
            return _reuse_data(mpd_dir, model_dir, load_json(source_path), vocab_config, validation)
        except StaleModelDir as exc:
            if not replace:
                raise
            log.warning("%s; removing the models there and starting anew", exc)
            shutil.rmtree(model_dir)
    vocab_config, validation = vocab_config or VocabConfig(), validation or ValidationConfig()
    data = load_training(mpd_dir, vocab_config, validation=validation)
    if distributed.is_main():  # under torchrun every rank builds the same data; rank 0 writes it
        data.vocab.save(store.vocab_path(model_dir))
        data.validation.save(model_dir / VALIDATION_DIR)
        with atomic_write(source_path) as f:  # last: it marks the directory's data as complete
            ujson.dump(
                {
                    "mpd": str(Path(mpd_dir).resolve()),
                    "vocab": dataclasses.asdict(vocab_config),
                    "validation": dataclasses.asdict(validation),
                    "fingerprint": data.source,
                },
                f,
            )
    return data


class StaleModelDir(UserError):
    """A model directory made from other data or settings than those asked for now."""


def _reuse_data(
    mpd_dir: str | Path,
    model_dir: Path,
    known: dict,
    vocab_config: VocabConfig | None,
    validation: ValidationConfig | None,
) -> TrainingData:
    for key, config in {"vocab": vocab_config, "validation": validation}.items():
        if config is not None and known.get(key) != dataclasses.asdict(config):
            raise StaleModelDir(
                f"{model_dir}: models here were trained with {key} settings {known.get(key)}, "
                f"not {dataclasses.asdict(config)}; use another --model-dir"
            )
    data = load_training(
        mpd_dir,
        vocab=store.load_vocab(model_dir),
        validation=Validation.load(model_dir / VALIDATION_DIR),
    )
    change = describe_change(known.get("fingerprint"), data.source)
    if change:
        raise StaleModelDir(
            f"{model_dir}: models here were trained on other data than {mpd_dir} ({change}); "
            "use another --model-dir"
        )
    return data
