"""CharCNN: a playlist's tracks and artists from its title alone (MMCF's title model).

Characters → embeddings → convolutions of several widths, ReLU, max over time → dropout → dense →
sigmoid over the tracks (and the artists, as the reference, with `artists=True`).

config    `CNNConfig`
network   `TitleNet` and batch trimming
titles    distinct normalised titles, their mean or teacher targets, their loss weights
training  `TitleTraining`: the network's run under the shared trainer
model     `CharCNN`: the recommender (fit, title scores with the title memory, save, load)
"""

from .config import CNNConfig
from .model import CharCNN
from .network import TitleNet
from .titles import TitleData, group_titles, mean_targets, teacher_targets

__all__ = [
    "CNNConfig",
    "CharCNN",
    "TitleData",
    "TitleNet",
    "group_titles",
    "mean_targets",
    "teacher_targets",
]
