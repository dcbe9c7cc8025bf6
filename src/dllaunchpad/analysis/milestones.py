"""How fast a run got there: the first epoch a logged quantity reached a threshold.

The exercises ask "how many epochs does it need?" (31.9.3c: XOR accuracy 1; 31.9.4b: Iris 95 %
validation accuracy). The answer is read from the per-epoch history a run logged (the history
CSV, `analysis.figures.read_history`), so it costs nothing beyond the training already done.

A run that never reaches the threshold has no such epoch. For a comparison over seeds the value
must still be a number that sorts the right way and fails a success test, so `epochs_to` gives
``epochs run + 1`` ("not within the run": a lower bound, censored at the budget) together with a
flag saying whether the threshold was reached; metrics carry both (`<name>` and
`reached_<what>`), and a comparison's success test ``at_most: <epochs>`` counts exactly the runs
that got there.
"""

from __future__ import annotations

import math


def first_epoch(epochs: list[float], values: list[float], threshold: float, *, goal: str = "max") -> int | None:
    """The first epoch (as logged, 1-based) whose value is >= threshold (goal max) or <=
    threshold (goal min); None when no epoch is. NaN values never count."""
    if goal not in ("max", "min"):
        raise ValueError(f"goal must be max or min, got {goal!r}")
    for epoch, value in zip(epochs, values):
        if math.isnan(value):
            continue
        if (value >= threshold) if goal == "max" else (value <= threshold):
            return int(epoch)
    return None


def epochs_to(history: dict[str, list[float]], key: str, threshold: float, *, goal: str = "max") -> tuple[int, bool]:
    """(epochs needed, reached) for history[key] to reach threshold: the first such epoch and
    True, or (epochs run + 1, False) when it never did (see the module docstring)."""
    if key not in history:
        raise KeyError(f"the history has no {key!r} column (it has {sorted(history)})")
    epochs = history.get("epoch") or list(range(1, len(history[key]) + 1))
    hit = first_epoch(epochs, history[key], threshold, goal=goal)
    if hit is None:
        return (int(max(epochs)) if epochs else 0) + 1, False
    return hit, True
