"""Dense classifiers: Iris (chapter 31.8.2) and MNIST (31.8.4: the 784-256-128-10 net and the
400-400-400-200 net with early stopping, L1 and dropout, section 31.3).

As in the chapter, the test set is the validation data passed to `fit`: the per-epoch
`val_*` curves are test-set curves, and early stopping (mnist_early_stopping) watches the test
loss. Iris keeps the chapter's 120/30 split (the chapter's `x[0:trainCount-1]` drops one row;
our prepared data keeps all 120, see datasets/iris.py).

params: model {hidden: [units...], dropout: [rate per hidden layer] (optional), l1: lambda
(optional), l2: lambda (optional; Keras' l2, lam * sum w^2, exercise 31.9.6e)}; optimizer and
trainer as the chapter. The Keras defaults the chapter relies on (RMSprop rho 0.9, eps 1e-7;
batch 32 when fit() gets none) are written in params.yaml.

Iris only, data {test_fraction, reshuffle} (optional, exercise 31.9.4a: datasets/iris.py
`resplit`; without a data block, the prepared 120/30 split). evaluate {epochs_to_val_accuracy:
threshold} (optional, 31.9.4b): adds `epochs_to_val_accuracy_<percent>` and `reached_...`, read
from the history (analysis/milestones.py); entries without it keep their metrics as they were.
evaluate {data_figures: true} (MNIST, mnist_mlp): the first four training images with their
labels (first_training_images.png, metrics first_four_training_labels/_indices).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.mlp_classifier import MLPClassifier
from dllaunchpad.experiments import _classification

# dataset -> (input features, classes): the model can be built without reading the data.
SHAPES = {"iris": (4, 3), "mnist": (784, 10)}


def model(exp) -> MLPClassifier:
    if exp.dataset not in SHAPES:
        raise ValueError(f"{exp.name}: family mlp_classifier reads {sorted(SHAPES)}, not {exp.dataset!r}")
    in_features, n_classes = SHAPES[exp.dataset]
    m = exp.spec["model"]
    return MLPClassifier(in_features, m["hidden"], n_classes, exp.spec["optimizer"],
                         dropout=m.get("dropout"), l1=m.get("l1", 0.0), l2=m.get("l2", 0.0))


def load_data(exp) -> dict:
    """x_* float32 tensors ((N, 4) for iris, (N, 28, 28) in [0, 1] for MNIST), y_* int64,
    class names, from the experiment's prepared data (exp.data_dir)."""
    processed = exp.data_dir
    if exp.dataset == "iris":
        from dllaunchpad.datasets import iris

        d = iris.load(processed)
        parts = {k: d[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        split = exp.spec.get("data") or {}
        if split:  # exercise 31.9.4a: another split ratio, optionally redrawn per seed
            parts = iris.resplit(d, split.get("test_fraction"), exp.seed if split.get("reshuffle") else None)
        classes = [str(c) for c in d["classes"]]
    else:
        from dllaunchpad.datasets import mnist

        (x_train, y_train), (x_test, y_test) = mnist.load(processed, "train"), mnist.load(processed, "test")
        parts = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        classes = [str(d) for d in range(10)]
    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in parts.items()}
    out["y_train"], out["y_test"] = out["y_train"].long(), out["y_test"].long()
    out["classes"] = classes
    return out


def build(exp):
    data = load_data(exp)
    dm = TensorDataModule((data["x_train"], data["y_train"]), val=(data["x_test"], data["y_test"]),
                          batch_size=exp.spec["trainer"]["batch_size"], seed=exp.seed)
    return model(exp), dm


def first_training_images_figure(exp, path: Path, n: int = 4) -> dict:
    """evaluate {data_figures: true} (mnist_mlp): the chapter's first look at the data (31.8.4),
    the first n images of the prepared MNIST training split with their labels (the chapter
    printed 5, 0, 4, 1 for images 0-3 of the full set; quick mode prepares a sorted subset, so
    captions give each image's position in the idx file)."""
    from dllaunchpad.analysis.figures import pyplot, save

    with np.load(exp.data_dir / "train.npz") as f:
        x, y, index = f["x"][:n], f["y"][:n], f["index"][:n]
    plt = pyplot()
    fig, axes = plt.subplots(1, n, figsize=(3 * n, 3.4))
    for ax, img, label, i in zip(axes, x, y, index):
        ax.imshow(img, cmap="gray")
        ax.set_title(f"train_x[{i}]: label {label}")
        ax.axis("off")
    fig.suptitle(f"The first {n} MNIST training images and their labels (chapter 31.8.4)")
    save(fig, path)
    return {"first_four_training_labels": " ".join(str(int(v)) for v in y),
            "first_four_training_indices": " ".join(str(int(v)) for v in index)}


def evaluate(exp, module, figures_dir: Path) -> dict:
    data = load_data(exp)
    images = data["x_test"].numpy() if exp.dataset == "mnist" else None
    metrics = _classification.report(exp, module, data["x_test"], data["y_test"], data["classes"],
                                     figures_dir, images=images)
    if exp.spec.get("evaluate", {}).get("data_figures") and exp.dataset == "mnist":
        metrics.update(first_training_images_figure(exp, figures_dir / "first_training_images.png"))
    if exp.spec["model"].get("l1"):
        with torch.no_grad():
            metrics["l1_penalty"] = float(module.penalty())
        hidden = [w.detach() for w in module.penalised()]
        metrics["hidden_weights_near_zero_fraction"] = float(
            sum((w.abs() < 1e-3).sum().item() for w in hidden) / sum(w.numel() for w in hidden))
    threshold = exp.spec.get("evaluate", {}).get("epochs_to_val_accuracy")
    if threshold is not None:  # exercise 31.9.4b's "how fast": only entries that ask get the keys
        from dllaunchpad.analysis.figures import read_history
        from dllaunchpad.analysis.milestones import epochs_to

        epochs, reached = epochs_to(read_history(exp.path(exp.history)), "val_accuracy", float(threshold))
        what = f"val_accuracy_{round(float(threshold) * 100):d}"
        metrics.update({f"epochs_to_{what}": epochs, f"reached_{what}": reached})
    if "l2" in exp.spec["model"]:  # only then: the metrics of entries without an l2 key stay as they were
        with torch.no_grad():
            hidden = [w.detach() for w in module.penalised()]
            metrics["l2_penalty"] = float(module.l2 * sum(w.pow(2).sum() for w in hidden))
            metrics["hidden_weights_rms"] = float(
                (sum(w.pow(2).sum() for w in hidden) / sum(w.numel() for w in hidden)).sqrt())
    return metrics
