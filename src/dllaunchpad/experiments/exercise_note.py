"""Exercises that have nothing to compute here (31.9.1, 31.9.9): an entry that answers in words
and links the experiments that do the work.

- 31.9.1 ("implement the 3rd and 4th convolutional layers of 31.5.4") is answered by the
  registry entries rps_cnn_3 and rps_cnn_4, which run beside rps_cnn_1/2; the exercise entry
  links them (`see_also:`, rendered by the report) and sets `evaluate.runs_elsewhere`.
- 31.9.9 needs an interactive web page (TensorFlow's Neural Network Playground), which no
  pipeline stage can drive: `evaluate.external_tool` names it and `evaluate.note` says what to
  look for there.

Compute-only (no `trainer:` block). The metrics are those settings, flat (the page shows them;
the note as one line), and how many entries the page links; no figure.
"""

from __future__ import annotations

from pathlib import Path


def evaluate(exp, module, figures_dir: Path) -> dict:
    ev = exp.spec.get("evaluate", {})
    metrics: dict = {"runs_elsewhere": bool(ev.get("runs_elsewhere", False)),
                     "linked_experiments": len(exp.spec.get("see_also", []))}
    if ev.get("external_tool"):
        metrics["external_tool"] = str(ev["external_tool"])
    if ev.get("note"):
        metrics["note"] = " ".join(str(ev["note"]).split())  # one line: YAML folded text, as written
    return metrics
