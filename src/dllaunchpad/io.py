"""Atomic file output.

Every file the pipeline writes goes through these helpers: the content is written to a hidden
temporary file next to the target and renamed into place only when it is complete. A job that
is killed half-way therefore never leaves a file that looks finished (Snakemake and DVC would
otherwise take it as done on the next run).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml


def _remove_leftovers(target: Path) -> None:
    """Remove temporaries that an earlier writer of `target` left when it was killed (SIGKILL
    skips the cleanup below). Only one job writes a given target at a time (Snakemake and DVC
    lock their runs, and no two stages share an output), so none of them is in use."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.tmp")  # mkdtemp's names
    for entry in target.parent.iterdir():
        if pattern.fullmatch(entry.name):
            shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    Works for files and for folders: the caller creates whatever it likes at the yielded path.
    On an exception the temporary is removed and the target is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    # Same folder => same file system => os.replace is atomic.
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    work = tmp / target.name
    try:
        yield work
        if not work.exists():
            raise FileNotFoundError(f"nothing was written for {target}")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(work, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike, text: str) -> Path:
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> Path:
    """Pretty, key-sorted JSON (stable diffs for DVC metrics) with a trailing newline."""
    return write_text(target, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def load_yaml(stream) -> Any:
    """yaml.safe_load, with libyaml's C parser where PyYAML was built with it: several times
    faster on params.yaml and dvc.yaml, which every job and every Snakemake start read."""
    return yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
