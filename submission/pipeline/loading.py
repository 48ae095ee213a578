"""Which models a model directory holds, which one a command uses, and loading it."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from mmcf.models import store
from mmcf.models.base import Recommender
from mmcf.mpd.errors import UserError
from mmcf.mpd.vocab import Vocab

from .kinds import DEFAULT_KIND, KINDS, kind_class

log = logging.getLogger(__name__)


def trained_kinds(model_dir: str | Path) -> list[str]:
    """Kinds with a manifest in MODEL_DIR/<kind>/, in the order of KINDS."""
    found = {p.parent.name for p in Path(model_dir).glob("*/manifest.json")}
    return [kind for kind in KINDS if kind in found]


def choose_kind(model_dir: str | Path, kind: str | None) -> str:
    """`kind` if trained here;
    without one the default (the ensemble) if trained, else the only model."""
    if not Path(model_dir).is_dir():
        raise UserError(f"{model_dir}: no such model directory")
    kinds = trained_kinds(model_dir)
    if not kinds:
        raise UserError(f"{model_dir}: no trained model here (run `mmcf train`)")
    if kind is None:
        if DEFAULT_KIND not in kinds and len(kinds) > 1:
            raise UserError(
                f"{model_dir} holds several models ({', '.join(kinds)}) and no '{DEFAULT_KIND}' "
                "ensemble; choose one with --model"
            )
        kind = DEFAULT_KIND if DEFAULT_KIND in kinds else kinds[0]
        log.info("using the '%s' model of %s", kind, model_dir)
        return kind
    if kind not in kinds:
        raise UserError(
            f"{Path(model_dir) / kind}: no trained '{kind}' model "
            f"(trained in {model_dir}: {', '.join(kinds)})"
        )
    return kind


def load_model(model_dir: str | Path, kind: str, vocab: Vocab | None = None) -> Recommender:
    """A trained model of the given kind from MODEL_DIR/<kind>, with the directory's vocabulary
    (`vocab` when the caller has loaded it already)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UserError(f"{model_dir}: no such model directory")
    vocab = store.load_vocab(model_dir) if vocab is None else vocab
    cls = kind_class(kind)
    try:
        return cls.load(model_dir / kind, vocab)
    except (OSError, EOFError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile) as exc:
        raise UserError(  # a damaged file the loader did not catch
            f"{model_dir / kind}: cannot load the '{kind}' model ({type(exc).__name__}: {exc}); "
            "retrain it"
        ) from None
