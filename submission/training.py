"""Train a model into a model directory: one shared vocabulary, one sub-directory per model."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import ujson

from mmcf.models import distributed, store
from mmcf.models.base import Recommender
from mmcf.models.registry import model_class
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
BLEND = "blend"  # `train --model blend`: choose the ensemble's member weights (saved under MODEL_DIR/mmcf)
ENSEMBLE = "mmcf"  # the ensemble: `train --model mmcf` = dae, cnn, blend


def prepare_data(
    mpd_dir: str | Path,
    model_dir: str | Path,
    vocab_config: VocabConfig | None = None,
    validation: ValidationConfig | None = None,
    replace: bool = False,
) -> TrainingData:
    """Vocabulary, validation carve and corpus: made once per model directory, reused after.

    Reuse is keyed by the data's fingerprint (slice names, sizes, digests) and the settings (None: those
    the directory has, or the defaults for a new one). A model directory whose data or settings changed
    is refused with what changed, or with `replace` emptied and made anew (the demo's work directory).
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


def config_class(kind: str) -> type | None:
    """The settings dataclass of a model kind ('blend' = the ensemble's member weights)."""
    if kind == BLEND:
        from mmcf.ensemble.weights import BlendConfig

        return BlendConfig
    return getattr(model_class(kind), "config_class", None)


def trained_parts(kind: str) -> list[str]:
    """What `train --model KIND` trains, in order: the ensemble is its parts, then its weights."""
    return ["dae", "cnn", BLEND] if kind == ENSEMBLE else [kind]


def saved_under(model_dir: str | Path, kind: str) -> Path:
    return Path(model_dir) / (ENSEMBLE if kind == BLEND else kind)


def data_parallel(kind: str) -> bool:
    """Does this kind train on every rank under torchrun (the DAE), or on rank 0 alone?"""
    return kind != BLEND and getattr(model_class(kind), "data_parallel", False)


def build_config(kind: str, overrides: dict[str, str], preset: str | None = None) -> Any:
    """The model's config dataclass, from a named preset (e.g. `reference`) if given, with overrides."""
    config_cls = config_class(kind)
    if config_cls is None:
        if overrides:
            raise UserError(f"model '{kind}' has no settings to override")
        return None
    if preset is None:
        config = config_cls()
    elif callable(getattr(config_cls, preset, None)):
        config = getattr(config_cls, preset)()
    else:
        raise UserError(f"model '{kind}' has no preset '{preset}'")
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    for key, raw in overrides.items():
        if key not in fields:
            raise UserError(
                f"model '{kind}' has no setting '{key}' (settings: {', '.join(fields)})"
            )
        setattr(config, key, _coerce(raw, getattr(config, key), key))
    return dataclasses.replace(config)  # re-runs the config's own checks on the overridden values


def _coerce(raw: str, current: Any, key: str) -> Any:
    try:
        if isinstance(current, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        if isinstance(current, (int, float)):
            return type(current)(raw)
        if isinstance(current, (list, tuple)):
            return type(current)(x.strip() for x in raw.split(",") if x.strip())
        return raw if current is None or isinstance(current, str) else type(current)(raw)
    except ValueError:
        raise UserError(
            f"setting '{key}': cannot read {raw!r} as {type(current).__name__}"
        ) from None


def instantiate(kind: str, config: Any) -> Recommender:
    cls = model_class(kind)
    return cls(config) if config is not None else cls()


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
    """Fit one model on the playlists of `mpd_dir` (less the validation carve) and save it under MODEL_DIR/<kind>.

    `data`: the result of `prepare_data(mpd_dir, model_dir)` when the caller has it already (the demo
    trains several models on one read). Under torchrun (WORLD_SIZE > 1) every rank calls this for a
    data-parallel model (the DAE); rank 0 writes.
    """
    model_dir = Path(model_dir)
    distributed.init_from_env(getattr(config, "device", "auto"))
    data = data or prepare_data(mpd_dir, model_dir, vocab_config, validation)
    if kind == BLEND:
        return train_blend(model_dir, data, config)
    model = instantiate(kind, config)
    started = time.perf_counter()
    fit_kwargs: dict[str, Any] = {}
    if model.uses_validation:
        fit_kwargs["validation"] = data.validation
    if model.resumable:
        fit_kwargs.update(checkpoint_dir=model_dir / kind / "checkpoints", resume=resume)
    if model.requires:
        fit_kwargs["members"] = {name: load_model(model_dir, name) for name in model.requires}
    model.fit(data.corpus, data.vocab, **fit_kwargs)
    if distributed.is_main():
        model.save(model_dir / kind)
    log.info("trained %s in %.1f s", kind, time.perf_counter() - started)
    return model


def train_blend(model_dir: Path, data: TrainingData, config: Any = None) -> Recommender:
    """Choose the ensemble's member weights on the validation playlists; the DAE and the CNN must be trained."""
    from mmcf.ensemble.blend import save_weights
    from mmcf.ensemble.weights import fit_blend

    started = time.perf_counter()
    model, report = fit_blend(
        load_model(model_dir, "dae"),
        load_model(model_dir, "cnn"),
        model_dir,
        data.validation,
        data.vocab,
        config,
    )
    save_weights(model_dir, model.weights, report)
    log.info("chose the blend weights in %.1f s", time.perf_counter() - started)
    return model


def trained_kinds(model_dir: str | Path) -> list[str]:
    """Kinds with a manifest in MODEL_DIR/<kind>/, plus the ensemble when its DAE and CNN are both there."""
    kinds = sorted(p.parent.name for p in Path(model_dir).glob("*/manifest.json"))
    return sorted({*kinds, ENSEMBLE}) if {"dae", "cnn"} <= set(kinds) else kinds


def choose_kind(model_dir: str | Path, kind: str | None) -> str:
    """The model kind to use: `kind` if trained here; without one the ensemble, else the only model."""
    if not Path(model_dir).is_dir():
        raise UserError(f"{model_dir}: no such model directory")
    kinds = trained_kinds(model_dir)
    if not kinds:
        raise UserError(f"{model_dir}: no trained model here (run `mmcf train`)")
    if kind is None and (ENSEMBLE in kinds or len(kinds) == 1):
        return ENSEMBLE if ENSEMBLE in kinds else kinds[0]
    if kind is None:
        raise UserError(
            f"{model_dir} holds several models ({', '.join(kinds)}); choose one with --model"
        )
    if kind not in kinds:
        raise UserError(
            f"{Path(model_dir) / kind}: no trained '{kind}' model (trained in {model_dir}: {', '.join(kinds)})"
        )
    return kind


def load_model(model_dir: str | Path, kind: str) -> Recommender:
    """A trained model of the given kind ('mmcf' = the ensemble) from a model directory."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UserError(f"{model_dir}: no such model directory")
    vocab = store.load_vocab(model_dir)
    try:
        if kind == ENSEMBLE:
            from mmcf.ensemble.blend import MMCF

            return MMCF.load(model_dir, vocab)
        return model_class(kind).load(model_dir / kind, vocab)
    except (OSError, EOFError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile) as exc:
        where = (
            model_dir if kind == ENSEMBLE else model_dir / kind
        )  # a damaged file the loader did not catch
        raise UserError(
            f"{where}: cannot load the '{kind}' model ({type(exc).__name__}: {exc}); retrain it"
        ) from None
