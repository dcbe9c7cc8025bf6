"""Optimizers by name, as params.yaml spells them (the chapter's names, section 31.4).

`build_optimizer(parameters, spec)` maps a params entry onto an optimizer. `spec["impl"]` picks
the implementation:

- ``torch`` (the default): torch.optim's classes. Experiments that translate Keras code rely
  on these; Keras defaults that differ from torch's are spelled out in params.yaml where an
  experiment relies on them (e.g. RMSprop rho 0.9 and eps 1e-7, Adadelta lr 1e-3), never
  hidden here.
- ``chapter``: the classes of `dllaunchpad.optim.chapter`, written from the chapter's update
  equations (eps inside the square root, Nesterov's look-ahead, ...; that module lists where
  they differ from torch's).

Yogi exists only as the chapter's implementation (torch.optim has none), so ``yogi`` builds it
unless ``impl: torch`` is asked for explicitly, which is an error.

Settings (schema: workflow/schemas/params.schema.yaml, `optimizer`): lr, momentum, nesterov,
rho (RMSprop's/AdaDelta's decay: the chapter's beta, torch's RMSprop `alpha`), eps,
weight_decay, initial_accumulator_value, betas.
"""

from __future__ import annotations

from typing import Iterable

from dllaunchpad.optim.chapter import CHAPTER_OPTIMIZERS

IMPLEMENTATIONS = ("torch", "chapter")


def _torch_kwargs(spec: dict) -> tuple[str, dict]:
    name = spec["name"]
    kw = {k: v for k, v in spec.items() if k not in ("name", "impl")}
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    if name == "rmsprop" and "rho" in kw:
        kw["alpha"] = kw.pop("rho")  # torch's name for the decay of the squared-gradient average
    if name == "momentum":
        name, kw = "sgd", {"momentum": 0.9, **kw}
    if name == "nesterov":
        name, kw = "sgd", {"momentum": 0.9, **kw, "nesterov": True}
    return name, kw


def _torch_optimizer(parameters, spec: dict):
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
        raise ValueError(f"optimizer.name: {spec['name']!r} has no torch.optim implementation "
                         f"(torch has {sorted(classes)}); use impl: chapter")
    return classes[name](parameters, **kw)


# params.yaml setting -> the chapter class's argument, per optimizer name.
_CHAPTER_SETTINGS = {
    "sgd": {"lr": "lr", "weight_decay": "weight_decay"},
    "momentum": {"lr": "lr", "momentum": "beta", "weight_decay": "weight_decay"},
    "nesterov": {"lr": "lr", "momentum": "beta", "weight_decay": "weight_decay"},
    "adagrad": {"lr": "lr", "eps": "eps", "initial_accumulator_value": "initial_accumulator_value",
                "weight_decay": "weight_decay"},
    "rmsprop": {"lr": "lr", "rho": "beta", "eps": "eps", "weight_decay": "weight_decay"},
    "adadelta": {"lr": "lr", "rho": "beta", "eps": "eps", "weight_decay": "weight_decay"},
    "adam": {"lr": "lr", "betas": "betas", "eps": "eps", "weight_decay": "weight_decay"},
    "yogi": {"lr": "lr", "betas": "betas", "eps": "eps", "initial_accumulator_value": "initial_accumulator_value",
             "weight_decay": "weight_decay"},
}


def chapter_name(spec: dict) -> str:
    """The chapter class a spec means: `sgd` with momentum > 0 is momentum, and momentum with
    `nesterov: true` is nesterov (torch's spelling of the same choices)."""
    name = spec["name"]
    if name == "sgd" and spec.get("momentum", 0) > 0:
        name = "momentum"
    if name == "momentum" and spec.get("nesterov"):
        name = "nesterov"
    if name == "sgd" and spec.get("nesterov"):
        raise ValueError("optimizer.nesterov: needs optimizer.momentum > 0 with name sgd")
    return name


def _chapter_optimizer(parameters, spec: dict):
    name = chapter_name(spec)
    allowed = _CHAPTER_SETTINGS[name]
    momentum_family = spec["name"] in ("sgd", "momentum", "nesterov")
    settings = {k: v for k, v in spec.items()
                if k not in ("name", "impl") and not (k == "nesterov" and momentum_family)
                and not (k == "momentum" and name == "sgd")}  # momentum 0: plain SGD
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"optimizer: {', '.join(unknown)} not used by the chapter's {name} "
                         f"(it takes {sorted(allowed)})")
    kw = {allowed[k]: (tuple(v) if k == "betas" else v) for k, v in settings.items()}
    return CHAPTER_OPTIMIZERS[name](parameters, **kw)


def build_optimizer(parameters: Iterable, spec: dict):
    """An optimizer for `parameters` from a params.yaml `optimizer:` entry (see module doc)."""
    name = spec.get("name")
    if name not in CHAPTER_OPTIMIZERS:
        raise ValueError(f"optimizer.name: unknown optimizer {name!r} (known: {sorted(CHAPTER_OPTIMIZERS)})")
    impl = spec.get("impl")
    if impl is not None and impl not in IMPLEMENTATIONS:
        raise ValueError(f"optimizer.impl: {impl!r} is not one of {IMPLEMENTATIONS}")
    if impl == "chapter" or (impl is None and name == "yogi"):
        return _chapter_optimizer(parameters, spec)
    return _torch_optimizer(parameters, spec)
