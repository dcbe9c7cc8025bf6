"""Chapter 31.7.2: undercomplete and sparse autoencoders on MNIST, against PCA.

The entry's `model.variants` are trained side by side (models/dense_autoencoder.py). Evaluate
compares them on the test digits:

- undercomplete variants (no sparsity penalty, a linear or ReLU code) against PCA with as many components as their
  code has units (PCA fitted on the training digits): a linear autoencoder trained with squared
  error spans the same subspace as PCA at its optimum, so its test MSE approaches PCA's from
  above; a nonlinear one can do better;
- sparse variants (KL or L1 penalty on a sigmoid code): the mean activation of each code unit
  against the target rho, next to the same code trained without a penalty.

The denoising autoencoder of 31.7.2 is the supervised examples' `mnist_denoising_ae`
experiment (chapter 31.8.4), which trains on the prepared noisy digits; it is not repeated here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.dense_autoencoder import AutoencoderSet


def compared_with_pca(spec: dict) -> bool:
    """Undercomplete variants: no sparsity penalty and an unbounded (linear or ReLU) code."""
    return not spec.get("sparsity") and spec["code_activation"] != "sigmoid"


def _images(exp, split: str) -> torch.Tensor:
    from dllaunchpad.datasets import mnist

    x, _ = mnist.load(exp.data_dir, split)
    return torch.from_numpy(x)


def model(exp) -> AutoencoderSet:
    return AutoencoderSet(exp.spec["model"]["variants"], exp.spec["optimizer"])


def build(exp):
    module = model(exp)
    dm = TensorDataModule((_images(exp, "train"),), val=(_images(exp, "test"),),
                          batch_size=exp.spec["trainer"]["batch_size"], seed=exp.seed)
    return module, dm


class PCA:
    """Principal components of the (flattened) training images, by an eigendecomposition of
    their covariance in float64."""

    def __init__(self, x: np.ndarray):
        x = x.reshape(len(x), -1).astype(np.float64)
        self.mean = x.mean(0)
        cov = np.cov(x - self.mean, rowvar=False)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1]
        self.components = vectors[:, order].T  # (784, 784), rows by decreasing variance

    def reconstruct(self, x: np.ndarray, k: int) -> np.ndarray:
        flat = x.reshape(len(x), -1).astype(np.float64) - self.mean
        w = self.components[:k]
        return (flat @ w.T @ w + self.mean).reshape(x.shape)

    def mse_curve(self, x: np.ndarray, ks: list[int]) -> np.ndarray:
        """Test MSE per pixel for each k, from the residual of the projection."""
        flat = x.reshape(len(x), -1).astype(np.float64) - self.mean
        scores = flat @ self.components.T                     # (N, 784)
        total = (flat ** 2).sum(1).mean()
        captured = np.cumsum((scores ** 2).mean(0))           # energy in the first k components
        return np.array([(total - captured[k - 1]) / flat.shape[1] for k in ks])


def _figures(exp, figures_dir: Path, module, x_test: torch.Tensor, pca: PCA, stats: dict) -> None:
    from dllaunchpad.analysis.figures import curves, pyplot, read_history, save

    plt = pyplot()
    variants = exp.spec["model"]["variants"]
    undercomplete = [v for v, s in variants.items() if compared_with_pca(s)]
    shown = x_test[:8]
    rows = [("original", shown.numpy())]
    if undercomplete:
        k = variants[undercomplete[0]]["code"]
        rows.append((f"PCA, k={k}", pca.reconstruct(shown.numpy(), k)))
    with torch.no_grad():
        rows += [(name, m(shown)[1].clamp(0, 1).numpy()) for name, m in module.models.items()]
    fig, axes = plt.subplots(len(rows), len(shown), figsize=(1.3 * len(shown), 1.35 * len(rows)), squeeze=False)
    for r, (label, imgs) in enumerate(rows):
        for c in range(len(shown)):
            ax = axes[r][c]
            ax.imshow(imgs[c], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle("Test digits and their reconstructions")
    save(fig, figures_dir / "reconstructions.png")

    if undercomplete:
        ks = list(range(1, 129))
        fig, ax = plt.subplots()
        ax.plot(ks, pca.mse_curve(x_test.numpy(), ks), color="black", lw=1.2, label="PCA")
        for name in undercomplete:
            ax.scatter([variants[name]["code"]], [stats[name]["mse"]], s=60, zorder=3, label=f"AE: {name}")
        ax.set_yscale("log")
        ax.set_xlabel("code size / principal components k")
        ax.set_ylabel("test reconstruction MSE per pixel")
        ax.set_title("Undercomplete autoencoders against PCA")
        ax.legend()
        save(fig, figures_dir / "pca_vs_autoencoders.png")

    sigmoid_codes = [v for v, s in variants.items() if s["code_activation"] == "sigmoid"]
    if sigmoid_codes:
        fig, ax = plt.subplots()
        bins = np.linspace(0, 1, 41)
        for name in sigmoid_codes:
            ax.hist(stats[name]["unit_means"], bins=bins, histtype="step", lw=1.6, label=name)
        rhos = {s["sparsity"]["rho"] for s in variants.values() if s.get("sparsity", {}).get("penalty") == "kl"}
        for rho in rhos:
            ax.axvline(rho, color="black", ls=":", label=f"target rho = {rho}")
        ax.set_xlabel("mean activation of a code unit over the test digits")
        ax.set_ylabel("code units")
        ax.set_title("Sparsity: mean activation per code unit")
        ax.legend()
        save(fig, figures_dir / "mean_activation_per_unit.png")

    for name, spec in variants.items():
        if spec.get("sparsity") and not spec["hidden"]:
            w = module.models[name].encoder[0].weight.detach().numpy()[:64]
            n = int(np.ceil(np.sqrt(len(w))))
            fig, axes = plt.subplots(n, n, figsize=(6, 6))
            for ax, i in zip(axes.flat, range(n * n)):
                ax.axis("off")
                if i < len(w):
                    ax.imshow(w[i].reshape(28, 28), cmap="RdBu_r")
            fig.suptitle(f"Encoder weights of the first 64 code units: {name}")
            save(fig, figures_dir / f"features_{name}.png")

    history = read_history(exp.path(exp.history))
    curves(figures_dir / "val_mse.png", history, [f"val_{v}_mse" for v in variants], "test MSE per pixel",
           "Reconstruction error per epoch", labels={f"val_{v}_mse": v for v in variants}, logy=True)


def evaluate(exp, module, figures_dir: Path) -> dict:
    x_train, x_test = _images(exp, "train"), _images(exp, "test")
    pca = PCA(x_train.numpy())
    variants = exp.spec["model"]["variants"]
    stats, metrics = {}, {}
    with torch.no_grad():
        for name, model in module.models.items():
            h, r = model(x_test)
            stats[name] = {"mse": float((r - x_test).pow(2).mean()), "unit_means": h.mean(0).numpy()}
            metrics[f"{name}_test_mse"] = round(stats[name]["mse"], 6)
            spec = variants[name]
            if compared_with_pca(spec):
                pca_mse = float(pca.mse_curve(x_test.numpy(), [spec["code"]])[0])
                metrics[f"{name}_pca_test_mse"] = round(pca_mse, 6)
                metrics[f"{name}_mse_over_pca"] = round(stats[name]["mse"] / pca_mse, 4)
            if spec["code_activation"] == "sigmoid":
                metrics[f"{name}_mean_activation"] = round(float(h.mean()), 5)
                metrics[f"{name}_activations_below_0p05"] = round(float((h < 0.05).float().mean()), 4)
                if spec.get("sparsity", {}).get("penalty") == "kl":
                    metrics[f"{name}_target_rho"] = spec["sparsity"]["rho"]
    _figures(exp, figures_dir, module, x_test, pca, stats)
    return metrics
