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

params: model {cell: lstm | gru, units, bidirectional (default false)}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.rnn_forecaster import RNNForecaster

NAIVE = "naive last-value forecast"


def model(exp) -> RNNForecaster:
    m = exp.spec["model"]
    return RNNForecaster(m["cell"], m["units"], exp.spec["optimizer"], bidirectional=m.get("bidirectional", False))


def load_data(exp) -> dict:
    from dllaunchpad.datasets import sunspots

    d = sunspots.load(exp.data_dir)
    for k in ("x_train", "y_train", "x_test", "y_test"):
        d[k] = torch.from_numpy(d[k])
    return d


def build(exp):
    d = load_data(exp)
    dm = TensorDataModule((d["x_train"], d["y_train"]), val=(d["x_test"], d["y_test"]),
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
    _forecast_figure(exp, d, pred_test.numpy(), figures_dir / "test_forecast.png")
    _loss_figure(exp, history, metrics, figures_dir / "loss.png")
    return metrics


def _loss_figure(exp, history: dict, metrics: dict, path: Path) -> None:
    """Training and test MAE per epoch, with the naive forecast's MAEs as the bar to clear."""
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.6, 4))
    ax.plot(history["epoch"], history["train_loss"], color="#0072B2", label="training")
    ax.plot(history["epoch"], history["val_loss"], color="#D55E00", label="validation (test windows)")
    ax.axhline(metrics["naive_train_mae"], color="#0072B2", ls=":", label="naive, training")
    ax.axhline(metrics["naive_test_mae"], color="#D55E00", ls=":", label="naive, test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (normalised)")
    ax.set_title(f"{exp.name}: loss per epoch against the naive forecast")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    save(fig, path)
