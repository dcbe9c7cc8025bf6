"""The variational autoencoder of chapter 31.7.2 (dense encoder and decoder, MNIST).

- Encoder: x -> hidden layers (ReLU) -> mu(x), log sigma^2(x): q(z|x) = N(mu, diag(sigma^2)).
- Reparameterization: z = mu + sigma * eps, eps ~ N(0, I), so the sample is differentiable in
  mu and sigma.
- Decoder: z -> hidden layers (ReLU) -> 784 logits of a Bernoulli p(x|z) per pixel. MNIST
  intensities are in [0, 1], not binary; as is usual (Kingma & Welling's MNIST runs, Keras'
  VAE example) we use them as the Bernoulli targets, so the "reconstruction" term is the binary
  cross-entropy summed over pixels.
- Loss per image: -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)), the KL in closed form
  0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2); both terms are logged separately, in nats.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.models.supervised import SupervisedModule

PIXELS = 28 * 28


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per row."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


class VAE(nn.Module):
    def __init__(self, hidden: list[int], latent: int):
        super().__init__()
        self.latent = latent
        self.encoder = _mlp([PIXELS, *hidden])
        width = hidden[-1] if hidden else PIXELS
        self.mu = nn.Linear(width, latent)
        self.logvar = nn.Linear(width, latent)
        self.decoder = nn.Sequential(_mlp([latent, *hidden[::-1]]), nn.Linear(hidden[0] if hidden else latent, PIXELS))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.reshape(len(x), -1))
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean images (N, 28, 28) of p(x|z)."""
        return torch.sigmoid(self.decode_logits(z)).reshape(len(z), 28, 28)

    def terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-image reconstruction (-log p(x|z), one z sample) and KL, in nats."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator)
        logits = self.decode_logits(z)
        recon = F.binary_cross_entropy_with_logits(logits, x.reshape(len(x), -1), reduction="none").sum(1)
        return {"recon": recon, "kl": kl_to_standard_normal(mu, logvar)}

    @torch.no_grad()
    def iwae_bound(self, x: torch.Tensor, samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance-weighted lower bound on log p(x) per image (Burda et al. 2016), with
        `samples` draws from q(z|x): tighter than the ELBO, equal to it for samples=1."""
        mu, logvar = self.encode(x)
        flat = x.reshape(len(x), -1)
        std = torch.exp(0.5 * logvar)
        logw = []
        for _ in range(samples):
            eps = torch.randn(mu.shape, generator=generator)
            z = mu + std * eps
            log_px = -F.binary_cross_entropy_with_logits(self.decode_logits(z), flat, reduction="none").sum(1)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
            log_qz = -0.5 * (eps.pow(2) + logvar + math.log(2 * math.pi)).sum(1)
            logw.append(log_px + log_pz - log_qz)
        return torch.logsumexp(torch.stack(logw), 0) - math.log(samples)


class VAEModule(SupervisedModule):
    def __init__(self, hidden: list[int], latent: int, optimizer: dict):
        super().__init__()
        self.vae = VAE(hidden, latent)
        self.optimizer_spec = optimizer

    def _step(self, batch, stage: str) -> torch.Tensor:
        x = batch[0]  # images only: the target is the input
        t = self.vae.terms(x)
        recon, kl = t["recon"].mean(), t["kl"].mean()
        loss = recon + kl
        self.log(f"{stage}_recon", recon, on_step=False, on_epoch=True)
        self.log(f"{stage}_kl", kl, on_step=False, on_epoch=True)
        self.log(f"{stage}_neg_elbo", loss, on_step=False, on_epoch=True)
        return loss
