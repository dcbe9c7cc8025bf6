"""The experiment-family contract: what `src/dllaunchpad/experiments/<family>.py` must define.

A family is one module, named by params.yaml's ``family:``, plus its settings schema
``workflow/schemas/families/<family>.schema.yaml``. The runners (runners/train.py, evaluate.py,
generate.py, predict.py) call these hooks with a resolved :class:`~dllaunchpad.pipeline.registry.
Experiment` (settings, seed, data folder, root), never with the raw params:

========================  =================================================================
``evaluate(exp, module, figures_dir) -> dict``
                          always. Flat metrics; figures go into ``figures_dir``. ``module`` is
                          the trained module, or None for compute-only families.
``build(exp) -> (module, datamodule)``
                          when the entry trains (has a ``trainer:`` block). Called after the
                          runner seeded everything with ``exp.seed``.
``model(exp) -> module``  when the entry trains: the untrained module alone, without reading
                          the training data; evaluation and ``predict`` load weights into it.
``generate(exp, module, out_dir) -> dict``
                          when the entry has a ``generate:`` block: ``{"metrics": {...},
                          "tracks": [...]}``.
``callbacks(exp) -> list`` optional: extra Lightning callbacks for training.
========================  =================================================================

:func:`check` verifies this statically (with ``ast``: nothing is imported, so Snakemake's parse
stays fast) when the registry loads, so a family missing ``evaluate`` stops ``dllaunchpad
validate`` and Snakemake naming the family, not a job halfway through the DAG.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

FAMILIES_DIR = Path(__file__).resolve().parents[1] / "experiments"

# hook name -> its positional parameters (names are documentation; the count is checked)
HOOKS = {
    "evaluate": ("exp", "module", "figures_dir"),
    "build": ("exp",),
    "model": ("exp",),
    "generate": ("exp", "module", "out_dir"),
    "callbacks": ("exp",),
}


class Family(Protocol):
    """The hooks as a type, for readers and type checkers (the runtime check is :func:`check`)."""

    def evaluate(self, exp, module, figures_dir: Path) -> dict: ...

    def build(self, exp) -> tuple[Any, Any]: ...

    def model(self, exp) -> Any: ...

    def generate(self, exp, module, out_dir: Path) -> dict: ...

    def callbacks(self, exp) -> list: ...


def required_hooks(*, trains: bool, generates: bool) -> tuple[str, ...]:
    return ("evaluate",) + (("build", "model") if trains else ()) + (("generate",) if generates else ())


@lru_cache(maxsize=None)
def defined_hooks(family: str) -> dict[str, int] | None:
    """{hook: number of positional parameters} of the family module's top-level functions among
    HOOKS, or None when there is no such module."""
    path = FAMILIES_DIR / f"{family}.py"
    if not path.is_file() or family.startswith("_"):
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.name: len(node.args.posonlyargs) + len(node.args.args)
            for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in HOOKS}


def check(family: str, *, trains: bool, generates: bool) -> str | None:
    """None when the family's module has every hook this entry needs, with the right number of
    parameters; otherwise a message that names the family and what is missing."""
    hooks = defined_hooks(family)
    where = f"src/dllaunchpad/experiments/{family}.py"
    if hooks is None:
        return f"family {family!r} has no module ({where})"
    for name in required_hooks(trains=trains, generates=generates):
        why = {"build": "a trainer: block", "model": "a trainer: block", "generate": "a generate: block"}.get(name)
        if name not in hooks:
            need = f" (the entry has {why})" if why else ""
            return f"family {family!r} ({where}) does not define {name}({', '.join(HOOKS[name])}){need}"
    for name, n in hooks.items():
        if n != len(HOOKS[name]):
            return (f"family {family!r} ({where}): {name}() takes {n} positional parameter(s), the contract says "
                    f"{name}({', '.join(HOOKS[name])})")
    return None


def can_generate(family: str) -> bool:
    hooks = defined_hooks(family)
    return bool(hooks) and "generate" in hooks
