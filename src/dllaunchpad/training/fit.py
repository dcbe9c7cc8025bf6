"""The one training loop every family uses: seeding, Lightning's Trainer, the runner's
callbacks (per-epoch history, early stopping, best weights, resumable epoch checkpoints).

``runners/train.py`` calls :func:`fit` for an experiment's model; families that fit several
models inside one experiment (k-fold cross-validation, sweeps) call it once per model.
Trainer settings (params.yaml `trainer:`, schema-checked): epochs, batch_size, devices,
precision, compile, limit_train_batches, gradient_clip_val, early_stopping {monitor, patience,
min_delta, mode, restore_best}, checkpoint_best {monitor, mode}.
"""

from __future__ import annotations

import csv
import io as _io
import os
import time
from pathlib import Path

from dllaunchpad.training import devices, resume


def _history_callback():
    import lightning as L

    class EpochHistory(L.Callback):
        """Collects every epoch-level logged metric (train_* and val_*) into rows."""

        def __init__(self):
            self.rows: list[dict] = []

        def on_train_epoch_end(self, trainer, pl_module):
            row = {"epoch": trainer.current_epoch + 1}
            for k, v in sorted(trainer.callback_metrics.items()):
                row[k] = float(v)
            self.rows.append(row)

        # saved with every checkpoint: a resumed run's history includes the epochs before the kill
        def state_dict(self):
            return {"rows": self.rows}

        def load_state_dict(self, state_dict):
            self.rows = list(state_dict["rows"])

    return EpochHistory()


def _best_weights_callback(monitor: str, mode: str):
    import copy

    import lightning as L

    class BestWeights(L.Callback):
        """Keeps an in-memory copy of the weights of the best epoch by `monitor` (the models
        here are small), like Keras' restore_best_weights; train() writes it to best.ckpt."""

        def __init__(self):
            self.monitor, self.mode = monitor, mode
            self.value, self.epoch, self.state = None, None, None

        def on_train_epoch_end(self, trainer, pl_module):
            if self.monitor not in trainer.callback_metrics:
                raise KeyError(f"checkpoint monitor {self.monitor!r} was not logged; logged: "
                               f"{sorted(trainer.callback_metrics)}")
            v = float(trainer.callback_metrics[self.monitor])
            better = self.value is None or (v < self.value if self.mode == "min" else v > self.value)
            if better:
                self.value, self.epoch = v, trainer.current_epoch + 1
                self.state = {k: t.detach().to("cpu", copy=True) for k, t in pl_module.state_dict().items()}

        def state_dict(self):
            return {"value": self.value, "epoch": self.epoch, "state": self.state}

        def load_state_dict(self, state_dict):
            self.value, self.epoch, self.state = state_dict["value"], state_dict["epoch"], state_dict["state"]

    return BestWeights()


def _callbacks(trainer_cfg: dict, extra: list) -> tuple[list, object, object]:
    """(all callbacks, the history callback, the best-weights callback or None)."""
    from lightning.pytorch.callbacks import EarlyStopping

    history = _history_callback()
    callbacks = [history]
    es = trainer_cfg.get("early_stopping")
    if es:
        callbacks.append(EarlyStopping(monitor=es["monitor"], patience=es["patience"],
                                       min_delta=es.get("min_delta", 0.0), mode=es.get("mode", "min"),
                                       check_on_train_epoch_end=True))
    best_cfg = trainer_cfg.get("checkpoint_best")
    if not best_cfg and es and es.get("restore_best"):
        best_cfg = {"monitor": es["monitor"], "mode": es.get("mode", "min")}
    best = _best_weights_callback(best_cfg["monitor"], best_cfg.get("mode", "min")) if best_cfg else None
    if best is not None:
        callbacks.append(best)
    return callbacks + list(extra), history, best


def history_csv(rows: list[dict]) -> str:
    keys = ["epoch"] + sorted({k for r in rows for k in r} - {"epoch"})
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{r[k]:.8g}" if isinstance(r.get(k), float) else r.get(k, "")) for k in keys})
    return buf.getvalue()


def ddp_plugins(n_devices: int) -> list:
    """Cluster-environment plugin for DDP over `n_devices` in this process.

    A Snakemake job on SLURM is ONE task holding N GPUs (gres gpu:N). Lightning, seeing
    SLURM_NTASKS, would assume srun started one process per device and either stop ("the number
    of tasks per node ... does not match") or wait for ranks that never come. With fewer SLURM
    tasks than devices we tell it to start the processes itself, as on a workstation.
    """
    ntasks = os.environ.get("SLURM_NTASKS")
    if n_devices > 1 and ntasks is not None and int(ntasks) < n_devices:
        from lightning.fabric.plugins.environments import LightningEnvironment

        return [LightningEnvironment()]
    return []


