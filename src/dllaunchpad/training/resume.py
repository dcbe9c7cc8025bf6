"""Resumable training: a full checkpoint at the end of every epoch, outside the rule's outputs.

A killed training job (SIGKILL, a SLURM preemption, a lost node) reruns the same rule; the
runner then continues from the last finished epoch instead of starting over, and ends with the
same weights, history and metrics as a run that was never interrupted (on the CPU, where the
arithmetic is deterministic).

Where the state lives: ``models/.resume/<experiment>/<key>/last.ckpt``. Not inside
``models/<experiment>/``: Snakemake deletes a job's declared outputs before it reruns the job.
``<key>`` hashes everything the run depends on (the effective settings, the seed, the code of
the family and the runner, the prepared data's summary, torch/lightning versions), so a state
written under other settings or other code is never picked up; it is deleted instead. The folder
is removed when training finishes.

What makes a resumed run identical to an uninterrupted one:

- Lightning's checkpoint: weights, optimizer, loop counters, callbacks' ``state_dict`` (early
  stopping, the runner's history and best-weights callbacks) and the DataModule's ``state_dict``
  (TensorDataModule keeps its shuffle generator's state there);
- this callback's own state: torch's, numpy's and Python's global random streams (CUDA's too
  when in use), taken when the checkpoint is written and put back just before the next epoch
  starts, so dropout masks and DataLoader shuffles continue the same streams.

Each save is atomic: the checkpoint is written under a temporary name and renamed onto
``last.ckpt``; a kill during the write leaves the previous epoch's state intact.

A save costs ~10 ms, which would dominate epochs of a few milliseconds (XOR's 2000 epochs of
one batch): ``cluster.checkpoint_interval_s`` in params.yaml skips the save at the end of an
epoch when the previous one is younger than that. Epochs longer than the interval (any real
training) are all saved; 0 saves every epoch. Which epochs were saved never changes results.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint

log = logging.getLogger(__name__)

RESUME_DIR = "models/.resume"
CHECKPOINT = "last.ckpt"


def settings_key(exp) -> str:
    """A short hash of what the training run depends on (see the module docstring)."""
    from dllaunchpad.pipeline.config import ROOT
    from dllaunchpad.pipeline.stages import experiment_code

    code = {rel: hashlib.sha256((ROOT / rel).read_bytes()).hexdigest() for rel in experiment_code(exp, "train")
            if (ROOT / rel).exists()}
    data = None
    if exp.data_dir is not None:
        summary = exp.data_dir / "summary.json"
        data = summary.read_text() if summary.exists() else None
    what = {"experiment": exp.name, "spec": exp.spec, "seed": exp.seed,
            "code": code, "data": data, "torch": torch.__version__, "lightning": L.__version__}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def state_dir(exp) -> Path:
    """This run's resume folder; states of the same experiment under other keys are removed."""
    base = exp.root / RESUME_DIR / exp.name
    here = base / settings_key(exp)
    if base.is_dir():
        for old in base.iterdir():
            if old != here:
                log.info("%s: dropping resume state %s (written under other settings or code)", exp.name, old.name)
                shutil.rmtree(old, ignore_errors=True)
    return here


def clear(exp) -> None:
    """Forget the experiment's resume state (training finished and its outputs are written)."""
    base = exp.root / RESUME_DIR
    shutil.rmtree(base / exp.name, ignore_errors=True)
    try:
        base.rmdir()  # only when no other experiment has a state in flight
    except OSError:
        pass


def loadable(ckpt: Path) -> bool:
    """True when `ckpt` exists and loads as plain data; an unreadable state is removed (and
    training starts afresh) rather than failing every rerun."""
    if not ckpt.exists():
        return False
    try:
        torch.load(ckpt, map_location="cpu", weights_only=True)
        return True
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, it cannot be resumed from
        log.warning("cannot resume from %s (%s): starting afresh", ckpt, exc)
        shutil.rmtree(ckpt.parent, ignore_errors=True)
        return False


def rng_state() -> dict:
    """The global random streams, as plain tensors/lists/numbers (loadable with weights_only)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class EpochCheckpoint(Checkpoint):
    """Writes a full, resumable checkpoint to ``folder/last.ckpt`` at the end of every epoch.

    A `Checkpoint` subclass on purpose: Lightning runs checkpoint callbacks after every other
    callback's and the module's ``on_train_epoch_end``, so the state it saves includes this
    epoch's history row, best weights and early-stopping decision.
    """

    def __init__(self, folder: Path, min_interval_s: float = 0.0):
        self.folder = Path(folder)
        self.min_interval_s = min_interval_s
        self._last_save = time.monotonic()
        self.path = self.folder / CHECKPOINT
        self._stopped = False           # early stopping had decided to stop when we saved
        self._restore = False           # a state was loaded and not yet acted upon
        self.resumed_from_epoch = 0     # the epochs the loaded state had finished (0: fresh)
        self._epochs_done = 0

    @property
    def state_key(self) -> str:
        return "EpochCheckpoint"

    def on_train_epoch_end(self, trainer, pl_module):
        due = time.monotonic() - self._last_save >= self.min_interval_s
        if not trainer.strategy.broadcast(due, src=0):  # every rank takes rank 0's decision
            return
        self._stopped = bool(trainer.should_stop)
        self._epochs_done = trainer.current_epoch + 1
        partial = self.folder / f".{CHECKPOINT}.partial"
        if trainer.is_global_zero:
            self.folder.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(partial, weights_only=False)  # collective; rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, self.path)  # atomic: the previous epoch's state until now
        self._last_save = time.monotonic()

    def state_dict(self) -> dict:
        return {"rng": rng_state(), "stopped": self._stopped, "epochs_done": self._epochs_done}

    def load_state_dict(self, state_dict: dict) -> None:
        # Lightning calls this while it restores the checkpoint, before it builds the first
        # resumed epoch's data iterator (which may draw: a torch DataLoader draws its workers'
        # base seed from torch's stream when the iterator is made, a shuffling sampler draws
        # its seed). In an uninterrupted run nothing draws between the save at the end of the
        # epoch and those draws, so the streams go back right here.
        set_rng_state(state_dict["rng"])
        self._stopped = state_dict["stopped"]
        self.resumed_from_epoch = state_dict["epochs_done"]
        self._restore = True

    def on_train_start(self, trainer, pl_module):
        self._last_save = time.monotonic()
        if self._restore and self._stopped:
            # The saved epoch was the last one (early stopping); only the outputs were missing.
            trainer.should_stop = True
        self._restore = False
