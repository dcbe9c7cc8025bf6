"""The plumbing every LightningModule here that trains on batches shares.

A subclass sets `self.optimizer_spec` (params.yaml's `optimizer:` block) and defines
`_step(batch, stage) -> loss`, logging its own epoch metrics as `<stage>_<name>`; training and
validation then differ only in the stage name.

Training uses Lightning's manual optimization, so that one Lightning batch may be a
`batches.StepGroup` of several mini-batches: one optimizer step per mini-batch, in order, as
if Lightning had fetched them one by one, without paying its per-batch bookkeeping for each
(see batches.py; train.fit turns the groups on for TensorDataModules). The step is the same as
Lightning's automatic one: zero the gradients, backward through the strategy (DDP gradient
averaging, mixed-precision scaling), clip when `gradient_clip_val` is set, step.
"""

from __future__ import annotations

from dllaunchpad.training.batches import StepGroup
from dllaunchpad.optim import build_optimizer
from dllaunchpad.models.epoch_logging import EpochLoggingModule


class SupervisedModule(EpochLoggingModule):
    optimizer_spec: dict
    # params.yaml trainer.gradient_clip_val; train.fit sets it (Lightning's Trainer cannot clip
    # under manual optimization). Clipping is by the global L2 norm, Lightning's default.
    gradient_clip_val: float | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.automatic_optimization = False

    def _step(self, batch, stage: str):
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        # The bare optimizer, unless fp16 mixed precision needs Lightning's loss-scaling step:
        # its wrapper adds two hook calls per step and nothing else we use.
        opt = self.optimizers(use_pl_optimizer=self.trainer.precision == "16-mixed")
        # Lightning's manual_backward is loss.backward() plus what only DDP (arming the gradient
        # reducer for each backward) and fp16 (loss scaling) need, and two hook calls per step.
        plain_backward = self.trainer.world_size == 1 and self.trainer.precision != "16-mixed"
        for mini_batch in batch if isinstance(batch, StepGroup) else (batch,):
            self._batch_for_size = mini_batch  # self.log calls without batch_size measure this one
            loss = self._step(mini_batch, "train")
            opt.zero_grad()
            loss.backward() if plain_backward else self.manual_backward(loss)
            if self.gradient_clip_val:
                self.clip_gradients(opt, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")
            opt.step()
        self._batch_for_size = None

    def validation_step(self, batch, batch_idx):
        self._batch_for_size = batch
        self._step(batch, "val")
        self._batch_for_size = None

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_spec)
