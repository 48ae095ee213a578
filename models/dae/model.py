"""The DAE recommender: one network per variant, queries routed by category."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from mmcf.mpd.challenge import Query
from mmcf.mpd.errors import UserError
from mmcf.mpd.matrix import PlaylistCorpus, item_matrix, query_matrix
from mmcf.mpd.split import Validation
from mmcf.mpd.vocab import Vocab

from .. import distributed
from ..base import Recommender
from ..store import load_tensors, save_tensors, write_manifest
from ..training.device import resolve_device
from ..training.trainer import Checkpoints, fingerprint, settings, train
from .batches import TrainingData
from .config import VARIANTS, DAEConfig, variant_for
from .network import DAENet
from .training import DAETraining


class DAE(Recommender):
    """The MMCF denoising autoencoder: one network per variant, queries routed by category."""

    kind = "dae"
    config_class = DAEConfig
    # each network is early-stopped on the validation playlists of its categories
    uses_validation = True
    resumable = True  # fit takes checkpoint_dir and resume
    data_parallel = True  # fit trains data-parallel under torchrun (models/distributed.py)

    def __init__(self, config: DAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or DAEConfig()
        self.nets: dict[str, DAENet] = {}
        self.history: dict[str, list[dict]] = {}
        self.device = resolve_device(self.config.device)

    # ---- routing and scoring

    def route(self, query: Query) -> str:
        """The trained network that answers a query (its variant if trained, else the first)."""
        name = variant_for(query)
        return name if name in self.nets else next(iter(self.nets))

    def _outputs(self, net: DAENet, inputs: sp.csr_matrix, stop: int | None) -> torch.Tensor:
        cfg = self.config
        return net.predict(inputs, cfg.norm, self.device, stop, cfg.score_batch, cfg.bf16)

    def score(self, queries: Sequence[Query]) -> torch.Tensor:
        self._check_trained()
        scores = torch.empty(len(queries), self.vocab.n_tracks)
        names = [self.route(q) for q in queries]
        for name in dict.fromkeys(names):
            index = [i for i, n in enumerate(names) if n == name]
            inputs = query_matrix([queries[i] for i in index], self.vocab, self.config.inputs)
            scores[index] = self._outputs(self.nets[name], inputs, self.vocab.n_tracks)
        return scores

    def item_scores(self, inputs: sp.csr_matrix, config_name: str) -> torch.Tensor:
        """Sigmoid outputs [B, n_items] over tracks + artists for weighted input rows (normalised
        here)."""
        return self._outputs(self._network(config_name), inputs, None)

    def teacher_targets(
        self,
        corpus: PlaylistCorpus,
        rows: Sequence[int],
        keep: float = 0.01,
        seed: int = 0,
        config_name: str | None = None,
        outputs: int | None = None,
    ) -> torch.Tensor:
        """Soft targets [len(rows), outputs] for the title model: max(true items, DAE output), over
        the first `outputs` items (all of them by default; the title model's are the tracks).

        The DAE (network `config_name`, default the one serving category 1) sees each playlist's
        binary [tracks | artists] vector with each entry kept with probability `keep`.
        """
        self._check_trained()
        net = self._network(config_name or self.route(Query(pid=-1, category=1)))
        truth = item_matrix(corpus, self.vocab, rows).tocsr()
        rng = np.random.default_rng(seed)
        dropped = truth.copy()
        dropped.data = dropped.data * (rng.random(dropped.nnz) < keep)
        dropped.eliminate_zeros()
        out = self._outputs(net, dropped, outputs)
        coo = truth[:, : out.shape[1]].tocoo()
        out[
            torch.from_numpy(coo.row.astype(np.int64)), torch.from_numpy(coo.col.astype(np.int64))
        ] = 1.0
        return out

    def _network(self, name: str) -> DAENet:
        """The trained network `name`."""
        self._check_trained()
        if name not in self.nets:
            raise UserError(f"DAE network {name!r} not trained (have {', '.join(self.nets)})")
        return self.nets[name]

    def _check_trained(self) -> None:
        if not self.nets:
            raise UserError("the DAE is not trained: call fit or load first")

    # ---- training

    def fit(
        self,
        corpus: PlaylistCorpus,
        vocab: Vocab,
        validation: Validation | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> "DAE":
        """Train every configured network on the corpus, each early-stopped on its validation
        categories (without `validation`, each runs all its epochs).

        Under torchrun (WORLD_SIZE > 1) the processes train data-parallel: see `DAETraining.epoch`.
        """
        distributed.init_from_env(self.device)
        self.vocab = vocab
        cfg = self.config
        data = TrainingData(corpus, vocab, np.arange(len(corpus)))
        if len(data) == 0:
            raise UserError("no training playlists left for the DAE")
        run_id = fingerprint(
            data.ids,
            data.lengths,
            data.targets.shape[1],
            settings(cfg, ignore=("device", "score_batch")),
        )
        for index, name in enumerate(cfg.configs):
            variant = VARIANTS[name]
            queries, answers = (
                validation.of_categories(variant.categories) if validation else ([], {})
            )
            task = DAETraining(cfg, variant, index, data, vocab, queries, answers, self.device)
            checkpoints = Checkpoints(checkpoint_dir, f"dae-{name}") if checkpoint_dir else None
            progress, best = train(task, checkpoints, resume, run_id)
            self.nets[name], self.history[name] = task.final_net(best), progress.history
        return self

    # ---- files

    def save(self, directory: str | Path) -> None:
        self._check_trained()
        directory = Path(directory)
        networks = list(self.nets)
        write_manifest(
            directory, self.kind, self.vocab, self.config, networks=networks, history=self.history
        )
        for name, net in self.nets.items():
            save_tensors(directory / f"{name}.pt", net.tensors())

    @classmethod
    def load(cls, directory: str | Path, vocab: Vocab) -> "DAE":
        model, manifest = cls.from_manifest(directory, vocab)
        model.history = manifest.get("history", {})
        for name in manifest.get("networks", []):
            net = DAENet.holding(load_tensors(Path(directory) / f"{name}.pt"))
            model.nets[name] = net.to(model.device).eval()
        if not model.nets:
            raise UserError(f"{directory}: the DAE manifest lists no trained network")
        return model
