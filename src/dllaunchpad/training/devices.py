"""Pick where training runs: a GPU when one is visible *and works*, otherwise the CPU.

On a SLURM node with fake or absent GPUs, `CUDA_VISIBLE_DEVICES` can be set while no device
exists; `torch.cuda.is_available()` then says False, or a first CUDA call fails. Either way we
log one line and train on the CPU instead of crashing.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

_allocator_tuned = False


def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process instead of handing it back to the kernel (glibc only).

    Why: glibc serves every allocation above 32 MB (and, by its dynamic threshold, many
    smaller ones) with a fresh mmap and unmaps it on free. A CNN training step on CPU allocates
    and frees tens of such activation tensors (MNIST CNN, batch 500: 43 MB each), so every
    step page-faults and zeroes them anew; on 2 cores that was more than half of the step time
    (benchmarks/convolutions.py: 171 -> 79 ms per step). With mmap off (M_MMAP_MAX = 0) and no
    trimming, freed blocks stay in the heap and are reused. The cost: the process keeps its peak
    memory until it exits, which suits a one-experiment training job.

    Idempotent; a no-op off glibc or with LAUNCHPAD_MALLOC_TUNING=0. Returns whether it is on.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if os.environ.get("LAUNCHPAD_MALLOC_TUNING", "1") == "0":
        return False
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # from <malloc.h>
    # mallopt returns 1 on success; a refusal leaves glibc as it was, which is only slower
    _allocator_tuned = bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    return _allocator_tuned


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


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, platform's answer elsewhere)."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def hardware(device: str) -> str:
    """What a result was computed on: the GPU label, or 'cpu: <model>'. Floating-point results
    differ between CPU models, so every metrics file records it (issue: seed and CPU spread)."""
    return f"cpu: {cpu_model()}" if device == "cpu" else device
