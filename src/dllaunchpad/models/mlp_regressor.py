"""The Boston housing regressor of chapter 31.8.3: Dense(128, ReLU) -> Dense(48, ReLU) -> Dense(1).

Keras translation: Glorot-uniform/zero-bias Dense layers (dense.py); loss 'mean_squared_error'
-> F.mse_loss; metric 'mean_absolute_error' -> logged as `{train,val}_mae`. Keras averages both
over the epoch's batches weighted by batch size, as Lightning's epoch logging does here.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from dllaunchpad.models.dense import dense_stack
from dllaunchpad.models.supervised import SupervisedModule


class MLPRegressor(SupervisedModule):
    def __init__(self, in_features: int, hidden: list[int], optimizer: dict):
        super().__init__()
        self.net = dense_stack(in_features, hidden, 1)  # linear output: "arbitrary output values"
        self.optimizer_spec = dict(optimizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        pred = self(x)
        loss = F.mse_loss(pred, y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        self.log(f"{stage}_mae", F.l1_loss(pred, y), on_step=False, on_epoch=True, batch_size=len(y))
        return loss
