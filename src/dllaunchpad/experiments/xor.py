"""Chapter 31.8.1: XOR with a 2-6-1 network (ReLU hidden layer, sigmoid output).

Translated from the chapter's Keras model: Glorot-uniform weights and zero biases (Keras Dense
defaults), MSE loss, Adam with Keras' defaults (lr 1e-3, epsilon 1e-7), 2000 epochs. Keras' fit
uses batches of 32, so the 4 examples form one batch per epoch. The chapter printed predictions
0.201, 0.821, 0.823, 0.176 and a final loss of 0.03; a different random start gives different
numbers, so we compare the shape of the result (all four on the right side of 0.5).

`model.extra_hidden` (exercise 31.9.3c, optional): a second ReLU hidden layer of that many units
between the first and the output; absent or null builds the chapter's 2-h-1 net, layer for layer
and draw for draw. Every run also reports `epochs_to_accuracy_1`, the first epoch whose logged
training accuracy is 1 (`analysis.milestones`: epochs run + 1, with `reached_accuracy_1` false,
when it never was). The logged accuracy of an epoch is that of the weights its one batch met,
i.e. after the previous epoch's update: training for that many epochs minus one already gives a
model with accuracy 1 (same seed, same trajectory).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import nn

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.keras_init import keras_dense
from dllaunchpad.optim import build_optimizer

X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])


class XorNet(L.LightningModule):
    def __init__(self, hidden: int, optimizer: dict, extra_hidden: int | None = None):
        super().__init__()
        self.optimizer_spec = optimizer
        # Layers in input-to-output order, so the seeded initial weights are drawn in that order:
        # without an extra layer the draws (and the state_dict keys) are the chapter net's.
        layers = [keras_dense(2, hidden), nn.ReLU()]
        width = hidden
        if extra_hidden:
            layers += [keras_dense(hidden, extra_hidden), nn.ReLU()]
            width = extra_hidden
        self.net = nn.Sequential(*layers, keras_dense(width, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        p = self(x)
        loss = nn.functional.mse_loss(p, y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        self.log("train_binary_accuracy", ((p > 0.5).float() == y).float().mean(), on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_spec)


def model(exp) -> XorNet:
    m = exp.spec["model"]
    return XorNet(m["hidden"], exp.spec["optimizer"], extra_hidden=m.get("extra_hidden"))


def build(exp):
    module = model(exp)  # before the datamodule, as always (the order of the seeded draws)
    dm = TensorDataModule((X, Y), batch_size=exp.spec["trainer"]["batch_size"], seed=exp.seed)
    return module, dm


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad.analysis.figures import curves, pyplot, read_history, save

    with torch.no_grad():
        p = module(X).squeeze(1)
        loss = nn.functional.mse_loss(p, Y.squeeze(1)).item()
        grid = torch.stack(torch.meshgrid(torch.linspace(-0.25, 1.25, 121), torch.linspace(-0.25, 1.25, 121),
                                          indexing="xy"), -1)
        surface = module(grid.reshape(-1, 2)).reshape(121, 121)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.4))
    im = ax.imshow(surface, origin="lower", extent=(-0.25, 1.25, -0.25, 1.25), cmap="cividis", vmin=0, vmax=1)
    ax.contour(grid[..., 0], grid[..., 1], surface, levels=[0.5], colors="white")
    ax.scatter(X[:, 0], X[:, 1], c=["white" if t < 0.5 else "black" for t in Y.squeeze(1)],
               edgecolors="#D55E00", s=120, linewidths=2)
    fig.colorbar(im, ax=ax, label="network output")
    ax.set_xlabel("input 1")
    ax.set_ylabel("input 2")
    ax.set_title("XOR: output surface and the 0.5 boundary")
    ax.grid(False)
    save(fig, figures_dir / "decision_surface.png")
    history = read_history(exp.path(exp.history))
    curves(figures_dir / "loss.png", history, ["train_loss"], "MSE", "Training loss per epoch")
    metrics = {f"prediction_{int(a)}{int(b)}": float(v) for (a, b), v in zip(X.tolist(), p)}
    metrics.update({
        "final_loss": loss,
        "binary_accuracy": float(((p > 0.5).float() == Y.squeeze(1)).float().mean()),
    })
    metrics.update(speed_metrics(history))
    return metrics


def speed_metrics(history: dict[str, list[float]]) -> dict:
    """Exercise 31.9.3c's "how many epochs": when the logged training accuracy first was 1."""
    from dllaunchpad.analysis.milestones import epochs_to

    epochs, reached = epochs_to(history, "train_binary_accuracy", 1.0)
    return {"epochs_to_accuracy_1": epochs, "reached_accuracy_1": reached}
