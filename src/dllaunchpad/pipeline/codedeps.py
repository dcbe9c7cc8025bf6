"""Which source files a stage runs, found by reading imports rather than kept by hand.

A stage depends on the modules it imports, transitively: the MNIST MLP's training depends on
models/dense.py and optim/, not only on its family module. `closure()` follows `import
dllaunchpad...` and relative imports statically (with `ast`, nothing is imported), so Snakemake
and DVC rerun exactly the stages a code change can affect.

Dispatch modules (DISPATCH) count as dependencies, but their imports are not followed:
datasets/__init__ imports every dataset's module to map names onto preparers, and following it
would make every dataset's stage depend on every other dataset's code.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PKG_DIR = Path(__file__).resolve().parents[1]
PKG = "src/dllaunchpad"
DISPATCH = {"datasets/__init__.py"}


def _module_file(dotted: str) -> Path | None:
    """`dllaunchpad.models.dense` -> its .py file (or package __init__.py), if it exists."""
    parts = dotted.split(".")
    if parts[0] != "dllaunchpad":
        return None
    base = PKG_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path) -> list[str]:
    rel = path.relative_to(PKG_DIR)
    parts = ["dllaunchpad", *rel.parts[:-1]]
    return parts


@lru_cache(maxsize=None)  # one parse per file: 60 stages' closures share most of their files
def _imported_files(path: Path) -> frozenset[Path]:
    found: set[Path] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = _package_of(path)
                base = pkg[: len(pkg) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from x import y`: y may be a submodule or a name defined in x.
            targets = [f"{prefix}.{a.name}" for a in node.names] + [prefix]
        else:
            continue
        for dotted in targets:
            f = _module_file(dotted)
            if f is not None:
                found.add(f)
    return frozenset(found)


@lru_cache(maxsize=None)
def closure(*entries: str) -> tuple[str, ...]:
    """Repository-relative paths of `entries` (paths under src/dllaunchpad/) and every
    dllaunchpad module they import, directly or not, sorted."""
    seen: set[Path] = set()
    todo = [PKG_DIR / e for e in entries]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        if path.relative_to(PKG_DIR).as_posix() not in DISPATCH:
            todo.extend(_imported_files(path) - seen)
    return tuple(sorted(f"{PKG}/{p.relative_to(PKG_DIR).as_posix()}" for p in seen))
