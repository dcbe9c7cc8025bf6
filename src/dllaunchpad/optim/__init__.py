"""Optimizers by name, as params.yaml spells them.

The chapter's own optimizers (from its equations) will live beside this file; until then the
names map to torch.optim with the settings given in params. Keras defaults that differ from
torch's (e.g. Adam/RMSprop epsilon 1e-7, RMSprop rho 0.9) are written into params.yaml where an
experiment relies on them, not hidden here.
"""

from __future__ import annotations

from typing import Iterable


def build_optimizer(parameters: Iterable, spec: dict):
    import torch

    name = spec["name"]
    kw = {k: v for k, v in spec.items() if k != "name"}
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    classes = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "rmsprop": torch.optim.RMSprop,
        "adadelta": torch.optim.Adadelta,
        "adagrad": torch.optim.Adagrad,
    }
    if name not in classes:
        raise ValueError(f"optimizer.name: unknown optimizer {name!r} (known: {sorted(classes)})")
    return classes[name](parameters, **kw)
