"""One plotting style for every figure: labelled axes, readable at 100 % zoom, and the
Okabe-Ito palette, which stays distinguishable for the common forms of colour blindness."""

from __future__ import annotations

import csv
from pathlib import Path

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def pyplot():
    """matplotlib.pyplot with the headless backend and our style (imported lazily: slow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    plt.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 100,
        "savefig.dpi": 110,
        "axes.prop_cycle": cycler(color=OKABE_ITO),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 11,
        "legend.frameon": False,
    })
    return plt


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})  # no timestamps: stable bytes
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def read_history(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r.items():
            cols.setdefault(k, []).append(float(v) if v not in ("", None) else float("nan"))
    return cols


def curves(path: Path, history: dict[str, list[float]], keys: list[str], ylabel: str, title: str,
           labels: dict[str, str] | None = None, logy: bool = False) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots()
    for k in keys:
        if k in history:
            ax.plot(history["epoch"], history[k], label=(labels or {}).get(k, k))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)
