"""The plumbing every LightningModule here that trains on batches shares.

A subclass sets `self.optimizer_spec` (params.yaml's `optimizer:` block) and defines
`_step(batch, stage) -> loss`, logging its own epoch metrics as `<stage>_<name>`; training and
validation then differ only in the stage name.
"""

from __future__ import annotations

import lightning as L

from ..optim import build_optimizer


class SupervisedModule(L.LightningModule):
    optimizer_spec: dict

    def _step(self, batch, stage: str):
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_spec)
