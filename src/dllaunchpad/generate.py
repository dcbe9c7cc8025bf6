"""The generate stage: new samples from a trained model, for entries with a ``generate:`` block.

    train_<experiment> -> generate_<experiment> -> evaluate_<experiment> -> report

Writes ``reports/music/<experiment>/`` (built in a temporary folder and swapped in whole): what
the family's ``generate(exp, params, root, module, out_dir) -> summary`` makes (for midi_lstm:
one MIDI file, piano roll and audio per temperature) and ``summary.json``, written last. The
summary holds ``metrics`` (flat keys; evaluate merges them into reports/metrics/<exp>.json) and
``tracks`` (what the report lists).
"""

from __future__ import annotations

import time
from pathlib import Path

from . import io
from .experiments import family_module
from .registry import Experiment

SUMMARY = "summary.json"


def generate(exp: Experiment, params: dict, root: Path | str = ".") -> dict:
    from .train import load_trained

    root = Path(root)
    if not exp.generates:
        raise KeyError(f"experiment {exp.name!r} has no generate: block in params.yaml")
    fam = family_module(exp.family)
    module, _ = load_trained(exp, params, root)
    t0 = time.perf_counter()
    with io.atomic_path(root / exp.generated_dir) as out:
        out.mkdir()
        summary = fam.generate(exp, params, root, module, out)
        summary["metrics"]["generate_seconds"] = round(time.perf_counter() - t0, 3)
        io.write_json(out / SUMMARY, {"experiment": exp.name, **summary})
    return summary


def read_summary(exp: Experiment, root: Path | str = ".") -> dict:
    import json

    path = Path(root) / exp.generated_dir / SUMMARY
    if not path.is_file():
        raise FileNotFoundError(f"{path}: nothing generated yet; run `dllaunchpad generate {exp.name}` first")
    return json.loads(path.read_text())
