"""The title network: characters → convolutions → max over time → dense logits over items."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mmcf.mpd.titles import PAD

from .config import CNNConfig


class TitleNet(nn.Module):
    """Character ids [B, L] (padded with PAD, L ≥ the widest filter) → logits over [tracks |
    artists].

    The max-pool sees only windows that start inside the title (a title shorter than a filter: its
    first window), so a title's scores do not depend on how far its batch is padded.
    """

    def __init__(self, n_chars: int, n_items: int, config: CNNConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, config.embedding, padding_idx=PAD)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding, config.filters, w) for w in config.widths
        )
        self.dropout = nn.Dropout(1.0 - config.keep)
        self.out = nn.Linear(config.filters * len(config.widths), n_items)

    def features(self, ids: torch.Tensor) -> torch.Tensor:
        """The dropped-out max-pooled convolution features [B, filters × widths]."""
        x = self.embed(ids).transpose(1, 2)
        lengths = (ids != PAD).sum(dim=1, keepdim=True)
        pooled = []
        for conv in self.convs:
            width = conv.kernel_size[0]
            out = conv(x).relu()
            starts = torch.arange(out.shape[2], device=ids.device)[None, :]
            invalid = starts > (lengths - width).clamp(min=0)
            pooled.append(
                out.masked_fill(invalid[:, None, :], 0.0).amax(dim=2)
            )  # ReLU ≥ 0: 0 never wins
        return self.dropout(torch.cat(pooled, dim=1))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(ids))


def trim(ids: np.ndarray, min_width: int) -> np.ndarray:
    """Drop the padding columns no row of the batch needs (keeping at least `min_width`)."""
    used = np.flatnonzero((ids != PAD).any(axis=0))
    return ids[:, : max(int(used[-1]) + 1 if len(used) else 0, min_width)]
