"""What each DVC stage reads instead of params.yaml and its ~40 source files: small files that
the first stage of dvc.yaml, `stage_inputs`, writes.

- ``data/params/<stage>.json``: the stage's slice of params.yaml, exactly the keys the stage
  table lists for it, under the same dotted names, with params.yaml's own values (not the
  quick-mode view of them), so dvc.lock records what a reader finds in params.yaml.
- ``data/code/<group>.txt``: a code manifest, ``sha256  path`` of every source file of one
  import closure (pipeline/codedeps.py). The ~860 stages run 55 distinct closures (a family's
  train, evaluate or generate step; a dataset module; compare; report).

Why: DVC re-parses a stage's params file for every stage (ruamel.yaml, pure Python) and looks
each key up by walking the whole parsed file; and it lists, hashes and records every dependency
of every stage. With ~860 stages, a 75 KB params.yaml and 30,000 code dependencies, a no-op
`dvc status` took 1 min 50 s (Intel Xeon, 2 cores), 1 min 45 s of it in the params, and
dvc.yaml was 2.1 MB (benchmarks/dvc_status.py).

How it stays right: `stage_inputs` depends on params.yaml and on every source file any stage
runs, so `dvc repro` after an edit of either reruns it first; it rewrites only the slices and
manifests whose content changed, and DVC then reruns exactly the stages whose slice values or
manifest changed, as it did when they read params.yaml and the sources themselves. Until it
has run, `dvc status` names only `stage_inputs` as changed: `dllaunchpad stage-inputs` (or
`dvc repro stage_inputs`) first, and `dvc status` lists every stage the edit touches.
Snakemake reads params.yaml and the sources itself; its onsuccess record in dvc.lock and
`dllaunchpad dvc-sync` write these files first (pipeline/agreement.py).

This module knows only how to slice and hash; pipeline/dvc_yaml.py's `write_stage_inputs` builds
the stage table they are written for (this module sits below the stage table, which imports it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

PARAMS_DIR = "data/params"
CODE_DIR = "data/code"
STAGE = "stage_inputs"


def slice_path(stage: str) -> str:
    return f"{PARAMS_DIR}/{stage}.json"


def manifest_path(group: str) -> str:
    return f"{CODE_DIR}/{group}.txt"


def slice_of(params: dict, keys: Iterable[str], *, stage: str = "?") -> dict:
    """The part of `params` under the dotted `keys`, nested as in params.yaml:
    slice_of({"a": {"b": 1, "c": 2}, "d": 3}, ["a.b"]) == {"a": {"b": 1}}."""
    out: dict = {}
    for key in keys:
        node: Any = params
        parts = key.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"stage {stage}: params.yaml has no {'.'.join(parts[:depth + 1])!r} "
                               f"(the stage reads {key!r}); run `dllaunchpad dvc-yaml` after editing params.yaml")
            node = node[part]
        into = out
        for part in parts[:-1]:
            into = into.setdefault(part, {})
        into[parts[-1]] = node
    return out


def manifest_of(files: Iterable[str], root: Path) -> str:
    """`sha256  path` per file, in the order given (the stage table's sorted closure)."""
    return "".join(f"{hashlib.sha256((root / f).read_bytes()).hexdigest()}  {f}\n" for f in files)


def contents(table: dict, params: dict, root: Path) -> dict[str, str]:
    """{path: text} of every slice and manifest the stages of `table` (the stage table) read."""
    out = {}
    for stage in table.values():
        if stage.params:
            out[slice_path(stage.name)] = json.dumps(slice_of(params, stage.params, stage=stage.name),
                                                     indent=1, sort_keys=True) + "\n"
        if stage.code_group and stage.manifest not in out:
            out[stage.manifest] = manifest_of(stage.code, root)
    return out


def write(table: dict, params: dict, root: Path | str = ".") -> int:
    """Write the slices and manifests of `table`'s stages from the raw params.yaml (`params`);
    remove those no stage reads. A file already right is left as it is (its time too).
    Returns the number of files written."""
    from dllaunchpad import io

    root = Path(root)
    files = contents(table, params, root)
    written = 0
    for rel, text in files.items():
        target = root / rel
        if target.is_file() and target.read_text() == text:
            continue
        io.write_text(target, text)
        written += 1
    for folder in (PARAMS_DIR, CODE_DIR):
        if (root / folder).is_dir():
            for old in (root / folder).iterdir():
                if old.is_file() and f"{folder}/{old.name}" not in files:
                    old.unlink()
    return written


def keys_of(dvc_stage: dict) -> list[str]:
    """The params.yaml keys a dvc.yaml stage reads, whichever file it reads them from."""
    out: list[str] = []
    for entry in dvc_stage.get("params", []):
        if isinstance(entry, dict):
            for keys in entry.values():
                out += list(keys)
        else:
            out.append(entry)
    return out
