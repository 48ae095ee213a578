"""Where a model trains and scores: one resolver for every `device` setting (auto | cpu | cuda)."""

from __future__ import annotations

import torch

from mmcf.mpd.errors import UserError

DEVICES = ("auto", "cpu", "cuda")


def check_device(name: str, model: str) -> None:
    """Refuse a `device` setting that is none of DEVICES (`model` names the setting's owner)."""
    if name not in DEVICES:
        raise UserError(f"{model} device must be auto, cpu or cuda, not {name!r}")


def resolve_device(name: str | torch.device) -> torch.device:
    """ "auto": a GPU if torch sees one, else the CPU; "cuda" without a GPU is refused."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' requested but torch sees no GPU; use --device cpu or auto")
    return torch.device(name)
