"""One plotting style for every figure: labelled axes, readable at 100 % zoom, and the
Okabe-Ito palette, which stays distinguishable for the common forms of colour blindness.

Every family draws with ``pyplot()`` and writes with ``save(fig, path)``. ``save`` also stores
an alt text in the PNG (its ``Description`` text chunk): the one given, or one described from
the figure itself (title, kind of plot, axis labels, series). The HTML report and the
Snakemake report read it back, so every figure has alt text without extra work in the family.

Colour maps: use "cividis" or "viridis" (perceptually uniform, colour-blind safe) for values
and "gray" for images; never "jet"/"rainbow".
"""

from __future__ import annotations

import csv
import io as _io
import math
import textwrap
from pathlib import Path

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
# PNG text chunk that holds a figure's alt text (a registered PNG keyword).
ALT_KEY = "Description"

STYLE = {
    # 6.4 x 4.0 in at 110 dpi = 704 x 440 px: fits a report column at 100 % zoom, and an 11 pt
    # font renders at ~17 px there.
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "axes.prop_cycle": None,  # set in pyplot(): needs cycler
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "font.size": 11,
    "legend.frameon": False,
    "image.cmap": "cividis",
    "lines.linewidth": 1.8,
}


def pyplot():
    """matplotlib.pyplot with the headless backend and our style (imported lazily: slow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    plt.rcParams.update({**STYLE, "axes.prop_cycle": cycler(color=OKABE_ITO)})
    return plt


def describe(fig) -> str:
    """A one-paragraph alt text from the figure: title, then per panel the kind of plot, its
    axes and its series. Good enough for a screen reader; pass ``alt=`` to save() to do better."""
    parts = []
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    axes = [ax for ax in fig.get_axes() if ax.get_label() != "<colorbar>" and ax.get_visible()
            and (ax.get_images() or ax.get_lines() or ax.collections or ax.patches or ax.get_title())]
    for ax in axes:
        kinds = []
        if ax.get_images():
            kinds.append("image")
        if ax.get_lines():
            kinds.append("line plot")
        if ax.collections:
            kinds.append("scatter/area plot")
        if ax.patches:
            kinds.append("bar chart")
        panel = " and ".join(kinds) or "plot"
        if ax.get_title():
            panel = f"{ax.get_title()}: {panel}"
        x, y = ax.get_xlabel(), ax.get_ylabel()
        if x or y:
            panel += f" of {y or 'value'} against {x or 'position'}"
        legend = ax.get_legend()
        if legend is not None:
            names = [t.get_text() for t in legend.get_texts()]
            if names:
                panel += "; series: " + ", ".join(names)
        parts.append(panel)
    if len(parts) > 6:  # image grids: one sentence, not one per thumbnail
        titled = [ax.get_title() for ax in axes if ax.get_title()]
        parts = [f"grid of {len(axes)} panels" + (f" titled {', '.join(titled[:12])}"
                                                  + ("…" if len(titled) > 12 else "") if titled else "")]
    text = ". ".join(p for p in [title, *parts] if p)
    return text[:1000] or "figure"


def save(fig, path: Path, alt: str | None = None) -> Path:
    """Write ``fig`` as PNG with its alt text embedded; no timestamps (stable bytes)."""
    fig.tight_layout()
    description = alt or describe(fig)
    fig.savefig(path, format="png", metadata={"Software": None, ALT_KEY: description})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def alt_text(path: Path) -> str | None:
    """The alt text save() stored in a PNG, or None (a PNG written some other way)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return (getattr(img, "text", {}) or {}).get(ALT_KEY) or None
    except OSError:
        return None


