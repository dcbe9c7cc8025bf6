"""Hidden-unit activations of chapter 31.2.2.

The ReLU family is one formula, a(z, alpha) = max(0, z) + alpha * min(0, z):

- ReLU                        alpha = 0
- leaky ReLU                  0 < alpha << 1 (the chapter's example: 0.01)
- absolute value rectification alpha = -1, a(z) = |z|
- parametric (leaky) ReLU     alpha learned with the weights (He et al. 2015: one alpha per
                              layer, started at 0.25, as torch's nn.PReLU)

plus the saturating sigmoid 1 / (1 + e^-z) and tanh z. Derivatives come from autograd
(`derivative`); at z = 0 the ReLU family's is max/min's subgradient choice.
"""

from __future__ import annotations

import torch
from torch import nn

LEAKY_ALPHA = 0.01
PRELU_START = 0.25


class GeneralizedReLU(nn.Module):
    """a(z, alpha) = max(0, z) + alpha min(0, z); alpha fixed, or learned when `learn_alpha`."""

    def __init__(self, alpha: float, learn_alpha: bool = False):
        super().__init__()
        alpha = torch.tensor(float(alpha))
        if learn_alpha:
            self.alpha = nn.Parameter(alpha)
        else:
            self.register_buffer("alpha", alpha)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.clamp(z, min=0) + self.alpha * torch.clamp(z, max=0)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha.item():.4g}, learned={isinstance(self.alpha, nn.Parameter)}"


def make_activation(name: str) -> nn.Module:
    """relu, leaky_relu (alpha 0.01), abs (alpha -1), prelu (learned alpha, from 0.25),
    sigmoid, tanh."""
    factories = {
        "relu": lambda: GeneralizedReLU(0.0),
        "leaky_relu": lambda: GeneralizedReLU(LEAKY_ALPHA),
        "abs": lambda: GeneralizedReLU(-1.0),
        "prelu": lambda: GeneralizedReLU(PRELU_START, learn_alpha=True),
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
    }
    if name not in factories:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(factories)})")
    return factories[name]()


ACTIVATIONS = ("relu", "leaky_relu", "abs", "prelu", "sigmoid", "tanh")


def derivative(activation: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """a'(z), element-wise, by autograd (the activations act element-wise)."""
    z = z.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(activation(z).sum(), z)
    return grad
