"""The LightningModule every classifier of the chapter shares (MLPs and CNNs).

Keras translation: the chapter ends its classifiers with `Dense(k, activation='softmax')` and
trains with `categorical_crossentropy` on one-hot targets (or, for RPS, a logits layer with
`SparseCategoricalCrossentropy(from_logits=True)`). All of these are F.cross_entropy on the
logits of the last Dense layer with integer targets: the network returns logits and
`predict_proba` applies the softmax. (Keras clips softmax probabilities to [1e-7, 1 - 1e-7]
before the log when it is not given logits; the loss on logits has no clip, which only matters
for a loss per example above -log(1e-7) = 16.1.)

Logged per epoch, with Keras' names: `{train,val}_loss` is the objective Keras reports (cross
entropy plus any weight penalty, as Keras adds `model.losses` to both), `{train,val}_accuracy`,
and `{train,val}_cross_entropy` when a penalty makes it differ from the loss. Training values
are the batch-size-weighted mean over the epoch's batches, like Keras' progress line.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.models.regularization import l1_penalty, l2_penalty
from dllaunchpad.models.supervised import SupervisedModule


class Classifier(SupervisedModule):
    """`net` maps inputs to logits; `penalised` returns the weights under an L1 penalty `l1`
    and/or an L2 penalty `l2` (Keras' `regularizers.l2(lam)`: lam * sum w^2, no 1/2)."""

    def __init__(self, net: nn.Module, optimizer: dict, l1: float = 0.0, l2: float = 0.0):
        super().__init__()
        self.net = net
        self.optimizer_spec = dict(optimizer)
        self.l1 = float(l1)
        self.l2 = float(l2)

    def penalised(self) -> list[torch.Tensor]:
        return []

    def penalty(self) -> torch.Tensor:
        if not self.l1 and not self.l2:
            return torch.zeros((), device=self.device)
        if not self.l2:  # L1 alone: the same arithmetic as before L2 existed
            return l1_penalty(self.penalised(), self.l1)
        l2 = l2_penalty(self.penalised(), self.l2, half=False)
        return l1_penalty(self.penalised(), self.l1) + l2 if self.l1 else l2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=1)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        cross_entropy = F.cross_entropy(logits, y)
        penalised = self.l1 or self.l2
        loss = cross_entropy + self.penalty() if penalised else cross_entropy  # (+ 0 costs a step 2 ops)
        n = len(y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=n)
        self.log(f"{stage}_accuracy", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True,
                 batch_size=n)
        if penalised:
            self.log(f"{stage}_cross_entropy", cross_entropy, on_step=False, on_epoch=True, batch_size=n)
        return loss


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
