"""Model kinds by name, imported on demand so the CLI starts fast."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from mmcf.mpd.errors import UserError

if TYPE_CHECKING:
    from mmcf.models.base import Recommender
    from mmcf.mpd.vocab import Vocab

MODELS = {
    "popularity": "mmcf.models.popularity:Popularity",
    "knn": "mmcf.models.knn:ItemKNN",
    "userknn": "mmcf.models.user_knn:UserKNN",
    "als": "mmcf.models.als:ALS",
    "dae": "mmcf.models.dae:DAE",
    "cnn": "mmcf.models.charcnn:CharCNN",
    "title": "mmcf.models.title_lookup:TitleLookup",
}


def model_class(kind: str) -> type[Recommender]:
    return class_of(kind, MODELS)


def load_trained(model_dir: Path, kinds: Iterable[str], vocab: Vocab) -> dict[str, Recommender]:
    """The models of these kinds trained in MODEL_DIR/<kind>."""
    return {kind: model_class(kind).load(model_dir / kind, vocab) for kind in kinds}


def class_of(kind: str, kinds: dict[str, str]) -> type[Recommender]:
    """The class `kinds` names for `kind` ('module:Class'), imported now."""
    if kind not in kinds:
        raise UserError(f"unknown model '{kind}' (choose from {', '.join(kinds)})")
    module, name = kinds[kind].split(":")
    return getattr(importlib.import_module(module), name)
