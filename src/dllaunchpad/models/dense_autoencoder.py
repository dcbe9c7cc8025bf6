"""Dense (fully connected) autoencoders of chapter 31.7.2: undercomplete and sparse.

One `DenseAutoencoder` is an encoder f (784 -> hidden... -> code) and a mirrored decoder g. The
loss is the reconstruction term plus an optional sparsity penalty Omega(h) on the code h:

- reconstruction: (1/2) * sum over pixels of (x - g(f(x)))^2, averaged over the batch (the
  convention of the classic sparse-autoencoder notes, so that beta = 3 has its usual weight);
- KL sparsity (the chapter's): beta * sum_j KL(rho || rho_hat_j), rho_hat_j the mean activation
  of code unit j over the batch (a sigmoid code, so rho_hat_j lies in (0, 1));
- L1 sparsity (the chapter's footnote 78): lambda * sum_j |a_j|, summed over units and averaged
  over the batch (the chapter sums over the m examples too; averaging keeps lambda independent
  of the batch size).

`AutoencoderSet` trains several such autoencoders side by side on the same batches, so that
the variants of one experiment (linear vs nonlinear, KL vs L1 vs no penalty) see identical data.
Their losses are summed; as the variants share no parameters, each one's gradient is exactly its
own loss's, and Adam (element-wise) updates each as if it were trained alone.
"""

from __future__ import annotations

import torch
from torch import nn

from dllaunchpad.models.supervised import SupervisedModule

ACTIVATIONS = {"linear": nn.Identity, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
PIXELS = 28 * 28


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]()


def _stack(sizes: list[int], activation: str, last_activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(n_in, n_out), _activation(last_activation if k == len(sizes) - 2 else activation)]
    return nn.Sequential(*layers)


def kl_sparsity(h: torch.Tensor, rho: float, beta: float, eps: float = 1e-6) -> torch.Tensor:
    """beta * sum_j KL(rho || rho_hat_j), rho_hat_j = mean of h[:, j] over the batch."""
    rho_hat = h.mean(0).clamp(eps, 1 - eps)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return beta * kl.sum()


def l1_activity(h: torch.Tensor, lam: float) -> torch.Tensor:
    """lambda * sum_j |h_j|, averaged over the batch."""
    return lam * h.abs().sum(1).mean()


class DenseAutoencoder(nn.Module):
    """`spec`: hidden (list of widths), code, activation, code_activation, output, and an
    optional sparsity {penalty: kl, rho, beta} or {penalty: l1, lambda}."""

    def __init__(self, spec: dict):
        super().__init__()
        self.spec = dict(spec)
        sizes = [PIXELS, *spec["hidden"], spec["code"]]
        self.encoder = _stack(sizes, spec["activation"], spec["code_activation"])
        self.decoder = _stack(sizes[::-1], spec["activation"], spec["output"])
        sparsity = spec.get("sparsity")
        if sparsity and sparsity["penalty"] == "kl" and spec["code_activation"] != "sigmoid":
            raise ValueError("the KL sparsity penalty needs code_activation: sigmoid (rho_hat must lie in (0, 1))")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(code h, reconstruction r), both flat; x may be (N, 28, 28) or (N, 784)."""
        h = self.encoder(x.reshape(len(x), -1))
        return h, self.decoder(h).reshape(x.shape)

    def penalty(self, h: torch.Tensor) -> torch.Tensor:
        sparsity = self.spec.get("sparsity")
        if not sparsity:
            return h.new_zeros(())
        if sparsity["penalty"] == "kl":
            return kl_sparsity(h, sparsity["rho"], sparsity["beta"])
        return l1_activity(h, sparsity["lambda"])

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h, r = self(x)
        recon = 0.5 * (r - x).pow(2).reshape(len(x), -1).sum(1).mean()
        penalty = self.penalty(h)
        return {"loss": recon + penalty, "recon": recon, "penalty": penalty,
                "mse": (r - x).pow(2).mean(), "mean_activation": h.mean()}


class AutoencoderSet(SupervisedModule):
    def __init__(self, variants: dict[str, dict], optimizer: dict):
        super().__init__()
        self.models = nn.ModuleDict({name: DenseAutoencoder(spec) for name, spec in variants.items()})
        self.optimizer_spec = optimizer

    def _step(self, batch, stage: str) -> torch.Tensor:
        x = batch[0]  # images only: the target is the input
        total = x.new_zeros(())
        for name, model in self.models.items():
            parts = model.losses(x)
            total = total + parts["loss"]
            keys = ("loss", "recon", "penalty", "mse", "mean_activation") if stage == "train" else ("mse",)
            for k in keys:
                self.log(f"{stage}_{name}_{k}", parts[k], on_step=False, on_epoch=True)
        return total
