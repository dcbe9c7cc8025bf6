"""Generative adversarial networks of chapter 31.7.1 (dense generator and discriminator, MNIST).

Losses, with D the discriminator's probability and BCE written out:

- discriminator: L_d = -E_x[log D(x)] - E_z[log(1 - D(G(z)))];
- generator, ``minimax``: L_g = E_z[log(1 - D(G(z)))] (the zero-sum game; its gradient vanishes
  while D easily rejects the fakes);
- generator, ``non_saturating`` (the default): L_g = -E_z[log D(G(z))];
- ``feature_matching`` (Salimans et al. 2016, sec. 3.1): the generator instead matches the mean
  of D's features on real and generated batches, L_g = || E_x f(x) - E_z f(G(z)) ||^2, and
  ignores D's output. f is the input of D's output layer: the last hidden features, plus the
  minibatch features when minibatch discrimination is on (otherwise a generator that puts out
  one "average" image would match the means, and the minibatch features would never reach it);
- ``minibatch_discrimination`` (ibid., sec. 3.2): D also sees, for each sample, how close it is
  to the other samples of its batch (a layer after the last hidden features), so a generator
  that puts out near-copies is easy to spot.

D works on logits and BCE-with-logits (the same loss as BCE on a sigmoid, without its
log(0) problems). Images are scaled to [-1, 1] for the tanh output of G.

`GANSet` trains one GAN per variant side by side on the same real batches, plus a small CNN
"judge" classifier on the real digits and labels, which classifies generated digits to measure
mode coverage (we train it here rather than load another experiment's classifier so that the
experiment depends on its own stages only). Lightning's manual optimisation: per batch, every
variant takes one discriminator step, and a generator step after every k-th discriminator step.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.optim import build_optimizer
from dllaunchpad.models.epoch_logging import EpochLoggingModule

PIXELS = 28 * 28
GENERATOR_LOSSES = ("non_saturating", "minimax")


def _dense(sizes: list[int], slope: float = 0.2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.LeakyReLU(slope)]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self, latent: int, hidden: list[int]):
        super().__init__()
        self.latent = latent
        self.net = nn.Sequential(_dense([latent, *hidden]), nn.Linear(hidden[-1], PIXELS), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images (N, 784) in [-1, 1]."""
        return self.net(z)


class MinibatchDiscrimination(nn.Module):
    """o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_1), M = f(x) T reshaped to (kernels, dim);
    returns [f, o] (Salimans et al. 2016, eq. in sec. 3.2)."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        m = (f @ self.T).view(len(f), self.kernels, self.kernel_dim).transpose(0, 1)  # (kernels, N, dim)
        l1 = torch.cdist(m, m, p=1)                        # (kernels, N, N)
        o = torch.exp(-l1).sum(2).T - 1.0                  # (N, kernels), minus the j = i term exp(0)
        return torch.cat([f, o], 1)


class Discriminator(nn.Module):
    def __init__(self, hidden: list[int], minibatch: tuple[int, int] | None):
        super().__init__()
        self.features = _dense([PIXELS, *hidden])
        self.minibatch = MinibatchDiscrimination(hidden[-1], *minibatch) if minibatch else None
        self.out = nn.Linear(hidden[-1] + (minibatch[0] if minibatch else 0), 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logit of "real" (N,), the output layer's input: the last hidden features, with the
        minibatch features appended when minibatch discrimination is on)."""
        f = self.features(x)
        if self.minibatch is not None:
            f = self.minibatch(f)
        return self.out(f).squeeze(1), f


class Judge(nn.Module):
    """A small CNN digit classifier: conv 3x3 (c1) - pool - conv 3x3 (c2) - pool - dense 10."""

    def __init__(self, filters: tuple[int, int]):
        super().__init__()
        c1, c2 = filters
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * 7 * 7, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; x: images in [0, 1], (N, 28, 28) or (N, 784)."""
        return self.net(x.reshape(len(x), 1, 28, 28))


def discriminator_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    return (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
            + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))


def generator_loss(fake_logit: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))   # -log D(G(z))
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))  # log(1 - D(G(z)))
    raise ValueError(f"unknown generator loss {kind!r} (known: {', '.join(GENERATOR_LOSSES)})")


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> images (N, 28, 28) in [0, 1]."""
    return ((images + 1) / 2).reshape(len(images), 28, 28)


class GAN(nn.Module):
    def __init__(self, spec: dict, latent: int, g_hidden: list[int], d_hidden: list[int], minibatch: tuple[int, int]):
        super().__init__()
        if spec["generator_loss"] not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss: unknown {spec['generator_loss']!r} (known: {', '.join(GENERATOR_LOSSES)})")
        self.spec = dict(spec)
        self.generator = Generator(latent, g_hidden)
        self.discriminator = Discriminator(d_hidden, minibatch if spec["minibatch_discrimination"] else None)