def thumbnail(path: Path, width: int = 360) -> bytes:
    """A PNG of ``path`` scaled down to ``width`` pixels (for the overview cards)."""
    from PIL import Image

    with Image.open(path) as img:
        rgba = img.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")  # transparent parts on white, as on the page
    flat.paste(rgba, mask=rgba.getchannel("A"))
    if flat.width > width:
        flat = flat.resize((width, max(1, round(flat.height * width / flat.width))), Image.Resampling.LANCZOS)
    # 128 colours: a plot's flat colours survive, and the overview stays small (~5-20 kB a card).
    small = flat.quantize(128, method=Image.Quantize.MEDIANCUT)
    buf = _io.BytesIO()
    small.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def read_history(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as fh:
        return parse_history(fh.read())


def parse_history(text: str) -> dict[str, list[float]]:
    """A history CSV's columns as floats (empty cells: NaN); ValueError on a cell that is no number."""
    rows = list(csv.DictReader(text.splitlines()))
    cols: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r.items():
            cols.setdefault(k, []).append(float(v) if v not in ("", None) else float("nan"))
    return cols


def curves(path: Path, history: dict[str, list[float]], keys: list[str], ylabel: str, title: str,
           labels: dict[str, str] | None = None, logy: bool = False) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots()
    few = len(history.get("epoch", [])) < 12  # markers, or a single epoch would draw nothing
    for k in keys:
        if k in history:
            ax.plot(history["epoch"], history[k], label=(labels or {}).get(k, k), marker="o" if few else None,
                    markersize=4)
    epoch_axis(ax)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def epoch_axis(ax) -> None:
    """x axis = epochs: labelled, whole numbers only. Call it after plotting (it reads the limits)."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    lo, hi = ax.get_xlim()
    if hi - lo < 2:  # one epoch: autoscaling leaves a window around it too narrow for whole numbers
        mid = round((lo + hi) / 2)
        ax.set_xlim(mid - 1, mid + 1)


# -- the report's own figure: every per-epoch value of a history CSV ------------------------

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


def history_panels(history: dict[str, list[float]]) -> dict[str, dict[str, str]]:
    """Group history columns by what they measure: {"loss": {"train": "train_loss",
    "val": "val_loss"}, ...}. A column without a split prefix is its own panel."""
    panels: dict[str, dict[str, str]] = {}
    for col in history:
        if col == "epoch":
            continue
        split, _, rest = col.partition("_")
        if split in SPLITS and rest:
            panels.setdefault(rest, {})[split] = col
        else:
            panels.setdefault(col, {})["value"] = col
    return panels


def learning_curves(history: dict[str, list[float]], title: str, max_panels: int = 6):
    """Small multiples, one panel per measured quantity, training and validation overlaid.

    Returns (PNG bytes, alt text), or None when the history has no epochs. Panels whose
    positive values span more than two decades use a log scale.
    """
    epochs = history.get("epoch", [])
    panels = history_panels(history)
    if not epochs or not panels:
        return None
    # Loss panels first: they are what a reader looks for.
    names = sorted(panels, key=lambda n: (n != "loss", "loss" not in n, n))[:max_panels]
    plt = pyplot()
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    colours = {"train": OKABE_ITO[0], "val": OKABE_ITO[1], "test": OKABE_ITO[2], "value": OKABE_ITO[0]}
    styles = {"train": "-", "val": "--", "test": ":", "value": "-"}
    for ax, name in zip(axes.flat, names):
        values = []
        for split, col in sorted(panels[name].items(), key=lambda kv: SPLITS.index(kv[0]) if kv[0] in SPLITS else 9):
            ys = history[col]
            values += [v for v in ys if not math.isnan(v)]
            ax.plot(epochs, ys, styles[split], color=colours[split], label=SPLIT_NAMES.get(split, col),
                    marker="o" if len(epochs) < 12 else None, markersize=4)
        positive = [v for v in values if v > 0]
        if positive and len(positive) == len(values) and max(positive) / min(positive) > 100:
            ax.set_yscale("log")
        ax.set_title(name.replace("_", " "))
        epoch_axis(ax)
        ax.set_ylabel(name.replace("_", " ") + (" (log scale)" if ax.get_yscale() == "log" else ""))
        if len(panels[name]) > 1 or "value" not in panels[name]:
            ax.legend()
    return _panels_png(plt, fig, axes, len(names), title)


def overlaid_learning_curves(runs: dict[str, dict[str, list[float]]], title: str, max_panels: int = 4):
    """`dllaunchpad report --compare`: the histories of several runs of one experiment, one panel
    per measured quantity (losses first), one colour per run, training solid and validation
    dashed. Returns (PNG bytes, alt text), or None when no run has an epoch."""
    runs = {label: h for label, h in runs.items() if h.get("epoch")}
    if not runs:
        return None
    panels: dict[str, dict[str, str]] = {}
    for history in runs.values():
        for name, splits in history_panels(history).items():
            panels.setdefault(name, {}).update(splits)
    names = sorted(panels, key=lambda n: (n != "loss", "loss" not in n, n))[:max_panels]
    if not names:
        return None
    plt = pyplot()
    cols = min(len(names), 2)
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False)
    styles = {"train": "-", "val": "--", "test": ":", "value": "-"}
    for ax, name in zip(axes.flat, names):
        for colour, (label, history) in zip(OKABE_ITO, runs.items()):
            for split, col in panels[name].items():
                if col in history:
                    ax.plot(history["epoch"], history[col], styles[split], color=colour,
                            label=f"{label}, {SPLIT_NAMES.get(split, col)}",
                            marker="o" if len(history["epoch"]) < 12 else None, markersize=4)
        ax.set_title(name.replace("_", " "))
        epoch_axis(ax)
        ax.set_ylabel(name.replace("_", " "))
        ax.legend(fontsize="small")
    return _panels_png(plt, fig, axes, len(names), title)


def _panels_png(plt, fig, axes, used: int, title: str) -> tuple[bytes, str]:
    """Small multiples done: hide the unused panels, title, describe (the alt text), encode."""
    for ax in list(axes.flat)[used:]:
        ax.set_visible(False)
    fig.suptitle(title)
    alt = describe(fig)
    # Then wrapped to the figure's width (~9 characters per inch at the title's size): an
    # experiment's full title is often wider than two panels, and savefig would cut it off.
    fig.suptitle(textwrap.fill(title, width=max(30, int(fig.get_figwidth() * 9))))
    fig.tight_layout()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None, ALT_KEY: alt})
    plt.close(fig)
    return buf.getvalue(), alt
