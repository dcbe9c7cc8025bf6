"""Each DVC stage reads its params from a small slice of params.yaml, not from params.yaml.

Why: DVC re-parses a stage's params file for every stage (ruamel.yaml, pure Python) and looks
each key up by walking the whole parsed file. With ~860 stages and a 75 KB params.yaml, a no-op
`dvc status` spent 1 min 45 s of its 1 min 50 s there (Intel Xeon, 2 cores; see
benchmarks/dvc_status.py). A JSON slice holding exactly the keys one stage reads parses in
microseconds and its lookups walk a few entries.

How it stays right:
- the first stage of dvc.yaml, `split_params`, depends on params.yaml and writes the slices,
  so a plain `dvc repro` after an edit of params.yaml rewrites them first; DVC then compares
  each stage's slice values with dvc.lock, exactly as it compared params.yaml's before, and
  reruns only the stages whose values changed;
- a slice holds params.yaml's own values (not the quick-mode view of them), under the same
  dotted keys the stage table lists, so dvc.lock records what a reader finds in params.yaml;
- the slices are written from dvc.yaml itself (each stage's `params:` names its file and keys),
  so whatever mode dvc.yaml was generated for, the files are the ones DVC will read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

SLICES_DIR = "data/params"
STAGE = "split_params"


def slice_path(stage: str) -> str:
    return f"{SLICES_DIR}/{stage}.json"


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


def wanted(dvc_stages: dict) -> dict[str, dict]:
    """{slice file: its content's keys by stage} from dvc.yaml's stages: {path: (stage, keys)}."""
    out = {}
    for name, stage in dvc_stages.items():
        for entry in stage.get("params", []):
            if isinstance(entry, dict):
                for path, keys in entry.items():
                    if path.startswith(SLICES_DIR + "/"):
                        out[path] = (name, list(keys))
    return out


def write_slices(dvc_stages: dict, params: dict, root: Path | str = ".") -> int:
    """Write the slice of every stage in dvc.yaml (`dvc_stages`: its parsed `stages:`) from the
    raw params.yaml (`params`); remove slices no stage reads. A file whose content is already
    right is left as it is (its time too). Returns the number of files written."""
    from dllaunchpad import io

    root = Path(root)
    folder = root / SLICES_DIR
    files = wanted(dvc_stages)
    written = 0
    for rel, (stage, keys) in files.items():
        text = json.dumps(slice_of(params, keys, stage=stage), indent=1, sort_keys=True) + "\n"
        target = root / rel
        if target.is_file() and target.read_text() == text:
            continue
        io.write_text(target, text)
        written += 1
    if folder.is_dir():
        for old in folder.glob("*.json"):
            if f"{SLICES_DIR}/{old.name}" not in files:
                old.unlink()
    return written


def refresh(root: Path | str = ".", params: Path | str = "params.yaml") -> int:
    """The slices for the dvc.yaml in `root` and its params.yaml (`dllaunchpad split-params`,
    the `split_params` stage, and Snakemake's record of a run in dvc.lock)."""
    from dllaunchpad.io import load_yaml
    from dllaunchpad.pipeline.config import read_params

    root = Path(root)
    stages = (load_yaml((root / "dvc.yaml").read_text()) or {}).get("stages", {})
    return write_slices(stages, read_params(root / params), root)


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
