"""Variants: one registry entry, many runs ("change one setting, run again, compare").

An entry of ``experiments:`` may declare

    variants:
      grid:                      # the product of a few setting lists (dotted paths into the entry)
        model.hidden: [1, 2, 3, 4, 6]
      named:                     # or named overrides
        deep: {model.extra_hidden: 6}
      seeds: [0, 1, 2, 3, 4]     # optional repeats of every variant over seeds
      compare:                   # what the comparison page plots and tables
        metric: binary_accuracy
        goal: max                # or min
        success: {at_least: 1.0} # optional: a run "succeeds" when its metric passes this

Each variant becomes an experiment of its own, named ``<entry>__<label>`` (``xor__hidden2__seed1``),
with the entry's settings and its overrides merged in, its own stages, checkpoint, metrics file
and page; ``compare_<entry>`` puts them side by side. The entry itself still runs as before.
``quick:`` may override ``variants:`` like anything else (smaller grids, fewer seeds); it drops a
named variant by setting it to null (``named: {sgd: null}``), and all of them with ``variants: null``.

Expansion happens in config.load_params, after the quick blocks are merged, and every variant's
settings are checked against the family's schema there: a bad override path is refused naming
the entry, the variant and the path, before any job starts.
"""

from __future__ import annotations

import copy
import itertools
import re

# Reserved keys the expansion adds to an effective entry; Registry.from_params moves them onto
# the Experiment (they never reach a family's settings).
VARIANT_OF, OVERRIDES, PARAM_KEYS, NAMED = "_variant_of", "_overrides", "_param_keys", "_named"
COMPARISONS = "_comparisons"  # top-level: entry -> {"variants": [...], "compare": {...}, "swept": [...]}
SEP = "__"


def _label_value(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, (list, tuple)):
        return "x".join(_label_value(v) for v in value) or "none"
    elif value is None:
        return "none"
    else:
        text = str(value)
    text = text.replace("-", "m").replace(".", "p").replace("+", "")
    return re.sub(r"[^A-Za-z0-9]", "", text)


def label(overrides: dict) -> str:
    """`{"model.hidden": 2, "seed": 1}` -> "hidden2__seed1" (the last path part and the value)."""
    lasts = [p.rsplit(".", 1)[-1] for p in overrides]
    parts = []
    for path, value in overrides.items():
        key = path.rsplit(".", 1)[-1]
        if lasts.count(key) > 1:  # two paths ending alike (model.dropout, data.dropout): the whole path
            key = path.replace(".", "_")
        parts.append(f"{re.sub(r'[^A-Za-z0-9_]', '', key)}{_label_value(value)}")
    return SEP.join(parts)


def set_path(spec: dict, path: str, value) -> None:
    node = spec
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)


def overrides_of(block: dict) -> list[tuple[str | None, dict]]:
    """[(name or None, {path: value})], one per variant before seed repeats: the named ones, then
    the grid's product in the order written."""
    # A named variant set to null is dropped (a quick: block's way to run fewer of them).
    out: list[tuple[str | None, dict]] = [(name, dict(o)) for name, o in (block.get("named") or {}).items()
                                          if o is not None]
    grid = block.get("grid") or {}
    if grid:
        paths = list(grid)
        for values in itertools.product(*(grid[p] for p in paths)):
            out.append((None, dict(zip(paths, values))))
    if not out:
        out = [(None, {})]  # seeds only: repeats of the entry as it is
    return out


def expand(name: str, entry: dict) -> list[tuple[str, dict, dict]]:
    """[(variant name, merged settings, overrides incl. seed)] of an effective entry with a
    `variants:` block (without it: [])."""
    block = entry.get("variants")
    if not block:
        return []
    base = {k: v for k, v in entry.items() if k != "variants"}
    seeds = block.get("seeds")
    out = []
    for vname, overrides in overrides_of(block):
        for seed in seeds if seeds else [None]:
            o = dict(overrides)
            if seed is not None:
                o["seed"] = seed
            lab = label(o) if vname is None else SEP.join([re.sub(r"[^A-Za-z0-9_]", "", vname)] +
                                                         ([label({"seed": seed})] if seed is not None else []))
            spec = copy.deepcopy(base)
            for path, value in o.items():
                set_path(spec, path, value)
            if vname is not None:
                spec[NAMED] = vname  # the comparison labels it by this name, not by its overrides
            out.append((f"{name}{SEP}{lab}", spec, o))
    return out


def swept_paths(block: dict) -> list[str]:
    """The settings a comparison varies (the grid's paths, the named overrides' paths), seeds apart."""
    paths = list(block.get("grid") or {})
    for o in (block.get("named") or {}).values():
        paths += [p for p in o or {} if p not in paths]
    return paths
