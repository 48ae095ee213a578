"""The DAE network: sparse input → sigmoid hidden → sigmoid over all items (tied or untied)."""

from __future__ import annotations

import math

import scipy.sparse as sp
import torch
import torch.nn.functional as F

from ..training.losses import SparseTargets, output_loss
from .batches import Inputs, csr_inputs


class DAENet(torch.nn.Module):
    """Sparse input → sigmoid hidden → sigmoid over all items; tied means decoder = encoder
    weights."""

    def __init__(
        self, n_items: int, hidden: int, generator: torch.Generator, init_scale: float = 0.0
    ) -> None:
        super().__init__()
        # Glorot uniform (tf.get_variable's default) unless a scale is given: uniform with that std
        bound = (
            math.sqrt(6.0 / (n_items + hidden)) if init_scale <= 0 else math.sqrt(3.0) * init_scale
        )
        self.w_enc = torch.nn.Parameter(
            torch.empty(n_items, hidden).uniform_(-bound, bound, generator=generator)
        )
        self.b_enc = torch.nn.Parameter(torch.zeros(hidden))
        self.register_parameter("w_dec", None)
        self.b_dec = torch.nn.Parameter(torch.zeros(n_items))

    @classmethod
    def holding(cls, tensors: dict[str, torch.Tensor]) -> "DAENet":
        """A frozen network that holds the given weights (not copied, nothing initialised)."""
        net = cls(0, tensors["w_enc"].shape[1], torch.Generator())
        for name, value in tensors.items():
            setattr(net, name, torch.nn.Parameter(value, requires_grad=False))
        return net

    @property
    def tied(self) -> bool:
        return self.w_dec is None

    @property
    def decoder(self) -> torch.Tensor:
        return self.w_enc if self.w_dec is None else self.w_dec

    def untie(self) -> None:
        """Give the decoder its own weights, starting from the tied ones."""
        self.w_dec = torch.nn.Parameter(self.w_enc.detach().clone())

    def encode(self, batch: Inputs, sparse_grad: bool = False) -> torch.Tensor:
        pre = F.embedding_bag(
            batch.ids,
            self.w_enc,
            batch.offsets,
            mode="sum",
            per_sample_weights=batch.weights,
            sparse=sparse_grad,
        )
        return torch.sigmoid(pre + self.b_enc)

    def decode(
        self,
        hidden: torch.Tensor,
        stop: int | None = None,
        bf16: bool = False,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sigmoid outputs of the first `stop` items (all by default), written into `out` if given
        (in fp32 the logits are computed there too: no second batch × items block)."""
        w, b = self.decoder[:stop], self.b_dec[:stop]
        if bf16:
            logits = torch.addmm(b.bfloat16(), hidden.bfloat16(), w.bfloat16().T).float()
        else:
            logits = torch.addmm(b, hidden, w.T, out=out)
        return torch.sigmoid(logits, out=out)

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"w_enc": self.w_enc, "b_enc": self.b_enc, "b_dec": self.b_dec}
        if self.w_dec is not None:
            out["w_dec"] = self.w_dec
        return {k: v.detach().cpu().clone() for k, v in out.items()}

    def assign(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load weights (untying first if they are untied)."""
        if "w_dec" in tensors and self.tied:
            self.untie()
        with torch.no_grad():
            for name, value in tensors.items():
                getattr(self, name).copy_(value)

    def loss(
        self,
        hidden: torch.Tensor,
        targets: SparseTargets,
        neg_weight: float,
        chunk: int,
        bf16: bool = False,
    ) -> torch.Tensor:
        """The weighted cross-entropy of the decoder: exact over all items, or over the sampled
        columns if the targets have them."""
        return output_loss(hidden, self.decoder, self.b_dec, targets, neg_weight, chunk, bf16=bf16)

    @torch.no_grad()
    def predict(
        self,
        inputs: sp.csr_matrix,
        norm: str,
        device: torch.device,
        stop: int | None = None,
        batch_size: int = 512,
        bf16: bool = False,
    ) -> torch.Tensor:
        """Sigmoid outputs of the first `stop` items (all by default) for weighted input rows
        (normalised here), on the CPU."""
        out = torch.empty(inputs.shape[0], self.b_dec[:stop].shape[0])  # filled batch by batch
        for start in range(0, inputs.shape[0], batch_size):
            batch = csr_inputs(inputs[start : start + batch_size], norm).to(device)
            rows = out[start : start + batch_size]
            if device.type == "cpu":
                self.decode(self.encode(batch), stop, bf16, out=rows)
            else:
                rows.copy_(self.decode(self.encode(batch), stop, bf16))
        return out
