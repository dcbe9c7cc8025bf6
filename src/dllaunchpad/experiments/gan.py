"""Chapter 31.7.1: GANs on MNIST, one per setting in `model.variants` (generator loss, minibatch
discrimination, feature matching), trained side by side (models/gan.py).

Mode coverage is measured by the judge, a small CNN trained on the real digits in the same run
(its test accuracy is reported, so its verdicts can be weighed). For each variant, evaluate
generates `evaluate.samples` digits from a seeded latent batch and reports:

- ``classes_covered``: digits that receive at least `evaluate.min_class_share` of the samples
  (10 = every digit; a collapsed generator covers few);
- ``class_entropy``: entropy of the judged class histogram / log 10 (1 = uniform);
- ``max_class_share``: the share of the most generated digit (0.1 when uniform);
- ``judge_score``: exp(E_x KL(p(y|x) || p(y))) with the judge's p(y|x), the Inception Score's
  recipe with our judge: high when each sample is a clear digit and all digits occur (max 10);
- ``diversity``: mean pairwise distance between generated images over that between real test
  images (well below 1: the samples are near-copies of each other, mode collapse within a class).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.gan import GANSet, class_entropy, to_unit


def _data(exp, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from dllaunchpad.datasets import mnist

    x, y = mnist.load(exp.data_dir, split)
    return torch.from_numpy(x), torch.from_numpy(y)


def model(exp) -> GANSet:
    return GANSet(exp.spec["model"], exp.spec["optimizer"], exp.spec["trainer"]["epochs"], exp.seed)


def build(exp):
    module = model(exp)
    dm = TensorDataModule(_data(exp, "train"), batch_size=exp.spec["trainer"]["batch_size"], seed=exp.seed)
    return module, dm


def mean_pairwise_distance(images: torch.Tensor) -> float:
    flat = images.reshape(len(images), -1).double()
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / (n * (n - 1)))


@torch.no_grad()
def coverage(judge, images: torch.Tensor, min_share: float) -> dict:
    probs = torch.softmax(judge(images), 1)
    share = torch.bincount(probs.argmax(1), minlength=10).float() / len(images)
    marginal = probs.mean(0)
    kl = (probs * (probs.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(1).mean()
    return {"share": share.numpy(), "classes_covered": int((share >= min_share).sum()),
            "class_entropy": float(class_entropy(share)), "max_class_share": float(share.max()),
            "judge_score": float(kl.exp())}


def _grid(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return images[:rows * cols].reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, cols * 28)


def _figures(exp, module, samples: dict, stats: dict, real_share: np.ndarray, figures_dir: Path) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, read_history, save

    plt = pyplot()
    names = list(module.gans)
    epochs = module.epoch_samples.shape[1]
    shown_epochs = sorted(set(np.linspace(0, epochs - 1, min(epochs, 10)).round().astype(int).tolist()))
    for i, name in enumerate(names):
        per_epoch = module.epoch_samples[i, shown_epochs].float().numpy() / 255  # (E, n, 28, 28)
        n = per_epoch.shape[1]
        fig, ax = plt.subplots(figsize=(0.5 * n + 1.2, 0.5 * len(shown_epochs) + 1.0))
        ax.imshow(_grid(per_epoch.reshape(-1, 28, 28), len(shown_epochs), n), cmap="gray_r", vmin=0, vmax=1,
                  extent=(0, n, len(shown_epochs), 0))
        ax.set_yticks(np.arange(len(shown_epochs)) + 0.5, [str(e + 1) for e in shown_epochs])
        ax.set_xticks([])
        ax.set_ylabel("epoch")
        ax.set_xlabel("fixed latent vectors")
        ax.grid(False)
        ax.set_title(f"{name}: samples of a fixed latent batch, per epoch")
        save(fig, figures_dir / f"samples_by_epoch_{name}.png")

        fig, ax = plt.subplots(figsize=(5.5, 5.8))
        ax.imshow(_grid(samples[name].numpy(), 8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
        ax.set_title(f"{name}: 64 samples after training")
        save(fig, figures_dir / f"samples_{name}.png")

    history = read_history(exp.path(exp.history))
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        for key, label, color in ((f"train_{name}_d_loss", "D loss", OKABE_ITO[0]),
                                  (f"train_{name}_g_loss", "G loss", OKABE_ITO[1])):
            if key in history:
                ax.plot(history["epoch"], history[key], label=label, color=color)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (mean over the epoch)")
        ax.set_title(name + (" (G: feature matching)" if module.gans[name].spec["feature_matching"] else ""),
                     fontsize=10)
        ax.legend()
    fig.suptitle("Discriminator and generator losses")
    save(fig, figures_dir / "losses.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / (len(names) + 1)
    digits = np.arange(10)
    ax.bar(digits - 0.4 + width / 2, real_share, width, color="black", label="real test digits")
    for j, name in enumerate(names, start=1):
        ax.bar(digits - 0.4 + width / 2 + j * width, stats[name]["share"], width, label=name)
    ax.axhline(exp.spec["evaluate"]["min_class_share"], color="grey", ls=":", lw=1, label="coverage threshold")
    ax.set_xticks(digits)
    ax.set_xlabel("digit, as the judge classifies it")
    ax.set_ylabel("share of samples")
    ax.set_title("Mode coverage: judged classes of generated digits")
    ax.legend(fontsize=8)
    save(fig, figures_dir / "class_histogram.png")

    fig, ax = plt.subplots()
    for name in names:
        key = f"train_{name}_class_entropy"
        if key in history:
            ax.plot(history["epoch"], history[key], "o-", label=name)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("epoch")
    ax.set_ylabel("class entropy / log 10")
    ax.set_title("Mode coverage per epoch (1 = all digits equally often)")
    ax.legend()
    save(fig, figures_dir / "coverage_by_epoch.png")


def evaluate(exp, module, figures_dir: Path) -> dict:
    seed = exp.seed
    ev = exp.spec["evaluate"]
    x_test, y_test = _data(exp, "test")
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(ev["samples"], module.latent, generator=generator)
    metrics: dict = {}
    with torch.no_grad():
        judge = module.judge.eval()
        metrics["judge_test_accuracy"] = round(float((judge(x_test).argmax(1) == y_test).float().mean()), 4)
        n_div = min(500, len(x_test), ev["samples"])
        real_distance = mean_pairwise_distance(x_test[:n_div])
        samples, stats = {}, {}
        for name, gan in module.gans.items():
            images = to_unit(gan.generator(z))
            samples[name] = images[:64]
            stats[name] = coverage(judge, images, ev["min_class_share"])
            for k in ("classes_covered", "class_entropy", "max_class_share", "judge_score"):
                metrics[f"{name}_{k}"] = round(stats[name][k], 4) if isinstance(stats[name][k], float) else stats[name][k]
            metrics[f"{name}_diversity"] = round(mean_pairwise_distance(images[:n_div]) / real_distance, 4)
    real_share = np.bincount(y_test.numpy(), minlength=10) / len(y_test)
    _figures(exp, module, samples, stats, real_share, figures_dir)
    return metrics
