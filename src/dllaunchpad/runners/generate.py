"""The generate stage: new samples from a trained model, for entries with a ``generate:`` block.

    train_<experiment> -> generate_<experiment> -> evaluate_<experiment> -> report

Writes ``reports/music/<experiment>/`` (built in a temporary folder and swapped in whole): what
the family's ``generate(exp, module, out_dir) -> summary`` makes (for midi_lstm: one MIDI file,
piano roll and audio per temperature) and ``summary.json``, written last. The summary holds
``metrics`` (flat keys; evaluate merges them into reports/metrics/<exp>.json) and ``tracks``
(what the report lists).
"""

from __future__ import annotations

import time

from dllaunchpad import io
from dllaunchpad.experiments import family_module
from dllaunchpad.pipeline.registry import GENERATED_SUMMARY, Experiment


def generate(exp: Experiment) -> dict:
    from dllaunchpad.runners.train import load_trained

    if not exp.generates:
        raise KeyError(f"experiment {exp.name!r} has no generate: block in params.yaml")
    fam = family_module(exp.family)
    module = load_trained(exp)
    t0 = time.perf_counter()
    with io.atomic_path(exp.path(exp.generated_dir)) as out:
        out.mkdir()
        summary = fam.generate(exp, module, out)
        summary["metrics"]["generate_seconds"] = round(time.perf_counter() - t0, 3)
        io.write_json(out / GENERATED_SUMMARY, {"experiment": exp.name, **summary})
    return summary
