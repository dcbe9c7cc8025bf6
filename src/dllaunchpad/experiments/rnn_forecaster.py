"""Sunspot forecasting with recurrent networks (chapter 31.8.5, with the LSTM/GRU/bidirectional
variants of section 31.6): 100 normalised months in, the next month out.

The chapter's configuration: LSTM(5) -> Dense(1), MAE loss, Adam (Keras defaults: lr 1e-3,
eps 1e-7), one batch holding every training window (`batch(len(data_seq))`, 2820 >= 2156), the
test windows as validation data. Its `model.fit(...)` call passes no `epochs`, so Keras trained
for its default of one epoch and printed loss 0.7013, val_loss 1.2558; we train for
`trainer.epochs` and report the first epoch's values beside the last (`epoch1_*`).

Every evaluation also reports the naive forecast "next month = this month" (the last value of
each window), which a useful model has to beat, and says which one wins (`winner`).
MAEs are given both normalised (units of the training part's standard deviation, as the
chapter's loss) and in sunspot numbers.

params: model {cell: lstm | gru | chapter_gru, units, bidirectional (default false)};
chapter_gru is the chapter's GRU equations (reset gate before the recurrent product, 31.6.6;
models/chapter_gru.py), unidirectional only.

Exercise 31.9.7 adds three optional settings (their defaults leave every other entry as it was):

- model.dropout: a Dropout layer on the recurrent layer's final state (models/rnn_forecaster.py);
- data.validation_fraction: hold out the last fraction of the *training* windows (the months just
  before the test part) as validation data instead of the test windows, so that early stopping
  (trainer.early_stopping) picks its epoch without looking at the test set; the model then trains
  on the remaining windows, and the test MAE stays an honest estimate;
- evaluate.data_figures (true for sunspots_lstm): the series, x_train[0] and a test window with
  its prediction, as the chapter shows them (see data_figures);
- evaluate.forecast_until ("YYYY-MM"): a recursive forecast from the month after the data's last
  (1984-01) to that month, each prediction fed back as the newest input month
  (analysis/forecast.py), plotted after the observed series with its cycle maxima marked, beside
  the naive forecast, which stays flat at the last observed value (forecast.png, forecast_*).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.rnn_forecaster import RNNForecaster

NAIVE = "naive last-value forecast"
PEAK_PROMINENCE = 1.0  # sunspot numbers: see future_forecast


def model(exp) -> RNNForecaster:
    m = exp.spec["model"]
    return RNNForecaster(m["cell"], m["units"], exp.spec["optimizer"], bidirectional=m.get("bidirectional", False),
                         dropout=m.get("dropout", 0.0))


def load_data(exp) -> dict:
    from dllaunchpad.datasets import sunspots

    d = sunspots.load(exp.data_dir)
    for k in ("x_train", "y_train", "x_test", "y_test"):
        d[k] = torch.from_numpy(d[k])
    return d


def split_validation(x: torch.Tensor, y: torch.Tensor, fraction: float | None):
    """((x, y) to train on, (x, y) to validate on) from the training windows: the last `fraction`
    of them, in time order, are held out (None: no split, the caller validates on the test
    windows as the chapter does). Each window's inputs precede its target, so no training window
    reads a held-out target."""
    if not fraction:
        return (x, y), None
    n_val = max(1, int(round(fraction * len(y))))
    if n_val >= len(y):
        raise ValueError(f"data.validation_fraction {fraction} leaves no training windows")
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])


def build(exp):
    d = load_data(exp)
    train, val = split_validation(d["x_train"], d["y_train"], exp.spec.get("data", {}).get("validation_fraction"))
    dm = TensorDataModule(train, val=val or (d["x_test"], d["y_test"]),
                          batch_size=exp.spec["trainer"]["batch_size"], seed=exp.seed)
    return model(exp), dm


def naive_forecast(x: torch.Tensor) -> torch.Tensor:
    """The last value of each (N, L, 1) window: 'next month = this month'."""
    return x[:, -1, 0]


def mae(pred: torch.Tensor, truth: torch.Tensor) -> float:
    return float((pred - truth).abs().mean())


@torch.no_grad()
def forecast(module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    module.eval()
    return torch.cat([module(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def _forecast_figure(exp, d: dict, pred: np.ndarray, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    std, mean = float(d["std"]), float(d["mean"])
    L = d["x_test"].shape[1]
    months = d["months"][int(d["split_index"]) + L:]
    t = np.array([int(m[:4]) + (int(m[5:7]) - 1) / 12 for m in months])
    truth = d["y_test"].numpy() * std + mean
    naive = naive_forecast(d["x_test"]).numpy() * std + mean
    model_units = pred * std + mean
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(11, 6.4))
    zoom = slice(0, min(120, len(t)))
    for ax, sl, title in ((axes[0], slice(None), "whole test period"), (axes[1], zoom, "first 10 test years")):
        ax.plot(t[sl], truth[sl], color="#000000", lw=1.2, label="observed")
        ax.plot(t[sl], model_units[sl], color="#D55E00", lw=1.2, label=f"{exp.name} forecast")
        if sl is zoom:
            ax.plot(t[sl], naive[sl], color="#56B4E9", lw=1, ls="--", label="naive (last value)")
        ax.set_xlabel("year")
        ax.set_ylabel("monthly sunspot number")
        ax.set_title(f"{exp.name}: one-month-ahead test forecast, {title}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: the data fill the axes
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad.analysis.figures import read_history

    d = load_data(exp)
    std = float(d["std"])
    pred_train, pred_test = forecast(module, d["x_train"]), forecast(module, d["x_test"])
    metrics = {
        "train_mae": mae(pred_train, d["y_train"]),
        "test_mae": mae(pred_test, d["y_test"]),
        "naive_train_mae": mae(naive_forecast(d["x_train"]), d["y_train"]),
        "naive_test_mae": mae(naive_forecast(d["x_test"]), d["y_test"]),
    }
    for k in list(metrics):
        metrics[f"{k}_sunspots"] = metrics[k] * std
    beats = metrics["test_mae"] < metrics["naive_test_mae"]
    metrics.update({
        "test_mae_over_naive": metrics["test_mae"] / metrics["naive_test_mae"],
        "beats_naive": bool(beats),
        "winner": exp.name if beats else NAIVE,
        "parameters": sum(p.numel() for p in module.parameters()),
    })
    history = read_history(exp.path(exp.history))
    metrics.update({
        "history_epochs": len(history["epoch"]),
        "epoch1_train_loss": float(history["train_loss"][0]),
        "epoch1_val_loss": float(history["val_loss"][0]),
        "final_train_loss": float(history["train_loss"][-1]),
        "final_val_loss": float(history["val_loss"][-1]),
    })
    fraction = exp.spec.get("data", {}).get("validation_fraction")
    if fraction:
        _, (x_val, y_val) = split_validation(d["x_train"], d["y_train"], fraction)
        metrics.update({"validation_windows": len(y_val), "validation_mae": mae(forecast(module, x_val), y_val),
                        "naive_validation_mae": mae(naive_forecast(x_val), y_val)})
    if exp.spec.get("evaluate", {}).get("data_figures"):
        metrics.update(data_figures(exp, d, float(pred_test[0]), figures_dir))
    _forecast_figure(exp, d, pred_test.numpy(), figures_dir / "test_forecast.png")
    _loss_figure(exp, history, metrics, figures_dir / "loss.png",
                 validation="held-out training windows" if fraction else "test windows")
    until = exp.spec.get("evaluate", {}).get("forecast_until")
    if until:
        future = future_forecast(module, d, until)
        metrics.update(future_metrics(future))
        _future_figure(exp, d, future, figures_dir / "forecast.png")
    return metrics


def data_figures(exp, d: dict, predicted0: float, figures_dir: Path) -> dict:
    """evaluate {data_figures: true} (sunspots_lstm): the chapter's looks at the data (31.8.5) -
    the whole monthly series with the train/test split (sunspot_series.png), the first training
    window x_train[0] and its response y_train[0] (x_train0_window.png; the chapter printed
    x_train[0][0] = 0.35827485 and y_train[0] = -0.17636682500608733), and the first test window
    with its true and this model's predicted next value (test_window_prediction.png). Windows in
    normalised units, as the chapter plots them; the series in sunspot numbers."""
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    std, mean, split = float(d["std"]), float(d["mean"]), int(d["split_index"])
    months = [str(m) for m in d["months"]]
    years = np.array([int(m[:4]) + (int(m[5:7]) - 1) / 12 for m in months])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 3.8))
    ax.plot(years, np.asarray(d["series"]) * std + mean, color=OKABE_ITO[7], lw=0.8, label="observed")
    ax.axvline(years[split], color=OKABE_ITO[3], ls="--", label=f"split: training before {months[split]}, test from it")
    ax.set_xlabel("year")
    ax.set_ylabel("monthly sunspot number")
    ax.set_title(f"Monthly sunspots, {months[0]} to {months[-1]} ({len(months)} months)")
    ax.legend(loc="upper left")
    save(fig, figures_dir / "sunspot_series.png")

    x0, y0 = d["x_train"][0, :, 0].numpy(), float(d["y_train"][0])
    window = len(x0)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.plot(np.arange(window), x0, "o-", ms=3, color=OKABE_ITO[0], label=f"x_train[0] (from {months[0]})")
    ax.plot([window], [y0], "D", color=OKABE_ITO[3], ms=7, label=f"y_train[0] = {y0:.4f}")
    ax.set_xlabel("month in the window")
    ax.set_ylabel("normalised sunspot number")
    ax.set_title(f"The first training window (x_train[0], {window} months) and its response")
    ax.legend(loc="upper right")
    save(fig, figures_dir / "x_train0_window.png")

    xt, yt = d["x_test"][0, :, 0].numpy(), float(d["y_test"][0])
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.plot(np.arange(window), xt, "o-", ms=3, color=OKABE_ITO[0], label=f"x_test[0] (from {months[split]})")
    ax.plot([window], [yt], "D", color=OKABE_ITO[7], ms=7, label=f"true next value {yt:.3f}")
    ax.plot([window], [predicted0], "X", color=OKABE_ITO[3], ms=9, label=f"{exp.name}: predicted {predicted0:.3f}")
    ax.set_xlabel("month in the window")
    ax.set_ylabel("normalised sunspot number")
    ax.set_title("The first test window with its true and predicted next value")
    ax.legend(loc="upper right")
    save(fig, figures_dir / "test_window_prediction.png")
    return {"x_train0_first_value": float(x0[0]), "y_train0": y0,
            "test0_true_next": yt, "test0_predicted_next": predicted0}


def future_forecast(module, d: dict, until: str) -> dict:
    """The recursive forecast from the month after the data's last to `until`, in sunspot
    numbers, and the naive one (the last observed value, repeated: 'next month = this month'
    applied to its own output never changes)."""
    from dllaunchpad.analysis import forecast as fc

    months = [str(m) for m in d["months"]]
    future = fc.months_after(months[-1], until)
    std, mean = float(d["std"]), float(d["mean"])
    module.eval()
    norm = fc.recursive_forecast(module, np.asarray(d["series"]), len(future), int(d["x_train"].shape[1]))
    last = float(d["series"][-1]) * std + mean
    values = norm * std + mean
    # a cycle maximum must rise PEAK_PROMINENCE sunspots above the lows beside it (the data are
    # given to 0.1; a forecast that has settled ripples by less)
    return {"months": future, "values": values, "naive": np.full(len(future), last),
            "peaks": fc.cycle_peaks(values, min_prominence=PEAK_PROMINENCE), "smoothed": fc.running_mean(values)}


def future_metrics(f: dict) -> dict:
    months, values, peaks = f["months"], f["values"], f["peaks"]
    top = int(np.argmax(values))
    last_cycle = values[-132:]  # the final ~11 years: does the forecast still oscillate?
    cycle_text = ", ".join(f"{months[i]} ({f['smoothed'][i]:.1f})" for i in peaks) or "none"
    note = (f"Recursive forecast {months[0]} to {months[-1]} ({len(months)} months): "
            + (f"{len(peaks)} cycle {'maximum' if len(peaks) == 1 else 'maxima'} (13-month mean), at {cycle_text}; "
               if peaks else
               "no cycle maximum (the smoothed forecast has no turning point); ")
            + f"highest month {months[top]} ({values[top]:.1f}); over the last 11 years it spans "
              f"{float(last_cycle.min()):.1f} to {float(last_cycle.max()):.1f}. The naive forecast repeats "
              f"the last observed value, {float(f['naive'][0]):.1f}, for every month: flat, no cycle.")
    return {
        "forecast_start": months[0], "forecast_end": months[-1], "forecast_months": len(months),
        "forecast_peak_month": months[top], "forecast_peak_value": float(values[top]),
        "forecast_cycle_peak_count": len(peaks), "forecast_cycle_peaks": cycle_text,
        "forecast_first_cycle_peak_month": months[peaks[0]] if peaks else "none",
        "forecast_min_value": float(values.min()), "forecast_mean_value": float(values.mean()),
        "forecast_last_11y_range": float(last_cycle.max() - last_cycle.min()),
        "naive_forecast_value": float(f["naive"][0]), "naive_forecast_flat": bool(np.all(f["naive"] == f["naive"][0])),
        "forecast_note": note,
    }


def _future_figure(exp, d: dict, f: dict, path: Path) -> None:
    """The observed series, then the recursive and the naive forecasts, the cycle maxima marked;
    the whole record above, the last decades and the forecast below."""
    from dllaunchpad.analysis import forecast as fc
    from dllaunchpad.analysis.figures import pyplot, save

    std, mean = float(d["std"]), float(d["mean"])
    t_obs = np.array([fc.decimal_year(str(m)) for m in d["months"]])
    observed = np.asarray(d["series"]) * std + mean
    t_f = np.array([fc.decimal_year(m) for m in f["months"]])
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(12, 7.4))
    for ax, start in ((axes[0], t_obs[0]), (axes[1], 1940.0)):
        keep = t_obs >= start
        ax.plot(t_obs[keep], observed[keep], color="#000000", lw=0.8, label=f"observed ({d['months'][0]} to {d['months'][-1]})")
        ax.axvspan(t_f[0], t_f[-1] + 1 / 12, color="#F0E442", alpha=0.18, lw=0)
        ax.plot(t_f, f["values"], color="#D55E00", lw=1.2, label=f"{exp.name}: recursive forecast")
        ax.plot(t_f, f["naive"], color="#56B4E9", lw=1.2, ls="--", label="naive forecast (last value, flat)")
        for i in f["peaks"]:
            ax.plot(t_f[i], f["smoothed"][i], marker="v", color="#D55E00", ms=7, ls="none")
            if ax is axes[1]:
                ax.annotate(f["months"][i], (t_f[i], f["smoothed"][i]), textcoords="offset points", xytext=(0, 7),
                            ha="center", fontsize=8, color="#D55E00")
        ax.set_xlabel("year")
        ax.set_ylabel("monthly sunspot number")
        ax.set_title(f"from {int(start)}" + (": triangles mark the forecast's cycle maxima (13-month mean)"
                                              if ax is axes[1] else ""), fontsize=10)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    fig.suptitle(f"{exp.name}: recursive forecast {f['months'][0]} to {f['months'][-1]} after the observed series")
    save(fig, path)


def _loss_figure(exp, history: dict, metrics: dict, path: Path, validation: str = "test windows") -> None:
    """Training and test MAE per epoch, with the naive forecast's MAEs as the bar to clear."""
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.6, 4))
    ax.plot(history["epoch"], history["train_loss"], color="#0072B2", label="training")
    ax.plot(history["epoch"], history["val_loss"], color="#D55E00", label=f"validation ({validation})")
    ax.axhline(metrics["naive_train_mae"], color="#0072B2", ls=":", label="naive, training")
    # the bar the validation curve has to clear: the naive MAE on the same windows
    held_out = "naive_validation_mae" in metrics
    ax.axhline(metrics["naive_validation_mae" if held_out else "naive_test_mae"], color="#D55E00", ls=":",
               label="naive, validation" if held_out else "naive, test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (normalised)")
    ax.set_title(f"{exp.name}: loss per epoch against the naive forecast")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    save(fig, path)
