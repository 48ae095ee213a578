"""Model kinds by name, imported on demand so the CLI starts fast."""
from __future__ import annotations

import importlib

from mpd.errors import UserError

from .base import Recommender

MODELS = {
    "popularity": "models.popularity:Popularity",
    "knn": "models.knn:ItemKNN",
    "als": "models.als:ALS",
    "dae": "models.dae:DAE",
    "cnn": "models.charcnn:CharCNN",
}


def model_class(kind: str) -> type[Recommender]:
    if kind not in MODELS:
        raise UserError(f"unknown model '{kind}' (choose from {', '.join(MODELS)})")
    module, name = MODELS[kind].split(":")
    return getattr(importlib.import_module(module), name)
