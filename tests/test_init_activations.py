"""Initialisation schemes (models/initialization.py) against torch.nn.init and the chapter's
variance formulas; activations (models/activations.py) against torch's and their derivatives."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.models.activations import ACTIVATIONS, GeneralizedReLU, derivative, make_activation
from dllaunchpad.models.initialization import SCHEMES, fans, initialize_, initialize_module, scheme_std

# scheme -> the torch.nn.init call that draws the same distribution
TORCH_EQUIVALENT = {
    "glorot_normal": lambda w, g: nn.init.xavier_normal_(w, generator=g),
    "glorot_uniform": lambda w, g: nn.init.xavier_uniform_(w, generator=g),
    "lecun_normal": lambda w, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="linear", generator=g),
    "lecun_uniform": lambda w, g: nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="linear", generator=g),
    "he_normal": lambda w, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=g),
    "he_uniform": lambda w, g: nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu", generator=g),
}


@pytest.mark.parametrize("shape", [(30, 50), (8, 3, 5, 5)])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_same_draws_as_torch_nn_init(scheme, shape):
    ours, theirs = torch.empty(shape), torch.empty(shape)
    initialize_(ours, scheme, torch.Generator().manual_seed(7))
    TORCH_EQUIVALENT[scheme](theirs, torch.Generator().manual_seed(7))
    # same generator, same distribution call: equal up to the rounding of the bound/std
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("scheme, variance", [
    ("glorot_normal", 2 / (400 + 200)), ("glorot_uniform", 2 / (400 + 200)),
    ("lecun_normal", 1 / 400), ("lecun_uniform", 1 / 400),
    ("he_normal", 2 / 400), ("he_uniform", 2 / 400),
])
def test_sample_variance_follows_the_chapter_formula(scheme, variance):
    w = torch.empty(200, 400)  # n_out = 200, n_in = 400
    initialize_(w, scheme, torch.Generator().manual_seed(0))
    assert scheme_std(scheme, w) == pytest.approx(math.sqrt(variance))
    assert w.var().item() == pytest.approx(variance, rel=0.02)   # 80 000 draws: ~0.5 % noise
    assert abs(w.mean().item()) < 0.01 * math.sqrt(variance) * 10
    if scheme.endswith("uniform"):
        assert w.abs().max().item() <= math.sqrt(3 * variance) + 1e-7


def test_fans_of_linear_and_conv():
    assert fans(torch.empty(20, 10)) == (10, 20)
    assert fans(torch.empty(16, 3, 5, 5)) == (75, 400)
    with pytest.raises(ValueError, match="2 dimensions"):
        fans(torch.empty(5))


def test_initialize_module_and_constant_scheme():
    net = nn.Sequential(nn.Linear(100, 300), nn.ReLU(), nn.Linear(300, 10))
    initialize_module(net, "constant", std=0.2, generator=torch.Generator().manual_seed(0))
    assert net[0].weight.std().item() == pytest.approx(0.2, rel=0.03)
    assert net[2].weight.std().item() == pytest.approx(0.2, rel=0.1)   # whatever the fans
    assert torch.count_nonzero(net[0].bias) == 0
    with pytest.raises(ValueError, match="needs std"):
        initialize_module(net, "constant")
    with pytest.raises(ValueError, match="unknown initialisation scheme 'xavier_normal'"):
        initialize_module(net, "xavier_normal")


Z = torch.linspace(-5, 5, 1001, dtype=torch.float64)


def test_generalized_relu_is_torch_relu_leaky_and_abs():
    torch.testing.assert_close(make_activation("relu")(Z), F.relu(Z))
    torch.testing.assert_close(make_activation("leaky_relu")(Z), F.leaky_relu(Z, 0.01))
    torch.testing.assert_close(make_activation("abs")(Z), Z.abs())
    torch.testing.assert_close(make_activation("sigmoid")(Z), torch.sigmoid(Z))
    torch.testing.assert_close(make_activation("tanh")(Z), torch.tanh(Z))


def test_prelu_learns_alpha_like_nn_prelu():
    ours, theirs = make_activation("prelu"), nn.PReLU(init=0.25)
    assert isinstance(ours.alpha, nn.Parameter) and ours.alpha.item() == 0.25
    z = torch.randn(64, generator=torch.Generator().manual_seed(1))
    (ours(z) ** 2).sum().backward()
    (theirs(z) ** 2).sum().backward()
    torch.testing.assert_close(ours.alpha.grad, theirs.weight.grad.squeeze())
    # a fixed alpha is a buffer: saved with the model, never trained
    fixed = GeneralizedReLU(0.01)
    assert "alpha" in fixed.state_dict() and not list(fixed.parameters())


def test_derivatives_match_the_formulas():
    s = torch.sigmoid(Z)
    torch.testing.assert_close(derivative(nn.Sigmoid(), Z), s * (1 - s))
    torch.testing.assert_close(derivative(nn.Tanh(), Z), 1 - torch.tanh(Z) ** 2)
    off_zero = Z != 0
    expected = {"relu": (Z > 0).double(), "leaky_relu": torch.where(Z > 0, 1.0, 0.01).double(),
                "abs": torch.sign(Z)}
    for name, d in expected.items():
        torch.testing.assert_close(derivative(make_activation(name), Z)[off_zero], d[off_zero])
    # sigmoid's derivative never exceeds 1/4: the per-layer shrink behind vanishing gradients
    assert derivative(nn.Sigmoid(), Z).max().item() == pytest.approx(0.25)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        make_activation("swish")
    assert set(ACTIVATIONS) == {"relu", "leaky_relu", "abs", "prelu", "sigmoid", "tanh"}
