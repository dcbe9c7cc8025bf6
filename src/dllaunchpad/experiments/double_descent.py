"""Exercise 31.9.10: double descent, measured, and what it means for the chapter's examples.

Random-ReLU-feature models (models/random_features.py) on an MNIST subset with some training
labels flipped (seeded): the readout is fitted by least squares below the interpolation threshold
(width = number of training examples) and by the minimum-norm interpolating solution above it.
The test error rises towards the threshold, peaks there and falls again beyond it: the "double
descent" of the MLU-Explain articles. Ridge curves (model.ridge) show what a penalty does to the
peak. Compute-only (no trainer: fitting is one SVD per width).

Settings: data {train_samples, test_samples (null: all), label_noise (fraction of training labels
replaced by a different, random class)}, model {widths, trials (random-feature draws averaged per
width), ridge (extra penalised curves: per-example strengths)}.

The metrics locate the peak against the threshold and compare the chapter's trained models'
parameter counts with their training-set sizes (CHAPTER_MODELS, counted as torch counts them: the
`parameters` metric of their pages), which is what the exercise's "does it affect our examples?"
turns on; `note` is the answer in words, built from those numbers.
"""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path

import numpy as np

from dllaunchpad.models import random_features as rf


def dense_params(sizes: list[int]) -> int:
    """A chain of dense layers sizes[0] -> sizes[1] -> ...: weights and biases."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def recurrent_params(gates: int, inputs: int, units: int) -> int:
    """torch's LSTM (4 gates) / GRU (3): input and recurrent weights and two bias vectors per gate."""
    return gates * (units * inputs + units * units + 2 * units)


def conv_params(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out


# (entry, what it is, trained parameters, training examples). Architectures as params.yaml's
# entries set them; tests/test_exercises_part2.py checks these counts against the real modules.
CHAPTER_MODELS = [
    ("xor", "XOR 2-6-1", dense_params([2, 6, 1]), 4),
    ("iris_mlp", "iris 4-4-4-3", dense_params([4, 4, 4, 3]), 120),
    ("boston_mlp", "Boston 13-128-48-1", dense_params([13, 128, 48, 1]), 404),
    ("mnist_mlp", "MNIST 784-256-128-10", dense_params([784, 256, 128, 10]), 60000),
    ("mnist_dropout", "MNIST 784-400-400-400-200-10", dense_params([784, 400, 400, 400, 200, 10]), 60000),
    # Conv 32 (26x26) -> pool (13x13) -> Conv 64 (11x11) -> Dense 32 -> 10
    ("mnist_cnn", "MNIST CNN", conv_params(1, 32, 3) + conv_params(32, 64, 3) + dense_params([11 * 11 * 64, 32, 10]),
     60000),
    ("sunspots_lstm", "sunspots LSTM(5)", recurrent_params(4, 1, 5) + dense_params([5, 1]), 2156),
    ("sunspots_tuned", "sunspots LSTM(32)", recurrent_params(4, 1, 32) + dense_params([32, 1]), 2156),
]


def _subset(exp):
    """(x_train, one-hot noisy targets, noisy labels, x_test, one-hot test targets, test labels,
    labels flipped) as float64 tensors; images flattened and scaled to unit norm (so a feature's
    scale does not depend on how much ink a digit has)."""
    import torch

    from dllaunchpad.datasets import mnist

    data = exp.spec["data"]
    seed = exp.seed
    x, y = mnist.load(exp.data_dir, "train")
    xt, yt = mnist.load(exp.data_dir, "test")
    n = int(data["train_samples"])
    if n > len(y):
        raise ValueError(f"data.train_samples {n}: the prepared MNIST has {len(y)} training images")
    idx = np.sort(np.random.default_rng([seed, 0]).choice(len(y), n, replace=False))
    labels = y[idx].copy()
    # label noise: exactly round(label_noise * n) labels, each replaced by one of the 9 others
    noise_rng = np.random.default_rng([seed, 1])
    flipped = noise_rng.choice(n, int(round(data["label_noise"] * n)), replace=False)
    labels[flipped] = (labels[flipped] + noise_rng.integers(1, 10, len(flipped))) % 10
    k = data.get("test_samples")
    t_idx = np.arange(len(yt)) if k is None or k >= len(yt) else \
        np.sort(np.random.default_rng([seed, 2]).choice(len(yt), int(k), replace=False))

    def flat(images):
        v = torch.from_numpy(images.reshape(len(images), -1)).to(torch.float64)
        return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)

    lab, lab_t = torch.from_numpy(labels), torch.from_numpy(yt[t_idx])
    onehot = torch.nn.functional.one_hot
    return (flat(x[idx]), onehot(lab, 10).double(), lab, flat(xt[t_idx]), onehot(lab_t, 10).double(), lab_t,
            len(flipped))


