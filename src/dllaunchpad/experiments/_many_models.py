"""Shared by the studies of chapter 31.2.2-31.4 (families activations, initialization,
optimizer_comparison, regularization_comparison): MNIST splits as tensors, and fitting one small
classifier with the project's runner.

Why those families are compute-only (no `trainer:` block, so the DAG runs only their evaluate
stage) and call `fit` (dllaunchpad.training.fit) once per model from inside `evaluate`:

- each experiment's result is a *comparison* of many small models (8 optimizers x a learning-
  rate sweep, 6 regularisers, 16 initialisations), while a train stage produces one checkpoint
  of one model;
- `fit` is the one training loop: every model gets its seeding, deterministic Trainer, per-epoch
  history, early stopping and best-weights restore (the early-stopping variant needs exactly
  that), so no training loop is written twice. Its cost is about 0.1 s per model on CPU
  (measured against a bare loop), small next to the models' compute.

(The 2-D surfaces of optimizer_comparison have no data and no model: there the optimizer is
stepped directly, which is the optimizer's own definition rather than a training loop.)
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from typing import Callable

import lightning as L
import numpy as np
import torch

from dllaunchpad.training.fit import fit
from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.datasets import mnist


def mnist_splits(exp) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{train, val, test}: (x (N, 28, 28) float32 in [0, 1], y int64) from the prepared MNIST
    (exp.data_dir, i.e. exp.root / data/processed/<dataset>).

    `data:` settings: train_samples / val_samples are drawn without overlap from the training
    split by a permutation seeded with the experiment's seed (null train_samples = all that
    val_samples leaves); test_samples takes the first of the test split (null = all)."""
    data = exp.spec.get("data", {})
    processed = exp.data_dir
    x, y = mnist.load(processed, "train")
    n_val = int(data.get("val_samples", 0))
    n_train = data.get("train_samples") or len(x) - n_val
    if n_train + n_val > len(x):
        raise ValueError(f"experiments.{exp.name}.data: train_samples + val_samples = {n_train + n_val} "
                         f"but the prepared MNIST training split has {len(x)} images")
    order = np.random.default_rng(exp.seed).permutation(len(x))
    pick = {"train": order[:n_train], "val": order[n_train:n_train + n_val]}
    splits = {k: (torch.from_numpy(x[idx]), torch.from_numpy(y[idx])) for k, idx in pick.items() if len(idx)}
    xt, yt = mnist.load(processed, "test")
    n_test = data.get("test_samples") or len(xt)
    splits["test"] = (torch.from_numpy(xt[:n_test]), torch.from_numpy(yt[:n_test]))
    return splits


class StepLosses(L.Callback):
    """The objective of every training step (training_step's returned loss)."""

    def __init__(self):
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))


@contextlib.contextmanager
def quiet_lightning():
    """Lightning announces every Trainer it builds (devices, tips); with dozens of models per
    experiment that drowns the log, so its info lines are held back here."""
    loggers = [logging.getLogger(n) for n in ("lightning", "lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # models trained without validation data (initialization) still define validation_step
            warnings.filterwarnings("ignore", message="You defined a `validation_step` but have no `val_dataloader`")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def one_thread():
    """Run torch on one intra-op thread. The models here are small: on a shared 2-core machine,
    OpenMP's second thread mostly spins waiting (measured: a 80-step MNIST MLP fit took 0.44 s
    of CPU on one thread, 3-6 s on two)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_model(build: Callable[[], L.LightningModule], splits: dict, *, epochs: int, batch_size: int, seed: int,
              want_gpu: bool = False, early_stopping: dict | None = None, callbacks: list | None = None) -> dict:
    """Seed, build the model (so its initialisation is seeded), and train it with training.fit.fit.

    Returns {"model", "history" (per-epoch rows), "step_losses", "seconds", "epochs_run",
    "best_epoch"}. With `early_stopping` ({monitor, patience, min_delta?, mode?}) the best
    epoch's weights are restored into the returned model (Keras' restore_best_weights)."""
    L.seed_everything(seed, workers=True, verbose=False)
    model = build()
    datamodule = TensorDataModule(splits["train"], splits.get("val"), batch_size=batch_size, seed=seed)
    trainer_cfg: dict = {"epochs": epochs}
    if early_stopping:
        trainer_cfg["early_stopping"] = {**early_stopping, "restore_best": True}
    steps = StepLosses()
    with quiet_lightning():
        result = fit(model, datamodule, trainer_cfg, seed=None, want_gpu=want_gpu,
                           extra_callbacks=[steps, *(callbacks or [])])
    best = result["best"]
    if best is not None and best.state is not None:
        model.load_state_dict(best.state)
    model.cpu().eval()
    return {"model": model, "history": result["history"], "step_losses": steps.losses,
            "seconds": result["seconds"], "epochs_run": result["trainer"].current_epoch,
            "best_epoch": best.epoch if best is not None else None}


def running_mean(values, window: int) -> np.ndarray:
    """Mean of the last `window` values at every position (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (csum[idx] - csum[start]) / (idx - start)


def first_below(values, threshold: float) -> int | None:
    """1-based index of the first value <= threshold, or None when none is."""
    hits = np.flatnonzero(np.asarray(values, dtype=float) <= threshold)
    return int(hits[0]) + 1 if len(hits) else None


def finite_or_none(value: float) -> float | None:
    """Metrics JSON holds no NaN/inf: a diverged value becomes null (with a flag beside it)."""
    value = float(value)
    return value if math.isfinite(value) else None
