"""CharCNN: a playlist's tracks and artists from its title alone (MMCF's title model).

Characters → 50-d embeddings → convolutions of widths 3, 5, 7, 9 × 100 filters, ReLU, max over time →
dropout → dense → sigmoid over the tracks (and the artists, as the reference, with `artists=True`; tracks only
measured as good and ~1.8× faster). Trained against the frozen DAE's output (a `teacher`) or, without one,
against the playlists' true [tracks | artists] vectors. `CNNConfig.reference()` is the published setting.

Training runs on *distinct* normalised titles: many playlists share a title ("workout", "chill"), and the
weighted cross-entropy is linear in the target, so the loss summed over the n playlists of a title equals n
times the loss against their mean target. One step per distinct title therefore does the work of n steps
per playlist; `title_weight="count"` keeps that equivalence exactly (in expectation), "sqrt"/"one" damp the
most common titles. A teacher's targets are likewise averaged per title, once before training (over a
sample of the title's playlists, top entries kept), so both kinds of targets are sparse and every step
computes the dense layer and its loss in one fused pass (`_OutputLoss`).

Beyond MMCF: for a title seen verbatim (after normalising) in training, the scores blend with the title
memory — what those playlists held (models/title_memory.py, `memory_weight`; 0 = the CNN alone).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
import torch
import ujson
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import PlaylistCorpus, item_matrix
from mmcf.mpd.metrics import Answer
from mmcf.mpd.split import Validation
from mmcf.mpd.titles import MODES, PAD, CharVocab
from mmcf.mpd.vocab import Vocab

from .base import POPULARITY_TIE_BREAK, Recommender, popularity_scores
from .store import config_from, load_tensors, read_manifest, save_tensors, write_manifest
from .title_memory import TitleMemory, group_means
from .validation import validate

log = logging.getLogger(__name__)

Teacher = Callable[[np.ndarray], torch.Tensor]  # corpus rows → targets [len(rows), n_items]
CHAR_VOCAB_FILE = "charvocab.json"
WEIGHTS_FILE = "weights.pt"
CHECKPOINT_FILE = "cnn.ckpt.pt"  # last epoch: weights, optimizer, progress
BEST_FILE = "cnn.best.pt"  # weights of the best epoch so far
TITLE_WEIGHTS = ("count", "sqrt", "one")


@dataclass
class CNNConfig:
    """Settings of the title model: MMCF's network, Adam lr 0.001 and batch 150. Ours by default (measured on
    20,000 synthetic playlists, benchmarks/titles.py): the Unicode normaliser, tracks-only outputs, a
    teacher averaged per distinct title, the title memory blended in. `CNNConfig.reference()` restores the
    published choices."""

    normalizer: str = (
        "unicode"  # "unicode" (ours) or "reference" (a–z 0–9 / < > + -, 25 characters)
    )
    max_chars: int = 40  # longer titles are cut
    min_char_count: int = 2  # rarer characters map to the unknown id
    embedding: int = 50
    widths: tuple[int, ...] = (3, 5, 7, 9)
    filters: int = 100
    keep: float = 0.8  # dropout keep probability before the dense layer
    artists: bool = (
        False  # also predict artists (the reference); tracks only is ~1.8× faster, as good
    )
    negative_weight: float = 0.55  # loss −Σ [y log p + w (1 − y) log(1 − p)], as the DAE
    title_weight: str = "count"  # weight of a distinct title in the loss: "count" | "sqrt" | "one"
    epochs: int = 12  # at most; early stopping on validation R-precision
    patience: int = 2  # epochs without improvement before stopping
    lr: float = 0.001
    embedding_lr: float = 1.0  # the character embeddings' learning rate, times lr
    batch: int = 150  # distinct titles per step
    teacher: bool = True  # learn the trained DAE's outputs (`requires` the DAE); False: true items
    teacher_rows: int = 0  # playlists per title whose teacher targets are averaged (0: all of them)
    teacher_top: int = 5000  # largest entries kept of each title's mean teacher target
    memory_weight: float = (
        0.5  # blend with the title memory for titles seen in training (0: CNN alone)
    )
    memory_top: int = 1000  # tracks remembered per title
    chunk_items: int = 65536  # output items per chunk of the fused loss
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
        if self.normalizer not in MODES:
            raise UserError(
                f"unknown title normaliser {self.normalizer!r}; choose one of {', '.join(MODES)}"
            )
        if self.device not in ("cpu", "cuda", "auto"):
            raise UserError(f"title model device must be cpu, cuda or auto, not {self.device!r}")
        if self.max_chars < max(self.widths):
            raise UserError(
                f"max_chars {self.max_chars} is shorter than the widest convolution ({max(self.widths)})"
            )
        if self.title_weight not in TITLE_WEIGHTS:
            raise UserError(
                f"unknown title weight {self.title_weight!r}; choose one of {', '.join(TITLE_WEIGHTS)}"
            )

    @property
    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    @classmethod
    def reference(cls, **changes) -> "CNNConfig":
        """MMCF's published setting: the reference normaliser (titles cut at 25 characters), artists predicted,
        no title memory."""
        return cls(
            **{
                "normalizer": "reference",
                "max_chars": 25,
                "artists": True,
                "memory_weight": 0.0,
                **changes,
            }
        )


class TitleNet(nn.Module):
    """Character ids [B, L] (padded with PAD, L ≥ the widest filter) → logits over [tracks | artists].

    The max-pool sees only windows that start inside the title (a title shorter than a filter: its first
    window), so a title's scores do not depend on how far its batch is padded.
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


