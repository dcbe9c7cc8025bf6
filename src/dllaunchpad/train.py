"""The one training runner: experiment -> DataModule + LightningModule + callbacks + Trainer.

Seeding, device choice, the per-epoch history and checkpoint writing live here once, for every
family. Outputs (atomic, so a killed job leaves nothing that looks finished):

- ``models/<exp>/last.ckpt``   Lightning checkpoint (load with weights_only=True)
- ``models/<exp>/train.json``  wall time, device, epochs run
- ``reports/history/<exp>.csv`` one row per epoch (DVC plots)
"""

from __future__ import annotations

import csv
import io as _io
import logging
import os
import time
from pathlib import Path

from . import devices, io
from .experiments import family_module
from .registry import Experiment

log = logging.getLogger(__name__)


def experiment_seed(exp: Experiment, params: dict) -> int:
    return int(exp.spec.get("seed", params["seed"]))


def progress_enabled() -> bool:
    """Progress bars for people at a terminal, quiet under CI and in log files."""
    import sys

    return sys.stderr.isatty() and not os.environ.get("CI")


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

    return EpochHistory()


def history_csv(rows: list[dict]) -> str:
    keys = ["epoch"] + sorted({k for r in rows for k in r} - {"epoch"})
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{r[k]:.8g}" if isinstance(r.get(k), float) else r.get(k, "")) for k in keys})
    return buf.getvalue()


def train(exp: Experiment, params: dict, root: Path | str = ".", progress: bool | None = None) -> dict:
    import lightning as L
    import torch

    root = Path(root)
    fam = family_module(exp.family)
    seed = experiment_seed(exp, params)
    trainer_cfg = exp.spec["trainer"]
    progress = progress_enabled() if progress is None else progress

    L.seed_everything(seed, workers=True, verbose=False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    module, datamodule = fam.build(exp, params, root)

    accelerator, n_devices = devices.choose(trainer_cfg.get("devices", 1), want_gpu=exp.gpu)
    history = _history_callback()
    has_val = getattr(datamodule, "val", None) is not None
    trainer = L.Trainer(
        max_epochs=trainer_cfg["epochs"],
        accelerator=accelerator,
        devices=n_devices,
        strategy="ddp" if n_devices > 1 else "auto",
        deterministic=True,
        logger=False,                 # the history callback writes our one CSV
        enable_checkpointing=False,   # we write the final checkpoint ourselves, atomically
        enable_model_summary=False,
        enable_progress_bar=progress,
        limit_val_batches=None if has_val else 0,
        num_sanity_val_steps=0,
        callbacks=[history, *getattr(fam, "callbacks", lambda e: [])(exp)],
    )
    log.info("training %s on %s (%d device(s)), seed %d", exp.name, accelerator, n_devices, seed)
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    wall = time.perf_counter() - t0

    info = {
        "experiment": exp.name,
        "device": devices.describe(accelerator, n_devices),
        "epochs_run": trainer.current_epoch,
        "seed": seed,
        "train_seconds": round(wall, 3),
        "torch": torch.__version__,
        "lightning": L.__version__,
    }
    if trainer.is_global_zero:
        with io.atomic_path(root / exp.model_dir) as tmp:
            tmp.mkdir()
            trainer.save_checkpoint(tmp / "last.ckpt", weights_only=False)  # full: resumable
            io.write_json(tmp / "train.json", info)
        io.write_text(root / exp.history, history_csv(history.rows))
    return info


def load_trained(exp: Experiment, params: dict, root: Path | str = "."):
    """Rebuild the experiment's module and load its checkpoint's weights (weights_only=True:
    a checkpoint is data, never code)."""
    import torch

    root = Path(root)
    module, datamodule = family_module(exp.family).build(exp, params, root)
    ckpt = root / exp.checkpoint
    if not ckpt.exists():
        raise FileNotFoundError(f"{ckpt}: no checkpoint; run `dllaunchpad train {exp.name}` first")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    module.eval()
    return module, datamodule
