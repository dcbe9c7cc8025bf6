"""Chapter 31.2.1: linear regression as a LightningModule.

The chapter's recipe: torch.manual_seed(0); x = randn(100, 1) * 10; y = 3x + 1 + randn(100, 1);
batches of 10, shuffled; nn.Linear(1, 1) with torch's default init; MSE; SGD lr 0.01; 100
epochs. It printed slope 2.9757, intercept 0.9874.

To reproduce that run, `build` consumes torch's global random stream in the chapter's order
(seed, data, layer initialisation) and keeps the chapter's shuffled DataLoader, whose sampler
also draws from that stream. With 100 rows the per-sample DataLoader costs nothing.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import nn

from dllaunchpad.optim import build_optimizer

class LinearRegression(L.LightningModule):
    def __init__(self, optimizer: dict):
        super().__init__()
        self.optimizer_spec = optimizer
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_spec)


def make_data(spec: dict, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, 1) * x_scale, y = slope * x + intercept + noise_std * N(0, 1), in the chapter's order."""
    x = torch.randn(spec["n"], 1, generator=generator) * spec["x_scale"]
    y = spec["slope"] * x + spec["intercept"] + spec["noise_std"] * torch.randn(spec["n"], 1, generator=generator)
    return x, y


class _DataModule(L.LightningDataModule):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def train_dataloader(self):
        from torch.utils.data import DataLoader, TensorDataset

        return DataLoader(TensorDataset(self.x, self.y), batch_size=self.batch_size, shuffle=True)


def model(exp) -> LinearRegression:
    return LinearRegression(exp.spec["optimizer"])


def build(exp):
    torch.manual_seed(exp.seed)  # the global stream, deliberately: see the module docstring
    x, y = make_data(exp.spec["data"])
    module = model(exp)  # after the data: the chapter's order of draws
    return module, _DataModule(x, y, exp.spec["trainer"]["batch_size"])


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad.analysis.figures import curves, pyplot, read_history, save

    spec = exp.spec["data"]
    x, y = make_data(spec, torch.Generator().manual_seed(exp.seed))  # the same draws as in build
    slope, intercept = module.linear.weight.item(), module.linear.bias.item()
    with torch.no_grad():
        mse = nn.functional.mse_loss(module(x), y).item()

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.scatter(x.squeeze(), y.squeeze(), s=12, alpha=0.7, label="data")
    xs = torch.linspace(float(x.min()), float(x.max()), 50)
    ax.plot(xs, slope * xs + intercept, color="#D55E00", label=f"fit: y = {slope:.4f}x + {intercept:.4f}")
    ax.plot(xs, spec["slope"] * xs + spec["intercept"], "--", color="#000000", label="truth: y = 3x + 1")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Linear regression: data and fitted line")
    ax.legend()
    save(fig, figures_dir / "fit.png")
    curves(figures_dir / "loss.png", read_history(exp.path(exp.history)), ["train_loss"], "MSE (log scale)",
           "Training loss per epoch", logy=True)
    return {
        "slope": slope, "intercept": intercept, "train_mse": mse,
        "slope_error": abs(slope - spec["slope"]), "intercept_error": abs(intercept - spec["intercept"]),
    }