@dataclass
class TitleData:
    """Distinct normalised titles of the training rows and the corpus rows that carry each."""

    texts: list[str]
    groups: list[np.ndarray]

    @property
    def counts(self) -> np.ndarray:
        return np.array([len(g) for g in self.groups], dtype=np.int64)


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

    # ---- training -------------------------------------------------------------------------------------------

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
        """Train on the corpus, keeping the epoch best on validation R-precision (the last without `validation`).

        With `members["dae"]` (and `teacher` on), the targets of corpus rows are that trained DAE's
        `teacher_targets`; without it they are the true [tracks | artists] vectors. The validation playlists are asked with their title alone
        (`Validation.title_only`). With `checkpoint_dir`, every epoch is saved there; with `resume`, an
        interrupted run of the same data and settings continues from its last epoch.
        """
        cfg = self.config
        self.vocab = vocab
        teacher = dae_teacher(members["dae"], corpus) if cfg.teacher and members else None
        rows = np.arange(len(corpus))
        queries, answers = validation.title_only() if validation else ([], {})
        self.chars = CharVocab.build(
            (corpus.titles[r] for r in rows), cfg.min_char_count, cfg.normalizer
        )
        data = group_titles(corpus, rows, self.chars)
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
            targets = teacher_targets(
                teacher, data, self.n_outputs, cfg.teacher_rows, cfg.teacher_top, cfg.seed
            )
        torch.manual_seed(cfg.seed)
        self.net = TitleNet(len(self.chars), self.n_outputs, cfg).to(cfg.torch_device)
        self._init_bias(corpus, vocab, rows)
        optimizer = self._optimizer()
        state = _TrainState()
        directory = Path(checkpoint_dir) if checkpoint_dir else None
        fingerprint = self._fingerprint(corpus, rows, teacher is not None, queries)
        if resume and directory is not None and (directory / CHECKPOINT_FILE).exists():
            state = self._resume(directory, optimizer, fingerprint)
        ids = self.chars.encode_batch(data.texts, cfg.max_chars, cfg.max_chars)
        weights = title_weights(data.counts, cfg.title_weight)
        while not state.done:
            epoch = state.epoch + 1
            start = time.perf_counter()
            loss = self._epoch(epoch, optimizer, ids, weights, targets)
            score = self._validate(queries, answers)
            improved = state.record(epoch, score, self.net, cfg.patience, cfg.epochs)
            log.info(
                "title model epoch %d: loss %.2f, validation R-precision %s (%.1fs)",
                epoch,
                loss,
                score,
                time.perf_counter() - start,
            )
            if directory is not None:
                if improved:
                    save_tensors(directory / BEST_FILE, state.best)
                save_tensors(
                    directory / CHECKPOINT_FILE, state.to_dict(self.net, optimizer, fingerprint)
                )
        self.net.load_state_dict(state.best)
        self.history, self.best_epoch = state.history, state.best_epoch
        self.net.eval()
        if cfg.memory_weight > 0:  # after the epochs: validation picks the epoch of the CNN alone
            self.memory = TitleMemory.build(corpus, vocab, data.texts, data.groups, cfg.memory_top)
        return self

    def _optimizer(self) -> torch.optim.Optimizer:
        """Adam; the character embeddings may take a larger step (a rare character is in few batches)."""
        embed = list(self.net.embed.parameters())
        rest = [p for name, p in self.net.named_parameters() if not name.startswith("embed.")]
        cfg = self.config
        return torch.optim.Adam(
            [{"params": rest}, {"params": embed, "lr": cfg.lr * cfg.embedding_lr}],
            lr=cfg.lr,
            fused=True,
        )

    def _init_bias(self, corpus: PlaylistCorpus, vocab: Vocab, rows: np.ndarray) -> None:
        """Start at the best constant prediction: each item's playlist share under the weighted loss."""
        share = np.asarray(item_matrix(corpus, vocab, rows).mean(axis=0)).ravel()[: self.n_outputs]
        w = self.config.negative_weight
        p = np.clip(share / (share + w * (1 - share)), 1e-6, 1 - 1e-6)
        with torch.no_grad():
            self.net.out.bias.copy_(torch.from_numpy(np.log(p / (1 - p))).float())

    def _epoch(
        self,
        epoch: int,
        optimizer: torch.optim.Optimizer,
        ids: np.ndarray,
        weights: np.ndarray,
        targets: sp.csr_matrix,
    ) -> float:
        """One pass over the distinct titles in a seeded order; the mean weighted loss."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        self.net.train()
        order = rng.permutation(len(ids))
        total = 0.0
        for start in tqdm(range(0, len(order), cfg.batch), desc=f"cnn epoch {epoch}", leave=False):
            batch = order[start : start + cfg.batch]
            x = torch.from_numpy(trim(ids[batch], max(cfg.widths))).to(cfg.torch_device)
            y = SparseTargets.of(targets[batch], cfg.torch_device)
            w = torch.from_numpy(weights[batch] / len(batch)).to(cfg.torch_device)
            loss = output_loss(
                self.net.features(x), self.net.out, w, y, cfg.negative_weight, cfg.chunk_items
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        return total / len(order)

    def _validate(self, queries: Sequence[Query], answers: dict[int, Answer]) -> float | None:
        if not queries:
            return None
        usable = [q for q in queries if self.chars.normalize(q.title)]
        table = validate(self, usable, {q.pid: answers[q.pid] for q in usable})
        return float(table.loc["all", "r_precision"])

    def _fingerprint(
        self, corpus: PlaylistCorpus, rows: np.ndarray, teacher: bool, queries: Sequence[Query]
    ) -> str:
        """What a checkpoint must match to be resumed: settings, vocabulary, training rows and titles."""
        config = {k: v for k, v in asdict(self.config).items() if k != "device"}
        digest = hashlib.sha1(
            ujson.dumps([config, teacher, self.n_outputs, self.chars.chars]).encode()
        )
        digest.update(corpus.pids[rows].tobytes())
        digest.update("\n".join(corpus.titles[r] for r in rows).encode())
        digest.update(ujson.dumps(sorted(q.pid for q in queries)).encode())
        return digest.hexdigest()

    def _resume(
        self, directory: Path, optimizer: torch.optim.Optimizer, fingerprint: str
    ) -> "_TrainState":
        path = directory / CHECKPOINT_FILE
        saved = load_tensors(path)
        if saved.get("fingerprint") != fingerprint:
            raise UserError(
                f"{path}: checkpoint of a different training run (other data or settings); "
                "remove the checkpoint or train without --resume"
            )
        self.net.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = _TrainState.from_dict(saved, load_tensors(directory / BEST_FILE))
        log.info(
            "title model: resuming after epoch %d (best %.4f at epoch %d)",
            state.epoch,
            state.best_score,
            state.best_epoch,
        )
        return state

    # ---- inference ------------------------------------------------------------------------------------------

    def title_scores(self, titles: Sequence[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Track scores [B, n_tracks] from titles alone, and a mask [B] of the titles the model can use.

        A title is unusable when it normalises to nothing or none of its characters was seen in training;
        its row is zeros.
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
        """Scores from the titles alone; playlists without a usable title get the popularity ranking."""
        scores, usable = self.title_scores([q.title for q in queries])
        if not usable.all():
            log.warning(
                "%d of %d playlists have no usable title: ranked by popularity",
                int((~usable).sum()),
                len(queries),
            )
        return scores + POPULARITY_TIE_BREAK * popularity_scores(self.vocab, len(queries))

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

    # ---- storage --------------------------------------------------------------------------------------------

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
        manifest = read_manifest(directory, cls.kind, vocab)
        model = cls(config_from(CNNConfig, manifest["config"], Path(directory) / "manifest.json"))
        model.vocab = vocab
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
            model.net.load_state_dict(load_tensors(directory / WEIGHTS_FILE))
        except RuntimeError as exc:
            raise UserError(
                f"{directory / WEIGHTS_FILE}: weights do not fit the title model ({exc})"
            ) from None
        model.net.to(model.config.torch_device).eval()
        model.memory = TitleMemory.load(directory, vocab.n_tracks)
        model.history = list(manifest.get("validation_r_precision", []))
        model.best_epoch = manifest.get("best_epoch", 0)
        return model


# ---- training helpers ---------------------------------------------------------------------------------------


@dataclass
class _TrainState:
    epoch: int = 0
    best_epoch: int = 0
    best_score: float = -1.0
    best: dict | None = None
    history: list | None = None
    done: bool = False

    def record(
        self, epoch: int, score: float | None, net: nn.Module, patience: int, max_epochs: int
    ) -> bool:
        """Note an epoch's validation score (None: no validation, the latest epoch counts as best);
        True if it is the best so far."""
        self.epoch = epoch
        self.history = (self.history or []) + [score]
        improved = score is None or score > self.best_score
        if improved:
            self.best_epoch, self.best_score = epoch, (self.best_score if score is None else score)
            self.best = {k: v.detach().clone() for k, v in net.state_dict().items()}
        self.done = epoch >= max_epochs or epoch - self.best_epoch >= patience
        return improved

    def to_dict(self, net: nn.Module, optimizer: torch.optim.Optimizer, fingerprint: str) -> dict:
        """The checkpoint (the best weights live in their own file)."""
        return {
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": self.epoch,
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "history": self.history,
            "done": self.done,
            "fingerprint": fingerprint,
        }

    @classmethod
    def from_dict(cls, saved: dict, best: dict) -> "_TrainState":
        return cls(
            saved["epoch"],
            saved["best_epoch"],
            saved["best_score"],
            best,
            list(saved["history"]),
            saved["done"],
        )


def group_titles(corpus: PlaylistCorpus, rows: np.ndarray, chars: CharVocab) -> TitleData:
    """Group the rows by normalised title; rows whose title normalises to nothing are left out."""
    groups: dict[str, list[int]] = {}
    for row in rows:
        text = chars.normalize(corpus.titles[row])
        if text:
            groups.setdefault(text, []).append(int(row))
    texts = sorted(groups)
    return TitleData(texts, [np.array(groups[t], dtype=np.int64) for t in texts])


def mean_targets(corpus: PlaylistCorpus, vocab: Vocab, data: TitleData) -> sp.csr_matrix:
    """Per distinct title, the mean binary [tracks | artists] vector of its playlists (sparse, float32)."""
    return group_means(corpus, vocab, data.groups)


def dae_teacher(dae: Recommender, corpus: PlaylistCorpus) -> Teacher:
    """The frozen DAE's targets for corpus rows, which the title model learns to reproduce."""
    return lambda rows: dae.teacher_targets(corpus, rows)


