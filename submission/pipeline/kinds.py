"""Every model kind the command line knows, listed once,
and their settings (presets, --set overrides).

The members live in `mmcf.models.registry`; the ensembles over them are added here, one layer up.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from mmcf.models.registry import MODELS, class_of
from mmcf.mpd.errors import UserError

if TYPE_CHECKING:
    from mmcf.models.base import Recommender

KINDS = {
    **MODELS,
    "blend": "mmcf.ensemble.mmcf:MMCF",  # the published MMCF: count-weighted DAE + CNN blend
    "mmcf": "mmcf.ensemble.ranker:Ranker",  # a learned second stage over every member
}
DEFAULT_KIND = "mmcf"  # what `mmcf train` trains and `submit` prefers


def kind_class(kind: str) -> type[Recommender]:
    return class_of(kind, KINDS)


def build_config(kind: str, overrides: dict[str, str], preset: str | None = None) -> Any:
    """The model's config dataclass, from a named preset
    (e.g. `reference`) if given, with overrides."""
    config_cls = kind_class(kind).config_class
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
    cls = kind_class(kind)
    return cls(config) if config is not None else cls()
