"""Beyond chapter 31.1.2: compress a trained MNIST CNN by factorising its weight tensors.

Train stage: a small CNN (models/model_compression.py) trained here on MNIST. We train our own
rather than loading the supervised examples' mnist_cnn so that this experiment's inputs are
exactly its own stages (DVC and Snakemake only know an experiment's own model directory), and so
that every conv and dense layer has the 4-way shape the factorisations need.

Evaluate stage: for each method (CP, Tucker-2) and each rank fraction, replace the conv and dense
weights by factorised layers and report the parameter count, the test accuracy right after the
replacement and after a short fine-tune (the runner's `fit`, a few batches), and the CPU
inference time. The result is a curve of accuracy against compression. The timings
(``*_inference_ms``) are wall-clock keys: the evaluate runner moves them out of the metrics file
into reports/figures/<exp>/run.json (registry.is_wall_clock), so the metrics stay byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models import model_compression as M


def _data(exp, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from dllaunchpad.datasets import mnist

    x, y = mnist.load(exp.data_dir, split)
    return torch.from_numpy(x), torch.from_numpy(y)


def model(exp) -> M.ClassifierModule:
    spec = exp.spec["model"]
    net = M.SmallCNN(tuple(spec["filters"]), spec["hidden"])
    return M.ClassifierModule(net, exp.spec["optimizer"])


def build(exp):
    module = model(exp)
    dm = TensorDataModule(_data(exp, "train"), batch_size=exp.spec["trainer"]["batch_size"], seed=exp.seed)
    return module, dm


def _key(method: str, fraction: float) -> str:
    return f"{method}_rank{fraction * 100:g}pct".replace(".", "p")


def _finetune(net, exp, seed: int) -> None:
    from dllaunchpad.training.fit import fit

    ft = exp.spec["evaluate"]["finetune"]
    module = M.ClassifierModule(net.train(), {"name": "adam", "lr": ft["lr"]})
    dm = TensorDataModule(_data(exp, "train"), batch_size=exp.spec["trainer"]["batch_size"], seed=seed)
    cfg = {"epochs": ft["epochs"], "limit_train_batches": ft["limit_train_batches"]}
    fit(module, dm, cfg, seed=seed, want_gpu=False)


def _curve_figure(rows: list[dict], baseline: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for method, label in (("cp", "CP"), ("tucker", "Tucker-2")):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["compression"])
        if not mine:
            continue
        line = ax.plot([r["compression"] for r in mine], [r["accuracy"] for r in mine], "o--",
                       label=f"{label}, no fine-tune")[0]
        ax.plot([r["compression"] for r in mine], [r["accuracy_finetuned"] for r in mine], "o-",
                color=line.get_color(), label=f"{label}, fine-tuned")
    ax.axhline(baseline["accuracy"], color="black", lw=1, ls=":", label="uncompressed CNN")
    ax.set_xscale("log")
    ax.set_xlabel("compression ratio (parameters of the CNN / of the factorised CNN)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.0)
    ax.set_title("MNIST CNN: accuracy against compression")
    ax.legend(fontsize=9)
    save(fig, path)


def _timing_figure(rows: list[dict], baseline: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots()
    for method, label in (("cp", "CP"), ("tucker", "Tucker-2")):
        mine = [r for r in rows if r["method"] == method]
        ax.scatter([r["params"] for r in mine], [r["inference_ms"] for r in mine], label=label)
    ax.scatter([baseline["params"]], [baseline["inference_ms"]], color="black", marker="*", s=120,
               label="uncompressed")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("CPU inference time, test set (ms, 1 thread)")
    ax.set_title("Inference time against model size")
    ax.legend()
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    import lightning as L

    seed = exp.seed
    ev = exp.spec["evaluate"]
    x_test, y_test = _data(exp, "test")
    net = module.net.eval()
    baseline = {"params": M.parameter_count(net), "accuracy": M.accuracy(net, x_test, y_test),
                "inference_ms": M.inference_ms(net, x_test, ev["timing_repeats"])}
    rows = []
    for method in ev["methods"]:
        for fraction in ev["rank_fractions"]:
            L.seed_everything(seed, verbose=False)
            small, ranks = M.factorise(net, method, fraction, seed=seed, n_iter_max=ev["n_iter_max"])
            row = {"method": method, "fraction": fraction, "ranks": ranks,
                   "params": M.parameter_count(small),
                   "accuracy": M.accuracy(small, x_test, y_test),
                   "inference_ms": M.inference_ms(small, x_test, ev["timing_repeats"])}
            row["compression"] = baseline["params"] / row["params"]
            _finetune(small, exp, seed)
            row["accuracy_finetuned"] = M.accuracy(small, x_test, y_test)
            rows.append(row)

    _curve_figure(rows, baseline, figures_dir / "accuracy_vs_compression.png")
    _timing_figure(rows, baseline, figures_dir / "inference_time.png")
    (figures_dir / "compression.json").write_text(json.dumps({"baseline": baseline, "rows": rows}, indent=2) + "\n")

    # *_inference_ms: run facts, not results (run.json; see the module docstring)
    metrics = {"baseline_params": baseline["params"], "baseline_test_accuracy": baseline["accuracy"],
               "baseline_inference_ms": round(baseline["inference_ms"], 2)}
    for r in rows:
        k = _key(r["method"], r["fraction"])
        metrics[f"{k}_params"] = r["params"]
        metrics[f"{k}_compression"] = round(r["compression"], 3)
        metrics[f"{k}_test_accuracy"] = r["accuracy"]
        metrics[f"{k}_test_accuracy_finetuned"] = r["accuracy_finetuned"]
        metrics[f"{k}_inference_ms"] = round(r["inference_ms"], 2)
    return metrics
