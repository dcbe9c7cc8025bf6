"""Pick where training runs: a GPU when one is visible *and works*, otherwise the CPU.

On a SLURM node with fake or absent GPUs, `CUDA_VISIBLE_DEVICES` can be set while no device
exists; `torch.cuda.is_available()` then says False, or a first CUDA call fails. Either way we
log one line and train on the CPU instead of crashing.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def usable_gpus() -> int:
    """Number of CUDA devices that answer a tiny kernel launch (0 when none or broken)."""
    import torch

    try:
        if not torch.cuda.is_available():
            return 0
        n = torch.cuda.device_count()
        torch.zeros(1, device="cuda:0").add_(1).item()  # fails on a broken driver/device
        return n
    except Exception as exc:  # noqa: BLE001 - any CUDA failure means "no usable GPU"
        log.warning("CUDA present but unusable (%s): training on the CPU", exc)
        return 0


def choose(requested: int = 1, want_gpu: bool = True) -> tuple[str, int]:
    """(accelerator, devices) for lightning.Trainer.

    requested > 1 asks for DDP over that many GPUs; it is capped at what is there.
    """
    gpus = usable_gpus() if want_gpu else 0
    if gpus == 0:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if want_gpu:
            log.info("no usable GPU (CUDA_VISIBLE_DEVICES=%s): training on the CPU", visible)
        return "cpu", 1
    n = min(requested, gpus)
    if n < requested:
        log.warning("asked for %d GPUs, %d usable: using %d", requested, gpus, n)
    return "gpu", n


def describe(accelerator: str, devices: int) -> str:
    """A short human label for reports, e.g. 'cpu' or '2x NVIDIA H100'."""
    if accelerator != "gpu":
        return "cpu"
    import torch

    return f"{devices}x {torch.cuda.get_device_name(0)}"
