"""The one training runner: experiment -> DataModule + LightningModule + callbacks + Trainer.

Seeding, device choice, the per-epoch history and checkpoint writing live here once, for every
family. Outputs (atomic, so a killed job leaves nothing that looks finished):

- ``models/<exp>/last.ckpt``   Lightning checkpoint at the end of training (load with
                               weights_only=True)
- ``models/<exp>/best.ckpt``   ``{"state_dict", "epoch", "monitor", "value"}`` of the best epoch,
                               when the trainer settings ask for early stopping with
                               ``restore_best`` or for ``checkpoint_best``
- ``models/<exp>/train.json``  wall time, device, scale, epochs run, best epoch, resumed-from epoch,
                               DDP world size
- ``models/<exp>/card.json``   the model card: commit, input hashes, versions, rebuild commands,
                               peak memory (pipeline/provenance.py)
- ``reports/history/<exp>.csv`` one row per epoch (DVC plots)

While it trains, a full checkpoint is written atomically at the end of every epoch to
``models/.resume/<exp>/<key>/`` (see resume.py): a killed run, rerun, continues from there and
ends with the same results as an uninterrupted one.

Under DDP (trainer.devices > 1, or num_nodes > 1 started by srun) every rank runs this; rank 0
writes the outputs, and the others meet it in the collective checkpoint save.

The training loop itself (Trainer, callbacks, seeding) is training/fit.py, shared with families
that fit several models inside one experiment.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from dllaunchpad import io
from dllaunchpad.experiments import family_module
from dllaunchpad.pipeline import provenance
from dllaunchpad.pipeline.registry import Experiment
from dllaunchpad.progress import progress_enabled
from dllaunchpad.training import devices, resume
from dllaunchpad.training.fit import fit, history_csv

log = logging.getLogger(__name__)


def train(exp: Experiment, progress: bool | None = None, stage=None) -> dict:
    """Train `exp` and write its outputs. With `stage` (its row of the stage table: the CLI
    passes it), the model card models/<exp>/card.json too (pipeline/provenance.py)."""
    import lightning as L
    import torch

    root = exp.root
    fam = family_module(exp.family)
    progress = progress_enabled() if progress is None else progress

    # The card's input hashes, computed while the data loads and the model trains.
    input_hashes = provenance.hash_inputs_in_background(exp, stage) if stage is not None else None
    # Seed before build: model initialisation and data shuffles draw from the seeded streams.
    L.seed_everything(exp.seed, workers=True, verbose=False)
    module, datamodule = fam.build(exp)
    log.info("training %s, seed %d", exp.name, exp.seed)
    extra = list(fam.callbacks(exp)) if hasattr(fam, "callbacks") else []  # the one optional hook
    resume_dir = resume.state_dir(exp)
    if (resume_dir / resume.CHECKPOINT).exists():
        log.info("%s: resuming from %s", exp.name, resume_dir / resume.CHECKPOINT)
    result = fit(module, datamodule, exp.spec["trainer"], seed=None, want_gpu=exp.gpu,
                 progress=progress, extra_callbacks=extra, resume_dir=resume_dir,
                 checkpoint_interval_s=exp.checkpoint_interval_s)
    trainer, best = result["trainer"], result["best"]
    if trainer.world_size > 1:  # one line per process: where each rank of a DDP run trained
        log.info("%s: rank %d of %d trained on host %s", exp.name, trainer.global_rank, trainer.world_size,
                 socket.gethostname())

    info = {
        "experiment": exp.name,
        "device": result["device"],
        "hardware": devices.hardware(result["device"]),
        "epochs_run": trainer.current_epoch,
        "seed": exp.seed,
        "scale": exp.scale,  # full | quick: `dllaunchpad list` flags outputs of the other scale
        "threads": torch.get_num_threads(),  # the last float bits depend on it (cli.pin_threads)
        "train_seconds": round(result["seconds"], 3),
        "best_epoch": best.epoch if best else None,
        "best_value": best.value if best else None,
        "resumed_from_epoch": result["resumed_from_epoch"],
        "world_size": trainer.world_size,  # processes (DDP ranks) that trained it together
        "torch": torch.__version__,
        "lightning": L.__version__,
    }
    if trainer.is_global_zero:
        with io.atomic_path(root / exp.model_dir) as tmp:
            tmp.mkdir()
            trainer.save_checkpoint(tmp / "last.ckpt", weights_only=False)  # full: resumable
            if best is not None and best.state is not None:
                torch.save({"state_dict": best.state, "epoch": best.epoch, "monitor": best.monitor,
                            "value": best.value}, tmp / "best.ckpt")
            io.write_json(tmp / "train.json", info)
            if stage is not None:
                gpu_peak = (round(torch.cuda.max_memory_allocated() / 2**20, 1)
                            if str(result["device"]).startswith("cuda") else None)
                io.write_json(tmp / provenance.CARD, provenance.card(
                    exp, stage, seconds=result["seconds"], device=info["device"], hardware=info["hardware"],
                    threads=info["threads"], gpu_peak_mb=gpu_peak, inputs=input_hashes))
        io.write_text(root / exp.history, history_csv(result["history"]))
        resume.clear(exp)  # the outputs are complete: nothing left to resume
    else:
        # Trainer.save_checkpoint is a collective under DDP (it ends in a barrier): the other
        # ranks of a multi-process run meet rank 0's save there. They write nothing.
        trainer.save_checkpoint(root / exp.checkpoint, weights_only=False)
    return info


def evaluation_checkpoint(exp: Experiment) -> Path:
    """best.ckpt when training restored the best weights (Keras' restore_best_weights) or kept
    a best checkpoint; otherwise last.ckpt."""
    best = exp.path(exp.model_dir) / "best.ckpt"
    return best if best.exists() else exp.path(exp.checkpoint)


def load_trained(exp: Experiment, ckpt: Path | None = None):
    """The experiment's module (the family's `model` hook: no training data is read) with its
    trained weights (weights_only=True: a checkpoint is data, never code). By default the
    checkpoint evaluation uses (see evaluation_checkpoint)."""
    import torch

    module = family_module(exp.family).model(exp)
    ckpt = Path(ckpt) if ckpt is not None else evaluation_checkpoint(exp)
    if not ckpt.exists():
        raise FileNotFoundError(f"{ckpt}: no checkpoint; run `dllaunchpad train {exp.name}` first")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    module.eval()
    return module