def teacher_targets(
    teacher: Teacher,
    data: TitleData,
    n_outputs: int,
    per_title: int,
    top: int,
    seed: int,
    rows_per_call: int = 1024,
    call_bytes: int = 2**30,
) -> sp.csr_matrix:
    """Per distinct title, its mean teacher target over up to `per_title` of its playlists (a seeded sample;
    0: all), keeping the `top` largest entries (sparse, float32, [titles, n_outputs]).

    Computed once before training: the teacher is frozen, and the sparse targets make every step as cheap
    as training against the true items. Titles go in blocks of about `rows_per_call` playlists; the
    teacher sees at most `call_bytes` of output at once (its rows are ≤ 2 × n_outputs wide), so a title
    with 10,000 playlists or a 2 M-item vocabulary stays within memory.
    """
    rng = np.random.default_rng([seed, 13])
    picked = [
        g
        if len(g) <= per_title or per_title <= 0
        else np.sort(rng.choice(g, per_title, replace=False))
        for g in data.groups
    ]
    call_rows = max(rows_per_call, call_bytes // (8 * n_outputs))
    blocks, titles, size = [], [], 0
    for t, rows in enumerate(tqdm(picked, desc="teacher targets", leave=False)):
        titles.append(t)
        size += len(rows)
        if size >= rows_per_call or t == len(picked) - 1:
            blocks.append(
                _top_means(teacher, [picked[i] for i in titles], n_outputs, top, call_rows)
            )
            titles, size = [], 0
    return sp.vstack(blocks).tocsr()


def _top_means(
    teacher: Teacher, groups: list[np.ndarray], n_outputs: int, top: int, call_rows: int
) -> sp.csr_matrix:
    rows = np.concatenate(groups)
    owner = torch.from_numpy(np.repeat(np.arange(len(groups)), [len(g) for g in groups]))
    means = torch.zeros(len(groups), n_outputs)
    for start in range(0, len(rows), call_rows):
        y = teacher(rows[start : start + call_rows])[:, :n_outputs].float().cpu()
        means.index_add_(0, owner[start : start + call_rows], y)
    means /= torch.tensor([len(g) for g in groups], dtype=torch.float32)[:, None]
    values, cols = torch.topk(means, min(top, n_outputs), dim=1)
    keep = values > 0
    row_of = torch.arange(len(groups))[:, None].expand_as(cols)
    return sp.csr_matrix(
        (values[keep].numpy(), (row_of[keep].numpy(), cols[keep].numpy())),
        shape=(len(groups), n_outputs),
        dtype=np.float32,
    )


def title_weights(counts: np.ndarray, kind: str) -> np.ndarray:
    """Loss weight of each distinct title, mean 1 over titles."""
    w = {"count": counts.astype(np.float64), "sqrt": np.sqrt(counts), "one": np.ones(len(counts))}[
        kind
    ]
    return (w / w.mean()).astype(np.float32)


def weighted_bce(
    logits: torch.Tensor, targets: torch.Tensor, negative_weight: float
) -> torch.Tensor:
    """−Σ_items [y log p + w (1 − y) log(1 − p)] per row, from logits (the plain form, for tests)."""
    loss = targets * F.softplus(-logits) + negative_weight * (1 - targets) * F.softplus(logits)
    return loss.sum(dim=1)


@dataclass
class SparseTargets:
    """Soft targets of a batch as (row, column, value) triples sorted by column."""

    rows: torch.Tensor
    cols: torch.Tensor
    values: torch.Tensor

    @classmethod
    def of(cls, matrix: sp.csr_matrix, device: torch.device) -> "SparseTargets":
        coo = matrix.tocsc().tocoo()
        return cls(
            *(
                torch.from_numpy(np.ascontiguousarray(a)).to(device)
                for a in (
                    coo.row.astype(np.int64),
                    coo.col.astype(np.int64),
                    coo.data.astype(np.float32),
                )
            )
        )


def output_loss(
    features: torch.Tensor,
    layer: nn.Linear,
    row_weights: torch.Tensor,
    targets: SparseTargets,
    negative_weight: float,
    chunk: int,
) -> torch.Tensor:
    """Σ_rows row_weight · weighted_bce(layer(features), targets), without autograd's chain over B × items."""
    return _OutputLoss.apply(
        features,
        layer.weight,
        layer.bias,
        row_weights,
        targets.rows,
        targets.cols,
        targets.values,
        negative_weight,
        chunk,
    )


class _OutputLoss(torch.autograd.Function):
    """The dense layer and its weighted cross-entropy in one pass over item chunks, gradients included.

    Per row, Σ_i [(w + (1 − w) y) softplus(z) − y z] with z = h Wᵀ + b, whose gradient in z is
    (w + (1 − w) y) σ(z) − y: a dense w·softplus(z) / w·σ(z) part plus corrections at the non-zero targets.
    """

    @staticmethod
    def forward(ctx, h, weight, bias, row_weights, rows, cols, values, negative_weight, chunk):
        w, n_items = negative_weight, weight.shape[0]
        grad_h, grad_w, grad_b = (
            torch.zeros_like(h),
            torch.empty_like(weight),
            torch.empty_like(bias),
        )
        scaled_h = h * row_weights[:, None]
        total = torch.zeros((), dtype=torch.float64, device=h.device)
        bounds = torch.searchsorted(
            cols, torch.arange(0, n_items + chunk, chunk, device=cols.device)
        ).tolist()
        for i, start in enumerate(range(0, n_items, chunk)):
            stop = min(start + chunk, n_items)
            lo, hi = bounds[i], bounds[i + 1]
            r, c, v = rows[lo:hi], cols[lo:hi] - start, values[lo:hi]
            z = torch.addmm(bias[start:stop], h, weight[start:stop].T)
            soft = F.softplus(z)
            zp = z[r, c]
            per_row = (w * soft.sum(1)).index_add_(0, r, v * ((1 - w) * soft[r, c] - zp))
            total += (per_row * row_weights).sum(dtype=torch.float64)
            g = torch.sigmoid_(z).mul_(w)
            g[r, c] += v * ((1 - w) * torch.sigmoid(zp) - 1)
            grad_w[start:stop] = g.T @ scaled_h
            g.mul_(row_weights[:, None])
            grad_h.addmm_(g, weight[start:stop])
            grad_b[start:stop] = g.sum(0)
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        return total.to(h.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        grads = ctx.saved_tensors
        if grad_out.item() != 1.0:  # loss.backward() needs no extra pass over the weight gradient
            grads = tuple(g * grad_out for g in grads)
        return *grads, *([None] * 6)


def trim(ids: np.ndarray, min_width: int) -> np.ndarray:
    """Drop the padding columns no row of the batch needs (keeping at least `min_width`)."""
    used = np.flatnonzero((ids != PAD).any(axis=0))
    return ids[:, : max(int(used[-1]) + 1 if len(used) else 0, min_width)]
