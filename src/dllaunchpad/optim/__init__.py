"""Optimizers by name, as params.yaml spells them (the chapter's names, section 31.4).

`build_optimizer` maps a params entry onto an optimizer. Until the chapter's own implementations
(from its update equations) live beside this file, the names map onto torch.optim. Keras defaults
that differ from torch's are spelled out in params.yaml where an experiment relies on them (e.g.
RMSprop rho 0.9 and eps 1e-7, Adadelta lr 1e-3), never hidden here.
"""

from __future__ import annotations

from typing import Iterable


def _torch_kwargs(spec: dict) -> tuple[str, dict]:
    name = spec["name"]
    kw = {k: v for k, v in spec.items() if k != "name"}
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    if name == "rmsprop" and "rho" in kw:
        kw["alpha"] = kw.pop("rho")  # torch's name for the decay of the squared-gradient average
    if name == "momentum":
        name, kw = "sgd", {"momentum": 0.9, **kw}
    if name == "nesterov":
        name, kw = "sgd", {"momentum": 0.9, **kw, "nesterov": True}
    return name, kw


def build_optimizer(parameters: Iterable, spec: dict):
    import torch

    classes = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "rmsprop": torch.optim.RMSprop,
        "adadelta": torch.optim.Adadelta,
        "adagrad": torch.optim.Adagrad,
    }
    name, kw = _torch_kwargs(spec)
    if name not in classes:
        raise ValueError(f"optimizer.name: {spec['name']!r} has no implementation yet (known: {sorted(classes)})")
    return classes[name](parameters, **kw)