def curve_summary(rows: list[dict], threshold: int) -> dict:
    """Where the min-norm curve peaks, and the two descents' best values (flat metrics)."""
    widths = np.array([r["width"] for r in rows])
    test_mse = np.array([r["test_mse"] for r in rows])
    i_peak = int(np.argmax(test_mse))
    out = {"peak_width": int(widths[i_peak]), "peak_over_threshold": float(widths[i_peak] / threshold),
           "peak_test_mse": float(test_mse[i_peak]), "largest_width": int(widths[-1]),
           "largest_width_test_mse": float(test_mse[-1])}
    below = widths < threshold
    if below.any():
        out["best_below_threshold_test_mse"] = float(test_mse[below].min())
    past = widths >= threshold
    if past.any():
        out["max_train_mse_past_threshold"] = float(max(r["train_mse"] for r, p in zip(rows, past) if p))
    if "test_error" in rows[0]:
        err = np.array([r["test_error"] for r in rows])
        j = int(np.argmax(err))
        out.update({"error_peak_width": int(widths[j]), "peak_test_error": float(err[j]),
                    "largest_width_test_error": float(err[-1])})
        if below.any():
            k = int(np.flatnonzero(below)[np.argmin(err[below])])
            out.update({"best_below_threshold_test_error": float(err[k]),
                        "best_below_threshold_width": int(widths[k])})
        if past.any():
            out["max_train_error_past_threshold"] = float(max(r["train_error"] for r, p in zip(rows, past) if p))
    return out


def chapter_comparison() -> dict:
    out = {}
    for name, _, params, n in CHAPTER_MODELS:
        out[f"{name}_parameters"] = params
        out[f"{name}_train_examples"] = n
        out[f"{name}_parameters_per_example"] = params / n
    return out


def note(summary: dict, threshold: int, noise: float) -> str:
    above = [(what, p / n) for _, what, p, n in CHAPTER_MODELS if p > n]
    below = [(what, p / n) for _, what, p, n in CHAPTER_MODELS if p <= n]
    near = [what for _, what, p, n in CHAPTER_MODELS if 0.5 <= p / n <= 2.5]
    lstm_units = next(u for u in range(1, 200) if recurrent_params(4, 1, u) + u + 1 >= 2156)
    fmt = lambda items: ", ".join(f"{w} ({r:.2g}x)" for w, r in items)  # noqa: E731
    second = summary["largest_width_test_mse"] < summary["peak_test_mse"]
    text = (
        f"Here, with {noise:.0%} of the {threshold} training labels flipped, the min-norm test error peaks at width "
        f"{summary['peak_width']} ({summary['peak_over_threshold']:.2g}x the threshold width {threshold}: "
        f"test MSE {summary['peak_test_mse']:.3g})"
        + (f" and {'falls again' if second else 'does not fall again'} to {summary['largest_width_test_mse']:.3g} "
           f"at width {summary['largest_width']}" )
        + (f"; the best width below the threshold reaches {summary['best_below_threshold_test_mse']:.3g}."
           if "best_below_threshold_test_mse" in summary else ".")
        + f" The chapter's models, by parameters per training example: above 1: {fmt(above) or 'none'}; "
          f"at or below 1: {fmt(below) or 'none'}."
        + (f" Near the threshold (0.5x to 2.5x): {', '.join(near)}." if near else "")
        + " Does it affect the chapter's examples? Little, for three reasons. The peak belongs to models trained"
          " to (near) zero training error without regularisation and sharpens with label noise; the chapter's"
          " networks train for a few epochs (or stop early, or use dropout or L1), on nearly clean labels, and"
          " do not interpolate their training sets. The parameter count only stands in for a network's"
          " interpolation threshold, which depends on the architecture and the training. And the models with"
          f" several times more parameters than examples ({', '.join(w for w, r in above if r >= 2.5) or 'none'})"
          " sit, if anywhere, past the peak, where the second descent says more parameters do not hurt, while"
          f" {' and '.join(w for w, _ in below) or 'none'} sit in the classical regime below it."
          " Where it could show: a sweep of model size across the training-set size"
          f" (the sunspot LSTM has as many parameters as its 2156 windows at about {lstm_units} units) or long"
          " training on noisy labels (epoch-wise double descent); a penalty (the ridge curves here) flattens the peak."
    )
    return text


