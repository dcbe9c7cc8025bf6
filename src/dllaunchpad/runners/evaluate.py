"""The evaluate stage: metrics and figures for one experiment.

Writes ``reports/figures/<exp>/`` (built in a temporary folder and swapped in whole) and then
``reports/metrics/<exp>.json`` (flat keys, DVC `metrics`). The metrics file is written last, so
its presence means the figures are complete too.

The metrics file holds results only, so that the same params give byte-identical metrics files
however the DAG was scheduled (``--cores 1`` or ``--cores 4``, one host or another). Facts about
the run (the device, the scale it ran at, and every wall-clock key, i.e. any key ending in
``_seconds`` or ``_ms``: registry.is_wall_clock) go to ``reports/figures/<exp>/run.json``
instead, which the report and ``dllaunchpad list`` read, and so does the provenance card
(``card.json``: commit, input hashes, versions, rebuild commands; pipeline/provenance.py).
"""

from __future__ import annotations

import json
import time

import torch

from dllaunchpad import io
from dllaunchpad.experiments import family_module
from dllaunchpad.pipeline import provenance
from dllaunchpad.pipeline.registry import HISTORY_FIGURE, RUN_FILE, Experiment, is_wall_clock
from dllaunchpad.training import devices


def evaluate(exp: Experiment, stage=None) -> dict:
    """Evaluate `exp`; with `stage` (its row of the stage table), also write the result's card,
    reports/figures/<exp>/card.json, holding the model card under "train"."""
    devices.tune_cpu_allocator()  # evaluation runs the same big forward passes as training
    # The card's input hashes, computed while the checkpoint loads and the evaluation runs.
    input_hashes = provenance.hash_inputs_in_background(exp, stage) if stage is not None else None
    fam = family_module(exp.family)
    module = None
    extra: dict = {}
    # What made these outputs: the scale (`dllaunchpad list` compares it) and the thread count.
    run: dict = {"scale": exp.scale, "threads": torch.get_num_threads()}
    if exp.trains:
        from dllaunchpad.runners.train import load_trained

        module = load_trained(exp)
        info = json.loads(exp.path(exp.model_dir).joinpath("train.json").read_text())
        extra = {"epochs_run": info["epochs_run"]}
        run.update({"device": info["device"], "train_seconds": info["train_seconds"],
                    "hardware": info.get("hardware") or devices.hardware(info["device"])})
    t0 = time.perf_counter()
    with io.atomic_path(exp.path(exp.figures_dir)) as figures:
        figures.mkdir()
        metrics = fam.evaluate(exp, module, figures)
        bad = [k for k, v in metrics.items() if isinstance(v, (dict, list))]
        if bad:
            raise TypeError(f"{exp.name}: metrics must be flat, got nested values for {bad}")
        if exp.trains:
            _draw_history(exp, figures)
        run.update({k: v for k, v in metrics.items() if is_wall_clock(k)})
        run["evaluate_seconds"] = round(time.perf_counter() - t0, 3)
        io.write_json(figures / RUN_FILE, run)
        if stage is not None:
            result_card = provenance.card(exp, stage, seconds=run["evaluate_seconds"],
                                          device=run.get("device", "cpu"),
                                          hardware=run.get("hardware") or devices.hardware("cpu"),
                                          threads=run["threads"], inputs=input_hashes)
            if exp.trains:
                result_card["train"] = provenance.read_card(exp.path(exp.model_dir) / provenance.CARD)
            io.write_json(figures / provenance.CARD, result_card)
    # The hardware the result was computed on: training's device when the experiment trains (the
    # weights carry its arithmetic), this process's CPU otherwise. Same machine, same bytes.
    computed_on = run["hardware"] if exp.trains else devices.hardware("cpu")
    metrics = {**{k: v for k, v in metrics.items() if not is_wall_clock(k)}, **extra,
               "chapter_section": exp.chapter, "computed_on": computed_on}
    io.write_json(exp.path(exp.metrics), metrics)
    return metrics


def _draw_history(exp: Experiment, figures) -> None:
    """The learning curves of the training history, for the report's "Learning curves" section:
    drawn here, in the experiment's own job (parallel, and redrawn only when it reruns), rather
    than for every experiment in the one report job at the end of each run."""
    from dllaunchpad.analysis.figures import learning_curves, read_history

    history = exp.path(exp.history)
    if not history.is_file():
        return
    try:
        drawn = learning_curves(read_history(history), f"{exp.title}: per-epoch history")
    except (ValueError, KeyError):  # a cell that is no number: the page goes without the section
        return
    if drawn is not None:  # None: no epochs
        (figures / HISTORY_FIGURE).write_bytes(drawn[0])  # the alt text is in the PNG (ALT_KEY)
