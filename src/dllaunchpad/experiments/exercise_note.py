"""Exercises that have nothing to compute here (31.9.1, 31.9.9): an entry that answers in words
and links the experiments that do the work.

- 31.9.1 ("implement the 3rd and 4th convolutional layers of 31.5.4") is answered by the
  registry entries rps_cnn_3 and rps_cnn_4, which run beside rps_cnn_1/2; the exercise entry
  links them (`see_also:`, rendered by the report) and computes nothing itself.
- 31.9.9 needs an interactive web page (TensorFlow's Neural Network Playground), which no
  pipeline stage can drive; the entry's `evaluate.note` says so and what to look for there.

Compute-only (no `trainer:` block). The metrics are the note (shown on the page) and whether the
answer runs in other entries; no figure.
"""

from __future__ import annotations

from pathlib import Path


def evaluate(exp, module, figures_dir: Path) -> dict:
    linked = list(exp.spec.get("see_also", []))
    metrics: dict = {"runs_elsewhere": bool(linked), "linked_experiments": len(linked)}
    note = exp.spec.get("evaluate", {}).get("note")
    if note:
        metrics["note"] = " ".join(str(note).split())  # one line: YAML folded text, as written
    return metrics
