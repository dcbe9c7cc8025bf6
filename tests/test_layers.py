"""The package's layers point one way, and no module imports itself back through others.

    0 basics      io, progress, warm (the fork server local runs start jobs from)
    1 pipeline    config, registry, family contract, stage table, DVC generation and sync
    2 blocks      datasets, models, optim, tensors, training, analysis (the ML building blocks)
    3 experiments one module per family
    4 runners     the stage runners: train, evaluate, generate, predict
    5 report      the HTML report
    6 cli         the command line

A module may import its own layer (without a cycle) and the layers below it, never one above:
the stage runners call families, families use building blocks, nothing below knows what calls it.
Imports inside functions count too (they are found with `ast`, nothing is imported).
"""

from __future__ import annotations

from pathlib import Path

from dllaunchpad.pipeline import codedeps

LAYERS = {
    "io": 0, "progress": 0, "warm": 0, "__init__": 0,
    "pipeline": 1,
    "datasets": 2, "models": 2, "optim": 2, "tensors": 2, "training": 2, "analysis": 2,
    "experiments": 3,
    "runners": 4,
    "report": 5,
    "cli": 6,
}


def _modules() -> list[Path]:
    return sorted(p for p in codedeps.PKG_DIR.rglob("*.py") if "fixtures" not in p.parts)


def _layer(path: Path) -> int:
    top = path.relative_to(codedeps.PKG_DIR).parts[0].removesuffix(".py")
    assert top in LAYERS, f"{path}: a top-level module or package with no layer; add it to LAYERS (and the README)"
    return LAYERS[top]


def _name(path: Path) -> str:
    return path.relative_to(codedeps.PKG_DIR).as_posix()


def test_no_module_imports_a_layer_above_it():
    upward = []
    for path in _modules():
        for dep in codedeps._imported_files(path):
            if _layer(dep) > _layer(path):
                upward.append(f"{_name(path)} (layer {_layer(path)}) imports {_name(dep)} (layer {_layer(dep)})")
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    # `from dllaunchpad.datasets import mnist` inside datasets/ names the package, whose __init__
    # Python runs first for any submodule anyway: an edge to an enclosing package is not a cycle.
    def enclosing(dep: Path, path: Path) -> bool:
        return dep.name == "__init__.py" and dep.parent in path.parents

    graph = {p: {d for d in codedeps._imported_files(p) if d != p and not enclosing(d, p)} for p in _modules()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(_name(p) for p in stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [])
    assert not cycles, "\n".join(cycles)


def test_the_top_level_holds_only_the_entry_point_and_basics():
    top = sorted(p.name for p in codedeps.PKG_DIR.glob("*.py"))
    assert top == ["__init__.py", "cli.py", "io.py", "progress.py", "warm.py"]
