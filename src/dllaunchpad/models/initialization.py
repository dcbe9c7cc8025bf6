"""Weight initialisation from the variance formulas of chapter 31.2.3.

    Glorot / Xavier  sigma^2 = 2 / (n_in + n_out)
    LeCun            sigma^2 = 1 / n_in
    He               sigma^2 = 2 / n_in

Each comes as a normal draw N(0, sigma^2) or a uniform draw U(-a, a) with a = sqrt(3) sigma (the
uniform distribution on [-a, a] has variance a^2 / 3). A "constant" scheme uses the same sigma
for every layer whatever its size: the case the chapter warns about (footnote 30), where the
signal grows or shrinks by a constant factor per layer.

n_in / n_out are the fans: for a Linear weight (out, in) they are in and out; for a convolution
kernel (out, in, *k) they are in * prod(k) and out * prod(k). torch.nn.init uses the same fans,
and tests/test_initialization.py checks that the same generator gives the same draws as its
xavier_*_ and kaiming_*_ (fan_in; gain sqrt(2) for He, 1 for LeCun).

Translation note: Keras' glorot_normal / lecun_normal / he_normal draw from a *truncated* normal
(rescaled so the variance is still sigma^2); we draw the untruncated normal that the formulas
describe, as torch.nn.init does. Keras' Dense default is glorot_uniform with zero biases
(dllaunchpad.models.keras_init).
"""

from __future__ import annotations

import math

import torch
from torch import nn

VARIANCE = {
    "glorot": lambda n_in, n_out: 2.0 / (n_in + n_out),
    "lecun": lambda n_in, n_out: 1.0 / n_in,
    "he": lambda n_in, n_out: 2.0 / n_in,
}
DISTRIBUTIONS = ("normal", "uniform")
SCHEMES = tuple(f"{rule}_{dist}" for rule in VARIANCE for dist in DISTRIBUTIONS)


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(n_in, n_out) of a Linear weight (out, in) or a convolution kernel (out, in, *k)."""
    if weight.dim() < 2:
        raise ValueError(f"fans need a weight with >= 2 dimensions, got shape {tuple(weight.shape)}")
    receptive_field = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive_field, weight.shape[0] * receptive_field


def scheme_std(scheme: str, weight: torch.Tensor) -> float:
    """sigma of a named scheme ('he_normal', ...) for this weight's fans."""
    rule, _ = _split(scheme)
    return math.sqrt(VARIANCE[rule](*fans(weight)))


def _split(scheme: str) -> tuple[str, str]:
    rule, _, dist = scheme.partition("_")
    if rule not in VARIANCE or dist not in DISTRIBUTIONS:
        raise ValueError(f"unknown initialisation scheme {scheme!r} (known: {', '.join(SCHEMES)}, constant)")
    return rule, dist


@torch.no_grad()
def draw_(weight: torch.Tensor, std: float, distribution: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill `weight` with zero-mean draws of standard deviation `std`."""
    if distribution == "normal":
        return weight.normal_(0.0, std, generator=generator)
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        return weight.uniform_(-bound, bound, generator=generator)
    raise ValueError(f"unknown distribution {distribution!r} (known: {DISTRIBUTIONS})")


def initialize_(weight: torch.Tensor, scheme: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """A named scheme: glorot_normal, glorot_uniform, lecun_normal, lecun_uniform, he_normal,
    he_uniform."""
    _, dist = _split(scheme)
    return draw_(weight, scheme_std(scheme, weight), dist, generator)


def initialize_module(module: nn.Module, scheme: str, std: float | None = None,
                      generator: torch.Generator | None = None) -> nn.Module:
    """Initialise every Linear/Conv weight of `module` with `scheme` and zero its biases.

    scheme "constant" draws N(0, std^2) for every layer, whatever its fans."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            if scheme == "constant":
                if std is None:
                    raise ValueError("initialisation scheme 'constant' needs std")
                draw_(layer.weight, std, "normal", generator)
            else:
                initialize_(layer.weight, scheme, generator)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module
