"""Model kinds by name, imported on demand so the CLI starts fast."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mmcf.mpd.errors import UserError

if TYPE_CHECKING:
    from mmcf.models.base import Recommender

MODELS = {
    "popularity": "mmcf.models.popularity:Popularity",
    "knn": "mmcf.models.knn:ItemKNN",
    "als": "mmcf.models.als:ALS",
    "dae": "mmcf.models.dae:DAE",
    "cnn": "mmcf.models.charcnn:CharCNN",
}


def model_class(kind: str) -> type[Recommender]:
    return class_of(kind, MODELS)


def class_of(kind: str, kinds: dict[str, str]) -> type[Recommender]:
    """The class `kinds` names for `kind` ('module:Class'), imported now."""
    if kind not in kinds:
        raise UserError(f"unknown model '{kind}' (choose from {', '.join(kinds)})")
    module, name = kinds[kind].split(":")
    return getattr(importlib.import_module(module), name)
