"""The GPU path: mnist_cnn and the MIDI LSTM, one epoch each at fp32 and at bf16 mixed precision.

Run on a machine with a CUDA GPU, from the repository root:

    python benchmarks/gpu.py [--out DIR] [--compile]

It trains through the pipeline's own runner (training.fit.fit, the families' build(exp): the same
modules, DataModules and callbacks as `dllaunchpad train`) with the `precision` switch of
params.yaml's trainer block set to "32" and to "bf16-mixed", and prints samples per second
(training samples of the epoch over the epoch's wall time, validation included) and the
accuracy after the epoch (MNIST: test accuracy; MIDI: validation pitch accuracy). --compile
adds the `compile: true` switch for mnist_cnn (its first epoch includes the compilation).

It needs only what a GPU image with PyTorch and Lightning has (no jsonschema, tensorflow-datasets
or pretty_midi): params.yaml is read without schema validation, MNIST's arrays are made from the
raw idx.gz files (the full-scale prepared store holds exactly those bytes), and the MIDI notes
come from data/processed/classical_piano/notes.parquet. A warm-up fit of a few batches per model
comes first, so that CUDA and cuDNN start-up are not counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def registry():
    from dllaunchpad.pipeline.config import apply_scale, read_params
    from dllaunchpad.pipeline.registry import Registry

    params = apply_scale(read_params(REPO / "params.yaml"))
    params["scale"] = "full"
    return Registry.from_params(params, root=REPO)


def mnist_store() -> None:
    """data/processed/mnist/{train,test}.npz (x uint8, y) from data/raw/mnist, when missing."""
    from dllaunchpad.datasets import mnist

    out = REPO / "data/processed/mnist"
    if (out / "train.npz").exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    raw = REPO / "data/raw/mnist"
    for split, (images, labels) in mnist.FILES.items():
        x, y = mnist.read_idx_pair(raw / images, raw / labels)
        np.savez(out / f"{split}.npz", x=x, y=y.astype(np.int64))


def one_epoch(exp, precision: str, *, compile: bool = False, limit=None) -> dict:
    import lightning as L

    from dllaunchpad.experiments import family_module
    from dllaunchpad.training.fit import fit

    L.seed_everything(0, workers=True, verbose=False)
    module, dm = family_module(exp.family).build(exp)
    cfg = {**exp.spec["trainer"], "epochs": 1, "precision": precision, "compile": compile}
    if limit:
        cfg["limit_train_batches"] = limit
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    result = fit(module, dm, cfg, seed=None, want_gpu=True)
    if cuda:
        torch.cuda.synchronize()
    last = result["history"][-1]
    samples = len(dm.train[0])
    acc_key = "val_accuracy" if "val_accuracy" in last else "val_pitch_accuracy"
    return {"experiment": exp.name, "precision": precision, "compile": compile, "device": result["device"],
            "seconds": round(result["seconds"], 3), "train_samples": samples,
            "samples_per_s": round(samples / result["seconds"], 1), "accuracy_key": acc_key,
            "accuracy": round(last[acc_key], 4), "val_loss": round(last.get("val_loss", float("nan")), 4),
            "peak_gpu_mem_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else 0.0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, help="write results.json here")
    p.add_argument("--compile", action="store_true", help="also time mnist_cnn with compile: true")
    p.add_argument("--smoke", type=int, metavar="N",
                   help="check the script itself: N batches per run, and no GPU needed (the figures mean nothing)")
    args = p.parse_args()
    if not torch.cuda.is_available() and not args.smoke:
        print("no CUDA GPU here: nothing to measure", file=sys.stderr)
        return 1
    import lightning

    cuda = torch.cuda.is_available()
    env = {"gpu": torch.cuda.get_device_name(0) if cuda else "none", "torch": torch.__version__,
           "cuda": torch.version.cuda, "lightning": lightning.__version__,
           "bf16_supported": cuda and torch.cuda.is_bf16_supported()}
    print(json.dumps(env), flush=True)
    torch.backends.cudnn.benchmark = False  # deterministic=True in the runner; say so explicitly
    mnist_store()
    reg = registry()
    results = []
    for name in ("mnist_cnn", "midi_lstm"):
        exp = reg.experiment(name)
        one_epoch(exp, "32", limit=3)  # warm-up: CUDA context, cuDNN, allocator
        for precision in ("32", "bf16-mixed"):
            t0 = time.perf_counter()
            r = one_epoch(exp, precision, limit=args.smoke)
            results.append(r)
            print(json.dumps(r), f"({time.perf_counter() - t0:.1f} s with the build)", flush=True)
        if args.compile and name == "mnist_cnn":
            for precision in ("32", "bf16-mixed"):
                try:
                    r = one_epoch(exp, precision, compile=True, limit=args.smoke)
                    results.append(r)
                    print(json.dumps(r), flush=True)
                except Exception as exc:  # noqa: BLE001 - report and go on: the other figures stand
                    print(f"compile {precision}: failed: {type(exc).__name__}: {exc}", flush=True)
    print(f"\n{'experiment':12} {'precision':11} {'compile':7} {'s/epoch':>8} {'samples/s':>10} {'accuracy':>9}")
    for r in results:
        print(f"{r['experiment']:12} {r['precision']:11} {str(r['compile']):7} {r['seconds']:8.2f} "
              f"{r['samples_per_s']:10.0f} {r['accuracy']:9.4f}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps({"env": env, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
