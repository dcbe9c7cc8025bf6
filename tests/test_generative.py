"""GAN, autoencoder and VAE building blocks (chapter 31.7.1-31.7.2): the losses and penalties
as the chapter writes them, minibatch discrimination, PCA, and the VAE's bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dllaunchpad.experiments.dense_autoencoder import PCA
from dllaunchpad.experiments.gan import coverage, mean_pairwise_distance
from dllaunchpad.models import dense_autoencoder as AE
from dllaunchpad.models import gan as G
from dllaunchpad.models import vae as V


# -- GAN ----------------------------------------------------------------------------------------

def test_gan_losses_are_the_chapters():
    logit = torch.tensor([-2.0, 0.0, 3.0])
    d = torch.sigmoid(logit)
    assert G.generator_loss(logit, "non_saturating").item() == pytest.approx(float(-torch.log(d).mean()), rel=1e-5)
    assert G.generator_loss(logit, "minimax").item() == pytest.approx(float(torch.log(1 - d).mean()), rel=1e-5)
    real, fake = torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5])
    expected = -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
    assert G.discriminator_loss(real, fake).item() == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="unknown generator loss 'wasserstein'"):
        G.generator_loss(logit, "wasserstein")


def test_minimax_gradient_vanishes_where_the_non_saturating_one_does_not():
    # D confidently rejects the fake (logit -8): the chapter's argument for the non-saturating loss
    logit = torch.tensor([-8.0], requires_grad=True)
    (g_minimax,) = torch.autograd.grad(G.generator_loss(logit, "minimax"), logit)
    (g_ns,) = torch.autograd.grad(G.generator_loss(logit, "non_saturating"), logit)
    assert abs(g_minimax.item()) < 1e-3 < abs(g_ns.item())


def test_minibatch_discrimination_formula():
    torch.manual_seed(0)
    layer = G.MinibatchDiscrimination(6, kernels=3, kernel_dim=2).requires_grad_(False)
    f = torch.randn(5, 6)
    out = layer(f)
    m = (f @ layer.T).view(5, 3, 2)
    for i in range(5):
        for b in range(3):
            expected = sum(math.exp(-float((m[i, b] - m[j, b]).abs().sum())) for j in range(5) if j != i)
            assert out[i, 6 + b].item() == pytest.approx(expected, rel=1e-5)
    assert torch.equal(out[:, :6], f)
    # identical samples score the most: o = batch size - 1
    same = layer(f[:1].repeat(4, 1))
    assert torch.allclose(same[:, 6:], torch.full((4, 3), 3.0))


def test_feature_matching_and_class_entropy():
    real, fake = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    assert G.feature_matching_loss(real, fake).item() == pytest.approx((2 - 1) ** 2 + (3 - 1) ** 2)
    assert G.class_entropy(torch.full((10,), 0.1)).item() == pytest.approx(1.0)
    assert G.class_entropy(torch.eye(10)[3]).item() == pytest.approx(0.0)


def test_coverage_of_a_collapsed_and_a_uniform_generator():
    class Oracle(torch.nn.Module):          # "classifies" image k as digit k mod 10
        def forward(self, x):
            return torch.eye(10)[torch.arange(len(x)) % self.mod] * 20

    judge = Oracle()
    judge.mod = 10
    uniform = coverage(judge, torch.zeros(100, 28, 28), min_share=0.025)
    assert uniform["classes_covered"] == 10 and uniform["judge_score"] == pytest.approx(10, rel=1e-3)
    judge.mod = 1
    collapsed = coverage(judge, torch.zeros(100, 28, 28), min_share=0.025)
    assert collapsed["classes_covered"] == 1 and collapsed["max_class_share"] == 1.0
    assert collapsed["judge_score"] == pytest.approx(1.0, rel=1e-3)
    assert mean_pairwise_distance(torch.zeros(5, 28, 28)) == 0


def test_gan_set_shapes():
    model = {"latent": 8, "generator_hidden": [16], "discriminator_hidden": [16], "k": 2, "minibatch_kernels": 4,
             "minibatch_kernel_dim": 3, "judge_filters": [2, 4], "judge_lr": 1e-3, "fixed_samples": 5,
             "coverage_samples": 20, "variants": {"a": {"generator_loss": "minimax", "minibatch_discrimination": True,
                                                        "feature_matching": True}}}
    gans = G.GANSet(model, {"name": "adam", "lr": 1e-3}, epochs=3, seed=0)
    gan = gans.gans["a"]
    images = gan.generator(torch.randn(6, 8))
    assert images.shape == (6, 784) and images.abs().max() <= 1
    logit, features = gan.discriminator(images)
    assert logit.shape == (6,) and features.shape == (6, 16 + 4)      # minibatch features appended
    assert gans.epoch_samples.shape == (1, 3, 5, 28, 28) and gans.epoch_samples.dtype == torch.uint8
    assert len(gans.configure_optimizers()) == 3                       # G, D, judge
    assert torch.equal(G.GANSet(model, {"name": "adam", "lr": 1e-3}, 3, seed=0).fixed_z, gans.fixed_z)


# -- autoencoders -------------------------------------------------------------------------------

def test_kl_sparsity_is_the_chapters_formula():
    h = torch.tensor([[0.1, 0.5], [0.3, 0.5]])        # rho_hat = (0.2, 0.5)
    rho, beta = 0.05, 3.0

    def kl(r, q):
        return r * math.log(r / q) + (1 - r) * math.log((1 - r) / (1 - q))

    assert AE.kl_sparsity(h, rho, beta).item() == pytest.approx(beta * (kl(rho, 0.2) + kl(rho, 0.5)), rel=1e-5)
    assert AE.kl_sparsity(torch.full((4, 3), rho), rho, beta).item() == pytest.approx(0.0, abs=1e-6)
    assert AE.l1_activity(torch.tensor([[1.0, -2.0], [0.0, 3.0]]), 0.5).item() == pytest.approx(0.5 * (3 + 3) / 2)


def test_dense_autoencoder_shapes_and_losses():
    torch.manual_seed(0)
    spec = {"hidden": [32], "code": 8, "activation": "relu", "code_activation": "sigmoid", "output": "sigmoid",
            "sparsity": {"penalty": "kl", "rho": 0.05, "beta": 3.0}}
    ae = AE.DenseAutoencoder(spec)
    x = torch.rand(4, 28, 28)
    h, r = ae(x)
    assert h.shape == (4, 8) and r.shape == x.shape
    parts = ae.losses(x)
    assert parts["recon"].item() == pytest.approx(0.5 * float((r - x).pow(2).sum().detach()) / 4, rel=1e-5)
    assert parts["loss"].item() == pytest.approx(parts["recon"].item() + parts["penalty"].item(), rel=1e-6)
    with pytest.raises(ValueError, match="KL sparsity penalty needs code_activation: sigmoid"):
        AE.DenseAutoencoder({**spec, "code_activation": "relu"})


def test_pca_reconstruction_and_curve():
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((3, 784))
    x = (rng.standard_normal((200, 3)) @ basis + 0.5).reshape(200, 28, 28)
    pca = PCA(x)
    assert np.allclose(pca.reconstruct(x, 3), x, atol=1e-8)               # rank-3 data: exact at k = 3
    curve = pca.mse_curve(x, [1, 2, 3])
    assert curve[0] > curve[1] > curve[2] and curve[2] == pytest.approx(0, abs=1e-12)
    assert curve[0] == pytest.approx(float(((pca.reconstruct(x, 1) - x) ** 2).mean()), rel=1e-8)


# -- VAE ----------------------------------------------------------------------------------------

def test_vae_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    assert torch.allclose(V.kl_to_standard_normal(mu, logvar), torch.distributions.kl_divergence(q, p).sum(1),
                          atol=1e-5)


def test_vae_reparameterization_and_bounds():
    torch.manual_seed(0)
    vae = V.VAE([32], latent=2)
    x = torch.rand(6, 28, 28)
    mu, logvar = torch.zeros(10000, 2) + 1.5, torch.zeros(10000, 2) + math.log(0.25)
    z = V.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert z.mean(0).tolist() == pytest.approx([1.5, 1.5], abs=0.02)
    assert z.std(0).tolist() == pytest.approx([0.5, 0.5], abs=0.02)
    # the importance-weighted bound with one sample is an unbiased estimate of the ELBO; with
    # more samples it is tighter (larger), as a bound on log p(x) should be
    with torch.no_grad():
        elbo = torch.stack([-(t["recon"] + t["kl"]) for t in
                            (vae.terms(x, torch.Generator().manual_seed(s)) for s in range(200))]).mean(0)
        iwae1 = torch.stack([vae.iwae_bound(x, 1, torch.Generator().manual_seed(s)) for s in range(200)]).mean(0)
        iwae50 = vae.iwae_bound(x, 50, torch.Generator().manual_seed(1))
    assert torch.allclose(iwae1, elbo, atol=0.1)
    assert (iwae50 > elbo).all()
    assert vae.decode(torch.zeros(3, 2)).shape == (3, 28, 28)
