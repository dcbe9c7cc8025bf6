"""What every classifier's evaluate stage reports (MLP and CNN families alike).

- metrics: test accuracy and loss of the evaluated weights, the last epoch's logged values
  (what the chapter's Keras logs print), the parameter count;
- figures: learning curves (accuracy, loss), the confusion matrix (PNG, plus the counts as CSV),
  and for image data grids of correctly and incorrectly classified test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F


@torch.no_grad()
def predict_logits(module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    module.eval()
    return torch.cat([module(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """counts[i, j] = number of examples of class i predicted as class j."""
    return np.bincount(k * y_true + y_pred, minlength=k * k).reshape(k, k)


def confusion_figure(counts: np.ndarray, classes: list[str], path: Path, title: str) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.6 + 0.55 * k, 1.2 + 0.5 * k) if k > 3 else (5, 4.2))
    im = ax.imshow(counts, cmap="cividis")
    for (i, j), v in np.ndenumerate(counts):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=9,
                color="black" if v > counts.max() / 2 else "white")
    ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0)
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="test examples")
    save(fig, path)


def confusion_csv(counts: np.ndarray, classes: list[str]) -> str:
    lines = ["true\\predicted," + ",".join(classes)]
    lines += [f"{c}," + ",".join(str(int(v)) for v in row) for c, row in zip(classes, counts)]
    return "\n".join(lines) + "\n"


def image_grid(images: np.ndarray, captions: list[str], path: Path, title: str, cols: int = 8) -> None:
    """images (n, H, W) grayscale or (n, H, W, 3) RGB in [0, 1]; at most 4 rows of `cols`."""
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    n = len(images)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.75 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, cap in zip(axes.flat, images, captions):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(cap, fontsize=9)
    if n == 0:
        axes.flat[0].text(0.5, 0.5, "none", ha="center", va="center", fontsize=14)
    fig.suptitle(title)
    save(fig, path)


def history_metrics(history: dict[str, list[float]]) -> dict:
    """The last epoch's logged values (`final_<key>`) and the number of epochs in the history."""
    out = {"history_epochs": len(history.get("epoch", []))}
    for key, values in history.items():
        if key != "epoch" and values:
            out[f"final_{key}"] = float(values[-1])
    return out


def report(exp, module, x_test: torch.Tensor, y_test: torch.Tensor, classes: list[str],
           figures_dir: Path, images: np.ndarray | None = None, grid_size: int = 16) -> dict:
    """Metrics and figures for a trained classifier on (x_test, y_test); `images` (n, H, W[, 3])
    in [0, 1] are drawn in the correct/incorrect grids when given."""
    from dllaunchpad import io
    from dllaunchpad.analysis.figures import curves, read_history

    logits = predict_logits(module, x_test)
    pred = logits.argmax(1).numpy()
    truth = y_test.numpy()
    cross_entropy = F.cross_entropy(logits, y_test).item()
    counts = confusion(truth, pred, len(classes))
    confusion_figure(counts, classes, figures_dir / "confusion_matrix.png",
                     f"{exp.name}: confusion matrix on the {len(truth)} test examples")
    io.write_text(figures_dir / "confusion_matrix.csv", confusion_csv(counts, classes))

    history = read_history(exp.path(exp.history))
    curves(figures_dir / "accuracy.png", history, ["train_accuracy", "val_accuracy"], "accuracy",
           f"{exp.name}: accuracy per epoch", labels={"train_accuracy": "training", "val_accuracy": "validation"})
    curves(figures_dir / "loss.png", history, ["train_loss", "val_loss"], "loss (cross-entropy + penalty)",
           f"{exp.name}: loss per epoch", labels={"train_loss": "training", "val_loss": "validation"})

    if images is not None:
        for name, idx in (("correct", np.flatnonzero(pred == truth)), ("incorrect", np.flatnonzero(pred != truth))):
            idx = idx[:grid_size]
            caps = [f"{classes[pred[i]]}" + ("" if pred[i] == truth[i] else f" (is {classes[truth[i]]})") for i in idx]
            image_grid(images[idx], caps, figures_dir / f"{name}_predictions.png",
                       f"{exp.name}: {name} test predictions (first {len(idx)}; label = predicted)")

    with torch.no_grad():
        penalty = float(module.penalty())
    metrics = {
        "test_accuracy": float((pred == truth).mean()),
        "test_cross_entropy": cross_entropy,
        "test_loss": cross_entropy + penalty,
        "test_examples": int(len(truth)),
        "test_errors": int((pred != truth).sum()),
        "parameters": sum(p.numel() for p in module.parameters()),
    }
    metrics.update(history_metrics(history))
    return metrics