def make_trainer(trainer_cfg: dict, callbacks: list, *, want_gpu: bool, progress: bool):
    """The lightning.Trainer every experiment uses, from a `trainer:` block.

    `devices` > 1 (and that many usable GPUs) trains with DDP: one process per GPU, each on its
    own shard of every epoch (TensorBatches shards by rank); `batch_size` is per process.
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import Checkpoint

    accelerator, n_devices = devices.choose(trainer_cfg.get("devices", 1), want_gpu=want_gpu)
    trainer = L.Trainer(
        max_epochs=trainer_cfg["epochs"],
        accelerator=accelerator,
        devices=n_devices,
        num_nodes=trainer_cfg.get("num_nodes", 1),  # > 1: srun started one process per GPU per node
        strategy="ddp" if n_devices > 1 or trainer_cfg.get("num_nodes", 1) > 1 else "auto",
        plugins=ddp_plugins(n_devices) or None,
        deterministic=True,
        logger=False,                 # the history callback writes our one CSV
        # Lightning's own ModelCheckpoint stays off: the runner writes the final checkpoint, and
        # resume.EpochCheckpoint (when given) the per-epoch one, both atomically.
        enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
        enable_model_summary=False,
        enable_progress_bar=progress,
        limit_train_batches=trainer_cfg.get("limit_train_batches"),
        gradient_clip_val=trainer_cfg.get("gradient_clip_val"),
        precision=trainer_cfg.get("precision", "32"),
        num_sanity_val_steps=0,
        callbacks=callbacks,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Deterministic mode also fills every new uninitialised tensor with NaN, a debugging aid
    # against ops that read memory they never wrote (none of ours does; the results are the
    # same bit for bit without it). It cost the MNIST CNN 9 ms of its 60 ms step on a CPU.
    torch.utils.deterministic.fill_uninitialized_memory = False
    return trainer, devices.describe(accelerator, n_devices)


# Mini-batches per Lightning training batch for modules that take step groups: enough to make
# Lightning's ~0.4 ms per batch negligible next to even a 1 ms step (batches.py).
STEPS_PER_LIGHTNING_BATCH = 16


def _hand_steps_to_module(module, datamodule, trainer_cfg: dict) -> dict:
    """For a SupervisedModule (manual optimization): clip in the module, and with a
    TensorDataModule, group mini-batches into StepGroups and apply `limit_train_batches` in
    mini-batches on the data side, where Lightning would count the groups. Returns the trainer
    settings left for Lightning."""
    from dllaunchpad.training.batches import TensorDataModule
    from dllaunchpad.models.supervised import SupervisedModule

    if not isinstance(module, SupervisedModule):
        return trainer_cfg
    cfg = dict(trainer_cfg)
    module.gradient_clip_val = cfg.pop("gradient_clip_val", None)
    if isinstance(datamodule, TensorDataModule):
        datamodule.steps_per_item = STEPS_PER_LIGHTNING_BATCH
        datamodule.limit_train_steps = cfg.pop("limit_train_batches", None)
    return cfg


def fit(module, datamodule, trainer_cfg: dict, *, seed: int | None, want_gpu: bool = True,
        progress: bool = False, extra_callbacks: list | None = None,
        resume_dir: Path | None = None, checkpoint_interval_s: float = 0.0) -> dict:
    """Seed (unless `seed` is None: the caller already did, before building the module), then
    train one module with the runner's trainer and callbacks.

    With `resume_dir`, a full checkpoint is written there at the end of every epoch (at most
    every `checkpoint_interval_s` seconds), and training continues from the one found there
    (see resume.py).

    Returns {"trainer", "history" (rows), "best" (BestWeights or None), "device", "seconds",
    "resumed_from_epoch" (0 when it started afresh)}.
    train() uses it for an experiment's model; families that fit several models inside one
    experiment (k-fold cross-validation, sweeps) call it once per model.
    """
    import lightning as L

    devices.tune_cpu_allocator()
    if seed is not None:
        L.seed_everything(seed, workers=True, verbose=False)
    extra = list(extra_callbacks or [])
    ckpt_path, epoch_ckpt = None, None
    if resume_dir is not None:
        epoch_ckpt = resume.EpochCheckpoint(resume_dir, checkpoint_interval_s)
        extra.append(epoch_ckpt)
        if resume.loadable(epoch_ckpt.path):
            ckpt_path = epoch_ckpt.path
    callbacks, history, best = _callbacks(trainer_cfg, extra)
    trainer_cfg = _hand_steps_to_module(module, datamodule, trainer_cfg)
    if trainer_cfg.get("compile"):
        import torch

        module = torch.compile(module)
    trainer, device = make_trainer(trainer_cfg, callbacks, want_gpu=want_gpu, progress=progress)
    t0 = time.perf_counter()
    # weights_only: a resume state is data (tensors, numbers, lists), never code
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    return {"trainer": trainer, "history": history.rows, "best": best, "device": device,
            "seconds": time.perf_counter() - t0,
            "resumed_from_epoch": epoch_ckpt.resumed_from_epoch if epoch_ckpt else 0}
