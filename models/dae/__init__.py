"""MMCF's denoising autoencoder with hide-and-seek: one network per group of challenge categories.

A playlist is a sparse vector over [tracks | artists]. The encoder is an embedding-bag over its
non-zero entries (never a dense playlists × items input); the decoder's weighted cross-entropy over
every track and artist is computed item-chunk by item-chunk with its gradients in one pass
(`models/training/losses.py`), so memory stays at batch × chunk whatever the vocabulary.

config    the variants (per-category networks) and `DAEConfig`
network   `DAENet`: encoder, decoder, loss, prediction
batches   prefix batches with hide-and-seek corruption, targets, negative sampling
training  `DAETraining`: one network's run under the shared trainer
model     `DAE`: the recommender (routing, scoring, fit, save, load)
"""

from .config import ALL_VARIANTS, VARIANTS, DAEConfig, Variant, variant_for
from .model import DAE

__all__ = ["ALL_VARIANTS", "DAE", "DAEConfig", "VARIANTS", "Variant", "variant_for"]
