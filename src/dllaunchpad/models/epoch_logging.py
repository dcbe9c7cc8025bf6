"""Epoch metrics at the cost of a running sum: the LightningModule base every model here uses.

Every module logs per-epoch means, `self.log(name, value, on_step=False, on_epoch=True,
batch_size=n)`, as Keras' progress line shows them. Lightning does that bookkeeping in a
torchmetrics object per key, and each `self.log` call first moves that object to the value's
device by walking its attributes: about 0.5 ms per call on a CPU. MNIST's MLP logs 2 values per
training step, whose arithmetic takes about 1.2 ms: with Lightning's per-batch bookkeeping that
made an epoch 1.9x as long as a plain loop's (benchmarks/training_overhead.py).

`EpochLoggingModule.log` keeps such epoch-only values as a running sum per key instead, with
Lightning's own arithmetic (a float32 `sum + value * batch_size` and an integer count), and
passes each epoch's mean to Lightning once: after the last training batch, and at the end of
each validation epoch. The logged numbers are bit for bit the ones Lightning computed before;
callbacks see them at the same hooks (`on_train_epoch_end`, where the history, early stopping
and checkpoint callbacks read `trainer.callback_metrics`). Any other kind of `self.log` call
(per step, min/max reductions, no batch_size, during sanity checks or tests) goes to Lightning
unchanged. Under DDP the sums and counts are added over the ranks before the mean.
"""

from __future__ import annotations

import math

import lightning as L
import torch
from lightning.pytorch.utilities.data import extract_batch_size


class EpochLoggingModule(L.LightningModule):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # stage ("train" | "val") -> name -> [float32 sum of value * batch_size, count, log kwargs]
        self._epoch_sums: dict[str, dict[str, list]] = {}
        # the mini-batch being stepped on, where a subclass says (SupervisedModule does)
        self._batch_for_size = None

    def _accumulating_stage(self) -> str | None:
        """The stage whose epoch means we keep, or None to leave the call to Lightning."""
        trainer = self._trainer
        if trainer is None or trainer.sanity_checking:
            return None
        if trainer.training and math.isfinite(trainer.num_training_batches):
            return "train"
        if trainer.validating:
            return "val"
        return None

    # Eager under torch.compile (as Lightning's own metric update is): traced, the Python count
    # would be a constant that changes every step, and each step would recompile.
    @torch.compiler.disable
    def log(self, name, value, *, prog_bar=False, logger=None, on_step=None, on_epoch=None,
            reduce_fx="mean", batch_size=None, **kwargs):
        if batch_size is None and self._batch_for_size is not None:
            # Lightning would take the size from the batch it fetched, which for a StepGroup
            # is the group, not the mini-batch being logged: measure the mini-batch, its way.
            batch_size = extract_batch_size(self._batch_for_size)
        # (otherwise, without batch_size, Lightning finds the size in the batch: left to it)
        ours = (on_step is False and on_epoch is True and reduce_fx == "mean" and batch_size is not None
                and isinstance(value, torch.Tensor) and value.numel() == 1)
        stage = self._accumulating_stage() if ours else None
        if stage is None:
            return super().log(name, value, prog_bar=prog_bar, logger=logger, on_step=on_step, on_epoch=on_epoch,
                               reduce_fx=reduce_fx, batch_size=batch_size, **kwargs)
        value = value.detach().reshape(())
        if value.dtype not in (torch.float32, torch.float64):
            value = value.to(torch.get_default_dtype())
        sums = self._epoch_sums.setdefault(stage, {})
        if name not in sums:
            sums[name] = [torch.zeros((), dtype=torch.get_default_dtype(), device=value.device), 0,
                          {"prog_bar": prog_bar, "logger": logger, **kwargs}]
        entry = sums[name]
        entry[0] = entry[0] + value * batch_size   # Lightning's `self.value + value * batch_size`
        entry[1] += batch_size

    def _log_epoch_means(self, stage: str) -> None:
        distributed = self._trainer is not None and self.trainer.world_size > 1
        for name, (total, count, kwargs) in self._epoch_sums.pop(stage, {}).items():
            count = torch.tensor(count, device=total.device)
            if distributed:
                # Under DDP each rank summed its own shard of the epoch: the epoch's mean is over
                # all of them, as one process would log it (Lightning's sync_dist would average
                # the ranks' means instead). Every rank logs the same names in the same order.
                total = self.trainer.strategy.reduce(total, reduce_op="sum")
                count = self.trainer.strategy.reduce(count.to(total.dtype), reduce_op="sum")
            mean = total / count
            super().log(name, mean, on_step=False, on_epoch=True, batch_size=1, **kwargs)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if batch_idx + 1 >= self.trainer.num_training_batches:  # the epoch's last batch
            self._log_epoch_means("train")

    def on_validation_epoch_end(self):
        self._log_epoch_means("val")
