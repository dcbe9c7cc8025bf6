"""One module per experiment family (params.yaml `family:`).

A family module provides:

- ``build(exp, params, root) -> (LightningModule, LightningDataModule)`` when the experiment
  trains (its entry has a ``trainer:`` block); train.py runs it;
- ``evaluate(exp, params, root, module, figures_dir) -> dict`` of flat metrics, writing its
  figures into ``figures_dir``. ``module`` is the trained module (None for compute-only
  families such as tensor_products).

Modules are imported on demand so that a stage only loads what it uses.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def family_module(family: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{family}")
