"""The ALS peer's fold-in of a new playlist (implicit is only needed to fit, not to fold in)."""

from __future__ import annotations

import numpy as np
import torch

from mmcf.mpd.challenge import Query
from mmcf.mpd.dataset import load_training
from mmcf.models.als import ALS, ALSConfig


def test_fold_in_is_one_weighted_least_squares_step(tiny_mpd):
    vocab = load_training(tiny_mpd).vocab
    model = ALS(ALSConfig(factors=8, regularization=0.1, alpha=5.0))
    model.vocab = vocab
    model.item_factors = torch.randn(vocab.n_tracks, 8, generator=torch.Generator().manual_seed(0))
    y = model.item_factors.double()
    for seeds in ([0, 3, 3, 7], [5]):
        p = torch.zeros(vocab.n_tracks, dtype=torch.float64)
        p[seeds] = 1.0
        c = 1.0 + 5.0 * p  # confidence 1 + alpha on the seeds
        expected = torch.linalg.solve(
            y.T @ (c[:, None] * y) + 0.1 * torch.eye(8, dtype=torch.float64), y.T @ (c * p)
        )
        got = model.fold_in(np.array(seeds))
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-3, atol=1e-4)
    scores = model.score([Query(1, None, [vocab.track_uris[0]]), Query(2, None, [])])
    assert scores.shape == (2, vocab.n_tracks) and torch.isfinite(scores).all()