class GANSet(EpochLoggingModule):
    """`model`: latent, generator_hidden, discriminator_hidden, k, minibatch_kernels,
    minibatch_kernel_dim, judge_filters, judge_lr, fixed_samples, coverage_samples, variants."""

    def __init__(self, model: dict, optimizer: dict, epochs: int, seed: int):
        super().__init__()
        self.automatic_optimization = False
        self.k = model["k"]
        self.latent = model["latent"]
        self.optimizer_spec = optimizer
        self.judge_lr = model["judge_lr"]
        mbd = (model["minibatch_kernels"], model["minibatch_kernel_dim"])
        self.gans = nn.ModuleDict({name: GAN(spec, model["latent"], model["generator_hidden"],
                                             model["discriminator_hidden"], mbd)
                                   for name, spec in model["variants"].items()})
        self.judge = Judge(tuple(model["judge_filters"]))
        g = torch.Generator().manual_seed(seed)
        # The fixed latent batch of the per-epoch sample grids, and the batch whose judged
        # classes give the per-epoch coverage; both saved with the weights.
        self.register_buffer("fixed_z", torch.randn(model["fixed_samples"], self.latent, generator=g))
        self.register_buffer("coverage_z", torch.randn(model["coverage_samples"], self.latent, generator=g))
        self.register_buffer("epoch_samples", torch.zeros(len(self.gans), epochs, model["fixed_samples"], 28, 28,
                                                          dtype=torch.uint8))

    def configure_optimizers(self):
        opts = []
        for gan in self.gans.values():
            opts += [build_optimizer(gan.generator.parameters(), self.optimizer_spec),
                     build_optimizer(gan.discriminator.parameters(), self.optimizer_spec)]
        return opts + [torch.optim.Adam(self.judge.parameters(), lr=self.judge_lr)]

    def _log(self, name: str, value) -> None:
        self.log(name, value, on_step=False, on_epoch=True)

    def training_step(self, batch, batch_idx):
        x, y = batch
        real = x.reshape(len(x), -1) * 2 - 1
        opts = self.optimizers()
        generator_turn = (batch_idx + 1) % self.k == 0
        for i, (name, gan) in enumerate(self.gans.items()):
            opt_g, opt_d = opts[2 * i], opts[2 * i + 1]
            z = torch.randn(len(x), self.latent, device=x.device)
            fake = gan.generator(z)
            real_logit, _ = gan.discriminator(real)
            fake_logit, _ = gan.discriminator(fake.detach())
            d_loss = discriminator_loss(real_logit, fake_logit)
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.step()
            self._log(f"train_{name}_d_loss", d_loss)
            self._log(f"train_{name}_d_real", torch.sigmoid(real_logit).mean())
            self._log(f"train_{name}_d_fake", torch.sigmoid(fake_logit).mean())
            if generator_turn:
                gan.discriminator.requires_grad_(False)  # the generator step must not touch D
                fake_logit, fake_features = gan.discriminator(gan.generator(torch.randn_like(z)))
                if gan.spec["feature_matching"]:
                    with torch.no_grad():
                        _, real_features = gan.discriminator(real)
                    g_loss = feature_matching_loss(real_features, fake_features)
                else:
                    g_loss = generator_loss(fake_logit, gan.spec["generator_loss"])
                opt_g.zero_grad()
                self.manual_backward(g_loss)
                opt_g.step()
                gan.discriminator.requires_grad_(True)
                self._log(f"train_{name}_g_loss", g_loss)

        judge_opt = opts[-1]
        logits = self.judge(x)
        judge_loss = F.cross_entropy(logits, y)
        judge_opt.zero_grad()
        self.manual_backward(judge_loss)
        judge_opt.step()
        self._log("train_judge_loss", judge_loss)
        self._log("train_judge_accuracy", (logits.argmax(1) == y).float().mean())

        if batch_idx == self.trainer.num_training_batches - 1:
            self._end_of_epoch()

    @torch.no_grad()
    def _end_of_epoch(self) -> None:
        """Keep the fixed batch's samples of this epoch, and log each variant's class coverage
        on the coverage batch as the judge sees it now (logged from the epoch's last step, so
        that the runner's per-epoch history, written at epoch end, has it)."""
        epoch = self.current_epoch
        for i, (name, gan) in enumerate(self.gans.items()):
            if epoch < self.epoch_samples.shape[1]:
                images = to_unit(gan.generator(self.fixed_z))
                self.epoch_samples[i, epoch] = (images * 255).round().to(torch.uint8)
            share = torch.bincount(self.judge(to_unit(gan.generator(self.coverage_z))).argmax(1),
                                   minlength=10).float() / len(self.coverage_z)
            self._log(f"train_{name}_class_entropy", class_entropy(share))


def class_entropy(share: torch.Tensor) -> torch.Tensor:
    """Entropy of a class histogram divided by log(10): 1 = uniform over the 10 digits, 0 = one."""
    p = share[share > 0]
    return -(p * p.log()).sum() / math.log(len(share)) + 0.0  # + 0.0: one class gives 0.0, not -0.0
