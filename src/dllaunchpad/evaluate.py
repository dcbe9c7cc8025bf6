"""The evaluate stage: metrics and figures for one experiment.

Writes ``reports/figures/<exp>/`` (built in a temporary folder and swapped in whole) and then
``reports/metrics/<exp>.json`` (flat keys, DVC `metrics`). The metrics file is written last, so
its presence means the figures are complete too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from . import io
from .experiments import family_module
from .registry import Experiment


def evaluate(exp: Experiment, params: dict, root: Path | str = ".") -> dict:
    root = Path(root)
    fam = family_module(exp.family)
    module = None
    extra: dict = {}
    if exp.trains:
        from .train import load_trained

        module, _ = load_trained(exp, params, root)
        info = json.loads((root / exp.model_dir / "train.json").read_text())
        extra = {"train_seconds": info["train_seconds"], "device": info["device"], "epochs_run": info["epochs_run"]}
    t0 = time.perf_counter()
    with io.atomic_path(root / exp.figures_dir) as figures:
        figures.mkdir()
        metrics = fam.evaluate(exp, params, root, module, figures)
    bad = [k for k, v in metrics.items() if isinstance(v, (dict, list))]
    if bad:
        raise TypeError(f"{exp.name}: metrics must be flat, got nested values for {bad}")
    metrics = {**metrics, **extra, "evaluate_seconds": round(time.perf_counter() - t0, 3),
               "chapter_section": exp.chapter}
    io.write_json(root / exp.metrics, metrics)
    return metrics
