"""MMCF's count-weighted blend of DAE (seeds) and
CharCNN (title) scores, with optional peer members.

    seed part = (1 − Σ β_m) · DAE + Σ β_m · peer_m (each peer rescaled to the DAE's row maximum)
    score     = w_title · CNN + (1 − w_title) · seed part,   w_title = has_title / (has_title + x)

With no members (β all 0) this is exactly the published MMCF.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from mmcf.models.base import with_tie_break
from mmcf.mpd.vocab import Vocab


def title_weight(has_title: np.ndarray, seed_mass: np.ndarray) -> np.ndarray:
    """w_title = has_title / (has_title + x),
    x = sum of the DAE input weights; 0/0 (nothing) → 0."""
    has_title = has_title.astype(np.float32)
    total = has_title + seed_mass
    return np.divide(has_title, total, out=np.zeros_like(total, dtype=np.float32), where=total > 0)


def mix_members(
    dae: torch.Tensor,
    members: Mapping[str, torch.Tensor],
    weights: Mapping[str, float],
    scales: Mapping[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """(1 − Σβ) · DAE + Σ β · peer, every peer row
    rescaled so its maximum is the DAE row's maximum (`scales`: `peer_scales`, when computed)."""
    used = {name: beta for name, beta in weights.items() if beta > 0}
    if not used:
        return dae
    scales = scales or peer_scales(dae, {name: members[name] for name in used})
    mixed = (1.0 - sum(used.values())) * dae
    for name, beta in used.items():
        mixed = mixed + beta * members[name] * scales[name]
    return mixed


def peer_scales(dae: torch.Tensor, members: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per peer and row [B, 1]: the DAE row's maximum over the peer row's."""
    top = dae.amax(dim=1, keepdim=True)
    return {
        name: top / peer.amax(dim=1, keepdim=True).clamp_min(1e-12)
        for name, peer in members.items()
    }


def combine(
    title: torch.Tensor,
    w: torch.Tensor,
    seeded: np.ndarray,
    dae: torch.Tensor,
    members: Mapping[str, torch.Tensor],
    weights: Mapping[str, float],
    vocab: Vocab,
) -> torch.Tensor:
    """The final scores [B, n_tracks]:
    DAE and member scores are given for the `seeded` rows only."""
    seed_scores = torch.zeros_like(title)
    if seeded.any():
        seed_scores[torch.from_numpy(np.flatnonzero(seeded))] = mix_members(dae, members, weights)
    blend = w * title + (1 - w) * seed_scores
    return with_tie_break(blend, vocab)
