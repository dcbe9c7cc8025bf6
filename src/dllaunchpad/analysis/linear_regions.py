"""Linear regions of ReLU networks (chapter 31.2): count them on a grid, and the known bounds.

A ReLU network is affine wherever no hidden unit changes sign, so the input space falls into
*activation regions*, one per pattern of active units (unit on = its pre-activation > 0). For a
fixed pattern the network is one affine map and the pattern's conditions are linear
inequalities in the input, so each region is a convex polyhedron: counting the distinct patterns
met on a fine grid counts the regions the grid hits (a lower bound on those in the square: a
region thinner than the grid step can be missed; two neighbouring regions whose affine maps
happen to coincide would count as one linear piece of the function, but as two regions here,
the usual convention).

Bounds for a network with n0 inputs and hidden widths n_1 ... n_L:

- the chapter's count for L layers of n units: n^L (10^5 for 5 x 10), and its shallow
  comparison "a one-layer network would require 10^5 units": with one input, N units cut the line
  into at most N + 1 pieces;
- upper bound (Serra, Tjandraatmadja & Ramalingam 2018, sharpening Raghu et al. 2017 and
  Montufar et al. 2014): prod_l sum_{j=0}^{d_l} C(n_l, j), d_l = min(n0, n_1, ..., n_{l-1});
- lower bound on the maximum (Montufar et al. 2014, the chapter's reference [22]): for n >= n0,
  floor(n / n0)^(n0 (L - 1)) * sum_{j=0}^{n0} C(n, j) regions are reachable with suitable weights;
- one hidden layer of N units (a hyperplane arrangement): at most sum_{j=0}^{n0} C(N, j).
"""

from __future__ import annotations

from math import comb, prod

import numpy as np
import torch
from torch import nn


def leaf_modules(net: nn.Module) -> list[nn.Module]:
    """The layers of nested Sequentials, in order (Flatten, Linear, ReLU, ...)."""
    if isinstance(net, nn.Sequential):
        return [leaf for child in net for leaf in leaf_modules(child)]
    return [net]


@torch.no_grad()
def activation_patterns(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """For each ReLU of `net` (a Sequential, possibly nested), the (N, units) booleans
    "pre-activation > 0" of the inputs x: the network's activation pattern, layer by layer."""
    patterns = []
    h = x
    for layer in leaf_modules(net):
        if isinstance(layer, nn.ReLU):
            patterns.append(h > 0)
        h = layer(h)
    if not patterns:
        raise ValueError("the network has no ReLU: it is affine, one region")
    return patterns


def region_ids(patterns: list[torch.Tensor]) -> np.ndarray:
    """(N,) int64: the same number for the same full pattern, numbered 0, 1, ... in the order of
    the sorted patterns (so the ids are deterministic)."""
    bits = torch.cat(patterns, dim=1).numpy()
    packed = np.packbits(bits, axis=1)
    _, inverse = np.unique(packed, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def grid(lo: float, hi: float, resolution: int) -> torch.Tensor:
    """resolution^2 points of the square [lo, hi]^2, row-major with y increasing by row
    (reshape to (resolution, resolution) and draw with origin='lower')."""
    axis = torch.linspace(lo, hi, resolution, dtype=torch.float32)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def count_regions(net: nn.Module, lo: float, hi: float, resolution: int) -> dict:
    """Distinct activation patterns of `net` on a resolution x resolution grid of [lo, hi]^2:
    {"regions": over all layers, "regions_by_depth": [after layer 1, after layers 1-2, ...],
    "ids": (resolution, resolution) region ids for drawing}."""
    patterns = activation_patterns(net, grid(lo, hi, resolution))
    by_depth = [int(region_ids(patterns[:k]).max()) + 1 for k in range(1, len(patterns) + 1)]
    ids = region_ids(patterns).reshape(resolution, resolution)
    return {"regions": by_depth[-1], "regions_by_depth": by_depth, "ids": ids}


# -- bounds -----------------------------------------------------------------------------------

def chapter_count(width: int, depth: int) -> int:
    """The chapter's number for `depth` layers of `width` units: width^depth (10^5 for 5 x 10)."""
    return width ** depth


def shallow_max_regions(n_inputs: int, units: int) -> int:
    """Most regions one hidden layer of `units` ReLUs can cut R^n_inputs into: the number of
    cells of `units` hyperplanes in general position, sum_{j<=n_inputs} C(units, j)."""
    return sum(comb(units, j) for j in range(n_inputs + 1))


def shallow_units_needed(n_inputs: int, regions: int) -> int:
    """The fewest units of one hidden layer that can reach `regions` regions."""
    units = 0
    while shallow_max_regions(n_inputs, units) < regions:
        units += 1
    return units


def upper_bound(n_inputs: int, widths: list[int]) -> int:
    """Serra et al. (2018): prod_l sum_{j=0}^{d_l} C(n_l, j), d_l = min(n0, n_1, ..., n_{l-1})."""
    factors, d = [], n_inputs
    for n in widths:
        factors.append(sum(comb(n, j) for j in range(d + 1)))
        d = min(d, n)
    return prod(factors)


def montufar_lower_bound(n_inputs: int, width: int, depth: int) -> int:
    """Montufar et al. (2014), width >= n_inputs: a network of `depth` layers of `width` units
    can have at least floor(width/n0)^(n0 (depth-1)) * sum_{j<=n0} C(width, j) regions."""
    if width < n_inputs:
        raise ValueError("the bound needs width >= the number of inputs")
    return (width // n_inputs) ** (n_inputs * (depth - 1)) * shallow_max_regions(n_inputs, width)
