"""One module per experiment family (params.yaml `family:`).

What a family module defines is the contract in ``pipeline/family.py`` (``evaluate`` always;
``build`` and ``model`` when its entries train; ``generate`` for a ``generate:`` block;
optionally ``callbacks``), checked when the registry loads. Every hook receives a resolved
``Experiment`` (settings, seed, data folder, root), never the raw params.

A new family is this one module plus its settings schema,
``workflow/schemas/families/<family>.schema.yaml``. Modules are imported on demand, so that a
stage only loads what it uses.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def family_module(family: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{family}")
