"""The denoising autoencoder of chapter 31.8.4: noisy MNIST digits in, clean digits out.

The noisy inputs are made once in preparation (datasets/mnist.py: clip(x + 0.4 N(0, 1), 0, 1),
seeded), the chapter's recipe. Trained on (noisy train, clean train), validated on (noisy test,
clean test) as the chapter's `validation_data`. Adadelta: Keras' 'adadelta' string means
learning rate 1e-3, rho 0.95, eps 1e-7 (params.yaml spells them out); with that rate 5 epochs
barely move the loss (0.70 -> 0.67 in the chapter). A second entry uses lr 1.0, the value of
Zeiler's paper and torch's default, for comparison.

Outputs: grids of noisy / denoised / clean test digits, the loss curves, and test metrics:
binary cross-entropy, and mean squared error to the clean digits of the noisy input and of the
output (the denoiser helps when the second is the smaller).

params: model {filters (default 32)}, evaluate {examples: digits in the grid}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.denoising_autoencoder import DenoisingAutoencoder


def _check_dataset(exp) -> None:
    if exp.dataset != "mnist":
        raise ValueError(f"{exp.name}: family denoising_autoencoder reads mnist, not {exp.dataset!r}")


def model(exp) -> DenoisingAutoencoder:
    _check_dataset(exp)
    return DenoisingAutoencoder(exp.spec["optimizer"], filters=exp.spec.get("model", {}).get("filters", 32))


def load_data(exp, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean) as (N, 1, 28, 28) float32 tensors in [0, 1], from the prepared MNIST
    (exp.data_dir)."""
    from dllaunchpad.datasets import mnist

    _check_dataset(exp)
    noisy, clean = mnist.load_noisy(exp.data_dir, split)
    return torch.from_numpy(noisy).unsqueeze(1), torch.from_numpy(clean).unsqueeze(1)


def build(exp):
    dm = TensorDataModule(load_data(exp, "train"), val=load_data(exp, "test"),
                          batch_size=exp.spec["trainer"]["batch_size"], seed=exp.seed)
    return model(exp), dm


@torch.no_grad()
def denoise_logits(module, noisy: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The autoencoder's logits for (N, 1, 28, 28) noisy images, in batches (sigmoid -> images)."""
    module.eval()
    logits = torch.cat([module.logits(noisy[i:i + batch_size]) for i in range(0, len(noisy), batch_size)])
    return logits


def _grid(noisy: np.ndarray, denoised: np.ndarray, clean: np.ndarray, path: Path, title: str) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    n = len(noisy)
    fig, axes = plt.subplots(3, n, figsize=(1.3 * n, 4.6), squeeze=False)
    for row, (name, images) in enumerate((("noisy input", noisy), ("denoised", denoised), ("clean", clean))):
        for col in range(n):
            ax = axes[row, col]
            ax.imshow(images[col], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        axes[row, 0].set_ylabel(name)
    fig.suptitle(title)
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad.analysis.figures import curves, read_history

    noisy, clean = load_data(exp, "test")
    logits = denoise_logits(module, noisy)
    denoised = torch.sigmoid(logits)
    n = int(exp.spec.get("evaluate", {}).get("examples", 8))
    lr = exp.spec["optimizer"]["lr"]
    _grid(noisy[:n, 0].numpy(), denoised[:n, 0].numpy(), clean[:n, 0].numpy(), figures_dir / "denoising_grid.png",
          f"{exp.name}: first {n} test digits (Adadelta lr {lr:g})")
    history = read_history(exp.path(exp.history))
    curves(figures_dir / "loss.png", history, ["train_loss", "val_loss"], "binary cross-entropy",
           f"{exp.name}: loss per epoch (Adadelta lr {lr:g})",
           labels={"train_loss": "training", "val_loss": "validation (test set)"})
    metrics = {
        "test_loss": float(F.binary_cross_entropy_with_logits(logits, clean)),
        "test_mse_noisy_input": float(((noisy - clean) ** 2).mean()),
        "test_mse_denoised": float(((denoised - clean) ** 2).mean()),
        "parameters": sum(p.numel() for p in module.parameters()),
        "history_epochs": len(history["epoch"]),
        "first_train_loss": float(history["train_loss"][0]),
        "final_train_loss": float(history["train_loss"][-1]),
        "first_val_loss": float(history["val_loss"][0]),
        "final_val_loss": float(history["val_loss"][-1]),
    }
    metrics["denoiser_beats_noisy_input"] = metrics["test_mse_denoised"] < metrics["test_mse_noisy_input"]
    return metrics
