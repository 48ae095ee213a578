"""CharCNN: a playlist's tracks and artists from its title alone (MMCF's title model).

Trained against the frozen DAE's output (a teacher) or, without one, against the playlists' true
[tracks | artists] vectors, on distinct normalised titles (`titles.py`). `CNNConfig.reference()` is
the published setting. Beyond MMCF: for a title seen verbatim (after normalising) in training, the
scores blend with the title memory, what those playlists held (models/title_memory.py,
`memory_weight`; 0 = the CNN alone).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import PlaylistCorpus
from mmcf.mpd.split import Validation
from mmcf.mpd.titles import CharVocab
from mmcf.mpd.vocab import Vocab

from ..base import Recommender, with_tie_break
from ..store import load_tensors, save_tensors, write_manifest
from ..title_memory import TitleMemory
from ..training.trainer import Checkpoints, fingerprint, settings, train
from .config import CNNConfig, teacher_rows
from .network import TitleNet
from .titles import dae_teacher, group_titles, mean_targets, teacher_targets, title_weights
from .training import TitleTraining, init_bias

log = logging.getLogger(__name__)
CHAR_VOCAB_FILE = "charvocab.json"
WEIGHTS_FILE = "weights.pt"


class CharCNN(Recommender):
    kind = "cnn"
    config_class = CNNConfig
    uses_validation = True  # the epoch is chosen on the validation playlists' titles
    resumable = True  # fit takes checkpoint_dir and resume

    def __init__(self, config: CNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or CNNConfig()
        self.chars: CharVocab | None = None
        self.net: TitleNet | None = None
        self.history: list[float] = []  # validation R-precision per epoch
        self.memory: TitleMemory | None = None
        self.best_epoch = 0

    reads_titles = True

    @property
    def requires(self) -> tuple[str, ...]:
        """The trained DAE, whose outputs are the targets (MMCF's way, and measured better)."""
        return ("dae",) if self.config.teacher else ()

    @property
    def n_outputs(self) -> int:
        return self.vocab.n_items if self.config.artists else self.vocab.n_tracks

    # ---- training
    # -------------------------------------------------------------------------------------------

    def fit(
        self,
        corpus: PlaylistCorpus,
        vocab: Vocab,
        *,
        members: Mapping[str, Recommender] | None = None,
        validation: Validation | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> "CharCNN":
        """Train on the corpus, keeping the epoch best on validation R-precision (the last without
        `validation`).

        With `members["dae"]` (and `teacher` on), the targets of corpus rows are that trained DAE's
        `teacher_targets`; without it they are the true [tracks | artists] vectors. The validation
        playlists are asked with their title alone (`Validation.title_only`). With `checkpoint_dir`,
        every epoch is saved there; with `resume`, an interrupted run of the same data and settings
        continues from its last epoch.
        """
        cfg = self.config
        self.vocab = vocab
        teacher = (
            dae_teacher(members["dae"], corpus, self.n_outputs) if cfg.teacher and members else None
        )
        rows = np.arange(len(corpus))
        queries, answers = validation.title_only() if validation else ([], {})
        self.chars = CharVocab.build(
            (corpus.titles[r] for r in rows), cfg.min_char_count, cfg.normalizer
        )
        data = group_titles(corpus, rows, self.chars.normalize)
        if not data.texts:
            raise UserError("no training playlist has a usable title: cannot train the title model")
        log.info(
            "title model: %d playlists, %d distinct titles, %d characters, %d validation queries",
            len(rows),
            len(data.texts),
            len(self.chars),
            len(queries),
        )
        if teacher is None:
            targets = mean_targets(corpus, vocab, data)[:, : self.n_outputs]
        else:
            per_title = teacher_rows(cfg, data.counts, vocab.n_items)
            log.info("title model: teacher targets from %s playlists per title", per_title or "all")
            targets = teacher_targets(
                teacher, data, self.n_outputs, per_title, cfg.teacher_top, cfg.seed
            )
        torch.manual_seed(cfg.seed)
        self.net = TitleNet(len(self.chars), self.n_outputs, cfg).to(cfg.torch_device)
        init_bias(self.net, corpus, vocab, rows, cfg.negative_weight)
        task = TitleTraining(
            cfg,
            self.net,
            self.chars.encode_batch(data.texts, cfg.max_chars, cfg.max_chars),
            title_weights(data.counts, cfg.title_weight),
            targets,
            (queries, answers),
            self.score,
            lambda title: bool(self.chars.normalize(title)),
            vocab,
        )
        run_id = fingerprint(
            [settings(cfg), teacher is not None, self.n_outputs, self.chars.chars],
            corpus.pids[rows],
            "\n".join(corpus.titles[r] for r in rows),
            sorted(q.pid for q in queries),
        )
        checkpoints = Checkpoints(checkpoint_dir, "cnn") if checkpoint_dir else None
        progress, best = train(task, checkpoints, resume, run_id)
        self.net.load_state_dict(best)
        self.history, self.best_epoch = progress.history, progress.best_epoch
        self.net.eval()
        if cfg.memory_weight > 0:  # after the epochs: validation picks the epoch of the CNN alone
            self.memory = TitleMemory.build(corpus, vocab, data.texts, data.groups, cfg.memory_top)
        return self

    # ---- inference
    # ------------------------------------------------------------------------------------------

    def title_scores(self, titles: Sequence[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Track scores [B, n_tracks] from titles alone, and a mask [B] of the titles the model can
        use.

        A title is unusable when it normalises to nothing or none of its characters was seen in
        training; its row is zeros.
        """
        texts = [self.chars.normalize(t) for t in titles]
        usable = torch.tensor([bool(t) and self.chars.known(t) for t in texts], dtype=torch.bool)
        scores = torch.zeros(len(texts), self.vocab.n_tracks)
        if usable.any():
            index = usable.nonzero().ravel()
            scores[index] = self._scores([texts[i] for i in index.tolist()])
        if self.memory is not None and self.config.memory_weight > 0:
            remembered, found = self.memory.scores(texts)
            w = self.config.memory_weight
            scores[found] = (1 - w) * scores[found] + w * remembered[found]
            usable |= found
        return scores, usable

    def knows_title(self, title: str | None) -> bool:
        return bool(self.title_scores([title or ""])[1][0])

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        """Scores from the titles alone; playlists without a usable title get the popularity
        ranking."""
        scores, usable = self.title_scores([q.title for q in queries])
        if not usable.all():
            log.info(
                "%d of %d playlists have no usable title: ranked by popularity",
                int((~usable).sum()),
                len(queries),
            )
        return with_tie_break(scores, self.vocab)

    def _scores(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """Sigmoid track outputs of normalised titles, each distinct title computed once."""
        cfg = self.config
        distinct, inverse = np.unique(np.array(texts, dtype=object), return_inverse=True)
        inverse = torch.from_numpy(inverse.ravel())
        scores = torch.empty(len(texts), self.vocab.n_tracks)
        self.net.eval()
        for start in range(0, len(distinct), batch_size):
            chunk = distinct[start : start + batch_size]
            ids = torch.from_numpy(self.chars.encode_batch(chunk, cfg.max_chars, max(cfg.widths)))
            with torch.no_grad():
                probs = (
                    torch.sigmoid(self.net(ids.to(cfg.torch_device))[:, : self.vocab.n_tracks])
                    .float()
                    .cpu()
                )
            rows = ((inverse >= start) & (inverse < start + len(chunk))).nonzero().ravel()
            scores[rows] = probs[inverse[rows] - start]
        return scores

    # ---- storage
    # --------------------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.chars.save(directory / CHAR_VOCAB_FILE)
        save_tensors(directory / WEIGHTS_FILE, self.net.state_dict())
        if self.memory is not None:
            self.memory.save(directory)
        write_manifest(
            directory,
            self.kind,
            self.vocab,
            self.config,
            n_chars=len(self.chars),
            best_epoch=self.best_epoch,
            validation_r_precision=self.history,
        )

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "CharCNN":
        directory = Path(directory)
        model, manifest = cls.from_manifest(directory, vocab)
        model.chars = CharVocab.load(directory / CHAR_VOCAB_FILE)
        if (
            len(model.chars) != manifest.get("n_chars")
            or model.chars.mode != model.config.normalizer
        ):
            raise UserError(
                f"{directory / CHAR_VOCAB_FILE}: does not belong to the title model beside it"
            )
        model.net = TitleNet(len(model.chars), model.n_outputs, model.config)
        try:
            model.net.load_state_dict(load_tensors(directory / WEIGHTS_FILE), assign=True)
        except RuntimeError as exc:
            raise UserError(
                f"{directory / WEIGHTS_FILE}: weights do not fit the title model ({exc})"
            ) from None
        model.net.to(model.config.torch_device).eval()
        model.memory = TitleMemory.load(directory, vocab.n_tracks)
        model.history = list(manifest.get("validation_r_precision", []))
        model.best_epoch = manifest.get("best_epoch", 0)
        return model
