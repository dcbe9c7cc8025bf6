"""Norm penalties added to the objective, as chapter 31.3 writes them:

    J~(w) = J(w) + lambda * Omega(w)

with Omega = ||w||_1 (L1), (1/2)||w||_2^2 (L2; the 1/2 is the chapter's convention) and the
elastic net alpha * ||w||_1 + (1 - alpha) * (1/2)||w||_2^2. These are terms of the loss, not the
optimizer's `weight_decay` (which equals L2 only for plain SGD).

Keras' `kernel_regularizer=l1(lam)` adds lam * sum|w| per layer, i.e. the L1 penalty here, and
`l2(lam)` adds lam * sum w^2 (no 1/2): use `l2_penalty(..., half=False)` to match Keras.

The elastic net comes in two weightings (`weighting`):

- "chapter": 31.3.1's printed formula, lambda [alpha ||w||_1 + (1 - alpha) ||w||_2^2];
- "glmnet" (the default, kept so earlier results stay as they were): the R library glmnet, which
  the chapter's footnote 35 names as the implementation, penalises
  lambda [alpha ||w||_1 + (1 - alpha)/2 ||w||_2^2], the 1/2 that the chapter's L2 term
  lambda/2 ||w||^2 also has. The two differ only in the L2 part, by a factor 2: glmnet at
  (lambda, alpha) is the chapter's formula with the L2 weight halved.

`penalty(weights, spec)` picks one by a params.yaml spec {kind: l1|l2|elastic_net, lam, alpha,
weighting (elastic net: chapter | glmnet)}.
"""

from __future__ import annotations

from typing import Iterable

import torch


def l1_penalty(weights: Iterable[torch.Tensor], lam: float) -> torch.Tensor:
    return lam * sum(w.abs().sum() for w in weights)


def l2_penalty(weights: Iterable[torch.Tensor], lam: float, half: bool = True) -> torch.Tensor:
    total = sum(w.pow(2).sum() for w in weights)
    return lam * (0.5 * total if half else total)


ELASTIC_NET_WEIGHTINGS = ("glmnet", "chapter")


def elastic_net_penalty(weights: Iterable[torch.Tensor], lam: float, alpha: float,
                        weighting: str = "glmnet") -> torch.Tensor:
    """glmnet: lam [alpha ||w||_1 + (1 - alpha)/2 ||w||^2]; chapter: lam [alpha ||w||_1 + (1 - alpha) ||w||^2]."""
    if weighting not in ELASTIC_NET_WEIGHTINGS:
        raise ValueError(f"penalty.weighting: {weighting!r} is not one of {ELASTIC_NET_WEIGHTINGS}")
    weights = list(weights)
    return alpha * l1_penalty(weights, lam) + (1 - alpha) * l2_penalty(weights, lam, half=weighting == "glmnet")


def kernel_weights(module: torch.nn.Module) -> list[torch.Tensor]:
    """The weight matrices/kernels of Linear and Conv layers (biases are not penalised, as in
    Keras' kernel_regularizer)."""
    return [m.weight for m in module.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d))]


PENALTIES = ("l1", "l2", "elastic_net")


def penalty(weights: Iterable[torch.Tensor], spec: dict) -> torch.Tensor:
    """lambda * Omega(w) for a spec {kind: l1 | l2 | elastic_net, lam, alpha (elastic net)}."""
    kind, lam = spec.get("kind"), spec.get("lam")
    if kind not in PENALTIES:
        raise ValueError(f"penalty.kind: {kind!r} is not one of {PENALTIES}")
    if lam is None or lam < 0:
        raise ValueError(f"penalty.lam: needs a value >= 0, got {lam!r}")
    if kind == "l1":
        return l1_penalty(weights, lam)
    if kind == "l2":
        return l2_penalty(weights, lam)
    alpha = spec.get("alpha")
    if alpha is None or not 0 <= alpha <= 1:
        raise ValueError(f"penalty.alpha: the elastic net needs a mixing alpha in [0, 1], got {alpha!r}")
    return elastic_net_penalty(weights, lam, alpha, spec.get("weighting", "glmnet"))
