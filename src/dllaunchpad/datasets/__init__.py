"""Dataset preparation: raw downloads -> ``data/processed/<name>/``.

Each dataset has a module here with ``prepare(raw_dir, out_dir, pp) -> summary`` (``pp`` is the
dataset's ``preprocess:`` dict from params.yaml) and a ``load(processed_dir, ...)`` for training
code. :func:`prepare` is the single entry point the CLI uses: it builds the whole output folder
in a temporary sibling and renames it into place only when everything, ``summary.json``
included, is written, so a killed job never leaves a complete-looking folder behind.

Heavy libraries (tensorflow_datasets, pretty_midi, pandas, pyarrow, PIL) are imported inside the
functions that need them, so importing this package costs little more than numpy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from dllaunchpad import io
from dllaunchpad.datasets import boston, classical_piano, csv_series, image_folders, iris, mnist, rps, sunspots

PREPARERS: dict[str, Callable[[Path, Path, dict], dict]] = {
    "mnist": mnist.prepare,
    "rps": rps.prepare,
    "classical_piano": classical_piano.prepare,
    "sunspots": sunspots.prepare,
    "boston": boston.prepare,
    "iris": iris.prepare,
}

# Datasets read from a local folder (params.yaml `source: {folder, kind}`, pipeline/folders.py)
# are prepared by their kind's preparer, whatever the entry is called.
KIND_PREPARERS: dict[str, Callable[[Path, Path, dict], dict]] = {
    "midi": classical_piano.prepare,
    "images": image_folders.prepare,
    "csv_series": csv_series.prepare,
}


def prepare(name: str, raw_dir: Path, out_dir: Path, pp: dict, kind: str | None = None) -> dict:
    """Run dataset ``name``'s preparer (or, for a local-folder dataset, its ``kind``'s) into
    ``out_dir`` (atomically) and write ``summary.json``."""
    if kind is not None:
        if kind not in KIND_PREPARERS:
            raise KeyError(f"unknown folder kind {kind!r}; known: {', '.join(sorted(KIND_PREPARERS))}")
        preparer = KIND_PREPARERS[kind]
    elif name in PREPARERS:
        preparer = PREPARERS[name]
    else:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(PREPARERS))}")
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    with io.atomic_path(out_dir) as tmp:
        tmp.mkdir()
        summary = {"dataset": name, **({"kind": kind} if kind else {}), **preparer(raw_dir, tmp, dict(pp or {}))}
        io.write_json(tmp / "summary.json", summary)
    return summary
