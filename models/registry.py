"""Model kinds by name, imported on demand so the CLI starts fast."""

from __future__ import annotations

import importlib

from mmcf.mpd.errors import UserError

from .base import Recommender

MODELS = {
    "popularity": "mmcf.models.popularity:Popularity",
    "knn": "mmcf.models.knn:ItemKNN",
    "als": "mmcf.models.als:ALS",
    "dae": "mmcf.models.dae:DAE",
    "cnn": "mmcf.models.charcnn:CharCNN",
}


def model_class(kind: str) -> type[Recommender]:
    if kind not in MODELS:
        raise UserError(f"unknown model '{kind}' (choose from {', '.join(MODELS)})")
    module, name = MODELS[kind].split(":")
    return getattr(importlib.import_module(module), name)