def _curve_csv(rows_by_ridge: dict[float, list[dict]]) -> str:
    buf = _io.StringIO()
    keys = ["ridge", "width", "train_mse", "test_mse", "train_error", "test_error", "readout_norm"]
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for ridge, rows in rows_by_ridge.items():
        for r in rows:
            w.writerow({"ridge": f"{ridge:g}", **{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()}})
    return buf.getvalue()


def _figure(exp, rows_by_ridge: dict[float, list[dict]], threshold: int, path: Path) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    panels = [("mse", "squared error (one-hot targets)", True), ("error", "classification error", False)]
    for ax, (what, ylabel, log) in zip(axes, panels):
        for ridge, rows in rows_by_ridge.items():
            widths = [r["width"] for r in rows]
            name = "min-norm" if ridge == 0 else f"ridge {ridge:g}"
            ls = "-" if ridge == 0 else "--"
            ax.plot(widths, [r[f"test_{what}"] for r in rows], color=OKABE_ITO[3 if ridge == 0 else 0], ls=ls,
                    marker="o", ms=3, label=f"test, {name}")
            ax.plot(widths, [r[f"train_{what}"] for r in rows], color=OKABE_ITO[2 if ridge == 0 else 5], ls=ls,
                    marker=".", ms=3, label=f"train, {name}")
        ax.axvline(threshold, color="#000000", ls=":", lw=1.2, label=f"threshold: width = n_train = {threshold}")
        ax.set_xscale("log")
        if log:
            # past the threshold the training error is ~1e-25 (exact interpolation): the axis
            # stops at 1e-3 so that the test curve's peak keeps the height; those points run off
            # the bottom
            ax.set_yscale("log")
            ax.set_ylim(bottom=1e-3)
        ax.set_xlabel("width (random ReLU features = readout parameters per output)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel} against model size" + (" (training error ~0 past the threshold: below the axis)"
                                                        if log else ""), fontsize=9)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{exp.name}: random-feature models on MNIST with label noise")
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad import io

    m, data = exp.spec["model"], exp.spec["data"]
    x, y, lab, xt, yt, lab_t, flipped = _subset(exp)
    threshold = len(lab)
    widths = sorted(set(int(w) for w in m["widths"]))
    rows_by_ridge = rf.sweep_ridges(x, y, xt, yt, widths, seed=exp.seed, trials=int(m.get("trials", 1)),
                                    ridges=[0.0] + [float(r) for r in m.get("ridge", [])],
                                    labels_train=lab, labels_test=lab_t)
    summary = curve_summary(rows_by_ridge[0.0], threshold)
    metrics = {"threshold_width": threshold, "n_train": threshold, "n_test": len(lab_t),
               "labels_flipped": flipped, "widths": len(widths), **summary}
    for ridge, rows in rows_by_ridge.items():
        if ridge > 0:
            metrics[f"ridge_{ridge:g}_peak_test_mse".replace(".", "p").replace("-", "m")] = \
                float(max(r["test_mse"] for r in rows))
    metrics.update(chapter_comparison())
    metrics["note"] = note(summary, threshold, float(data["label_noise"]))
    metrics["headline"] = "peak_width"
    metrics["thumbnail"] = "double_descent.png"
    _figure(exp, rows_by_ridge, threshold, figures_dir / "double_descent.png")
    io.write_text(figures_dir / "curve.csv", _curve_csv(rows_by_ridge))
    return metrics
