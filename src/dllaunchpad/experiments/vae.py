"""Chapter 31.7.2: a variational autoencoder on MNIST.

Trained on the training digits; the test digits are the per-epoch validation set (monitoring
only: nothing is selected on them, as in the chapter's Keras examples). Evaluate reports the test
ELBO (nats per image; its reconstruction and KL parts, averaged over `elbo_samples` draws of z
per image) and an importance-weighted bound on log p(x), and draws samples from the prior, a
traversal of two latent dimensions (the others held at 0) and the test digits' latent means.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.vae import VAEModule


def _data(exp, split: str) -> tuple[torch.Tensor, np.ndarray]:
    from dllaunchpad.datasets import mnist

    x, y = mnist.load(exp.data_dir, split)
    return torch.from_numpy(x), y


def model(exp) -> VAEModule:
    m = exp.spec["model"]
    return VAEModule(m["hidden"], m["latent"], exp.spec["optimizer"])


def build(exp):
    module = model(exp)
    dm = TensorDataModule((_data(exp, "train")[0],), val=(_data(exp, "test")[0],),
                          batch_size=exp.spec["trainer"]["batch_size"], seed=exp.seed)
    return module, dm


def _grid(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return images.reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, cols * 28)


def _figures(exp, vae, x_test, y_test, generator, figures_dir: Path) -> None:
    from dllaunchpad.analysis.figures import curves, pyplot, read_history, save

    plt = pyplot()
    ev = exp.spec["evaluate"]
    n = ev["grid"]
    with torch.no_grad():
        prior = vae.decode(torch.randn(n * n, vae.latent, generator=generator)).numpy()
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(_grid(prior, n, n), cmap="gray_r")
    ax.axis("off")
    ax.set_title("Samples: z ~ N(0, I), decoder mean")
    save(fig, figures_dir / "prior_samples.png")

    d0, d1 = ev["traversal_dims"]
    # Equally spaced quantiles of N(0, 1), so the grid covers the prior evenly.
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n))
    z = torch.zeros(n * n, vae.latent)
    z[:, d0] = q.repeat(n)                 # columns: dimension d0
    z[:, d1] = q.flip(0).repeat_interleave(n)  # rows: dimension d1, increasing upwards
    with torch.no_grad():
        traversal = vae.decode(z).numpy()
    fig, ax = plt.subplots(figsize=(6.4, 6.4))
    ax.imshow(_grid(traversal, n, n), cmap="gray_r", extent=(0, n, 0, n))
    ticks = np.arange(n) + 0.5
    ax.set_xticks(ticks, [f"{v:.1f}" for v in q.tolist()], fontsize=7)
    ax.set_yticks(ticks, [f"{v:.1f}" for v in q.tolist()], fontsize=7)
    ax.set_xlabel(f"z[{d0}]")
    ax.set_ylabel(f"z[{d1}]")
    ax.grid(False)
    others = "" if vae.latent == 2 else " (other dimensions at 0)"
    ax.set_title(f"Latent traversal over z[{d0}], z[{d1}]{others}")
    save(fig, figures_dir / "latent_traversal.png")

    with torch.no_grad():
        mu, _ = vae.encode(x_test)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    sc = ax.scatter(mu[:, d0], mu[:, d1], c=y_test, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel(f"mu[{d0}]")
    ax.set_ylabel(f"mu[{d1}]")
    ax.set_title("Test digits in latent space (encoder means)")
    save(fig, figures_dir / "latent_means.png")

    history = read_history(exp.path(exp.history))
    curves(figures_dir / "loss_terms.png", history,
           ["train_recon", "val_recon", "train_kl", "val_kl"], "nats per image",
           "-ELBO's two terms per epoch (val = test digits)", logy=True)


def evaluate(exp, module, figures_dir: Path) -> dict:
    seed = exp.seed
    ev = exp.spec["evaluate"]
    vae = module.vae.eval()
    x_test, y_test = _data(exp, "test")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        recon, kl = torch.zeros(len(x_test)), torch.zeros(len(x_test))
        for _ in range(ev["elbo_samples"]):
            t = vae.terms(x_test, generator)
            recon += t["recon"] / ev["elbo_samples"]
            kl = t["kl"]  # closed form: the same for every draw
        iwae = vae.iwae_bound(x_test, ev["iwae_samples"], generator)
    _figures(exp, vae, x_test, y_test, generator, figures_dir)
    return {
        "test_elbo": round(float(-(recon + kl).mean()), 4),
        "test_recon_nll": round(float(recon.mean()), 4),
        "test_kl": round(float(kl.mean()), 4),
        "test_log_likelihood_iwae": round(float(iwae.mean()), 4),
        "iwae_samples": ev["iwae_samples"],
        "latent_dim": vae.latent,
    }
