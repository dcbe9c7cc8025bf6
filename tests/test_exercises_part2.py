"""Exercises 31.9.7 (the sunspot forecaster regularised; its recursive forecast to December 2028)
and 31.9.10 (double descent): the registry entries, the forecast's months and recursion, the
cycle-peak picking, the new forecaster settings (dropout, a held-out validation split), the
comparison's baseline, and the random-feature curve's peak at the interpolation threshold."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dllaunchpad.analysis import forecast as fc
from dllaunchpad.experiments import double_descent as dd
from dllaunchpad.experiments import rnn_forecaster as rnnf
from dllaunchpad.models import random_features as rf
from dllaunchpad.models.rnn_forecaster import RNNForecaster
from dllaunchpad.runners import compare as cmp_runner

ADAM = {"name": "adam", "lr": 0.001, "eps": 1.0e-7}


# -- the registry entries ------------------------------------------------------------------------

def test_ex7_regularisation_variants(full, quick):
    names = ("none", "dropout", "weight_decay", "early_stopping", "all")
    assert full.comparisons["ex7_sunspots_regularisation"].variants == tuple(
        f"ex7_sunspots_regularisation__{n}__seed{s}" for n in names for s in (0, 1, 2))
    assert quick.comparisons["ex7_sunspots_regularisation"].variants == tuple(  # quick: two runs
        f"ex7_sunspots_regularisation__{n}__seed0" for n in ("none", "all"))
    base = "ex7_sunspots_regularisation__"
    spec = {n: full.experiment(f"{base}{n}__seed0").spec for n in names}
    assert spec["none"]["model"].get("dropout", 0.0) == 0.0 and "weight_decay" not in spec["none"]["optimizer"]
    assert "early_stopping" not in spec["none"]["trainer"]
    assert spec["dropout"]["model"]["dropout"] == 0.2
    assert spec["weight_decay"]["optimizer"]["weight_decay"] == 1.0e-3
    assert spec["early_stopping"]["trainer"]["early_stopping"]["restore_best"] is True
    assert spec["all"]["model"]["dropout"] == 0.2 and spec["all"]["optimizer"]["weight_decay"] == 1.0e-3
    for s in spec.values():  # every variant validates on held-out training windows and forecasts to 2028
        assert s["data"] == {"validation_fraction": 0.1} and s["evaluate"] == {"forecast_until": "2028-12"}
    assert full.comparisons["ex7_sunspots_regularisation"].compare["baseline"] == "naive_test_mae"
    for v in quick.comparisons["ex7_sunspots_regularisation"].variants:
        assert quick.experiment(v).spec["trainer"]["epochs"] <= 3


def test_ex7_leaves_the_chapter_sunspot_entries_alone(full):
    # the settings the exercise adds are absent from the 31.8.5 entries: their numbers stay
    for name in ("sunspots_lstm", "sunspots_tuned", "sunspots_gru", "sunspots_bilstm"):
        s = full.experiment(name).spec
        assert "dropout" not in s["model"] and "data" not in s and "forecast_until" not in s.get("evaluate", {})
    tuned, f2028 = full.experiment("sunspots_tuned").spec, full.experiment("ex7_sunspots_forecast_2028").spec
    assert f2028["model"] == tuned["model"] and f2028["trainer"] == tuned["trainer"]
    assert f2028["optimizer"] == tuned["optimizer"] and f2028["evaluate"] == {"forecast_until": "2028-12"}


def test_ex10_entry(full, quick):
    exp, q = full.experiment("ex10_double_descent"), quick.experiment("ex10_double_descent")
    assert not exp.trains and exp.spec["dataset"] == "mnist"
    n, widths = exp.spec["data"]["train_samples"], exp.spec["model"]["widths"]
    assert min(widths) <= n / 10 and max(widths) >= 10 * n and n in widths  # well below .. well above
    n_q, widths_q = q.spec["data"]["train_samples"], q.spec["model"]["widths"]
    assert n_q == 200 and n_q in widths_q and len(widths_q) <= 12 and max(widths_q) >= 5 * n_q


# -- 7(b): the forecast's months, the recursion, the peaks ----------------------------------------

def test_forecast_months_1984_to_2028():
    months = fc.months_after("1983-12", "2028-12")
    assert len(months) == 540 == 45 * 12
    assert months[0] == "1984-01" and months[-1] == "2028-12" and months[12] == "1985-01"
    assert fc.month_name(fc.month_index("1749-01")) == "1749-01"
    assert fc.month_index("1984-01") - fc.month_index("1983-12") == 1
    assert fc.decimal_year("1984-07") == 1984.5
    with pytest.raises(ValueError, match="not after"):
        fc.months_after("1983-12", "1983-11")


class LastValue(torch.nn.Module):
    """'next month = this month': the naive forecaster as a module."""

    def forward(self, x):
        return x[:, -1, 0]


class Doubling(torch.nn.Module):
    def forward(self, x):
        return 2 * x[:, -1, 0]


def test_recursion_feeds_each_prediction_back():
    history = np.arange(150, dtype=np.float64) / 100  # last value 1.49
    flat = fc.recursive_forecast(LastValue(), history, 540, 100)
    assert flat.shape == (540,) and np.all(flat == np.float32(1.49))
    # doubling the newest input: 2, 4, 8, ... only if each prediction becomes the next input
    doubled = fc.recursive_forecast(Doubling(), np.ones(100), 5, 100)
    np.testing.assert_array_equal(doubled, [2, 4, 8, 16, 32])

    class Oldest(torch.nn.Module):  # reads the oldest month of the window: the window slides
        def forward(self, x):
            return x[:, 0, 0]

    slid = fc.recursive_forecast(Oldest(), np.arange(4.0), 6, 3)  # window [1, 2, 3] -> 1, 2, 3, 1, 2, 3
    np.testing.assert_array_equal(slid, [1, 2, 3, 1, 2, 3])


def test_cycle_peaks_on_a_known_series():
    t = np.arange(540)
    # maxima of cos at t = 30 + 132 k: 30, 162, 294, 426 (period 132 months = 11 years)
    series = 80 + 60 * np.cos(2 * np.pi * (t - 30) / 132)
    assert fc.cycle_peaks(series) == [30, 162, 294, 426]
    assert fc.cycle_peaks(np.full(540, 33.4)) == []       # the naive forecast: flat, no cycle
    assert fc.cycle_peaks(np.linspace(0, 1, 540)) == []   # monotone: no turning point
    noisy = series + np.random.default_rng(0).normal(0, 5, 540)  # the 13-month mean keeps one peak a cycle
    assert [abs(a - b) <= 6 for a, b in zip(fc.cycle_peaks(noisy), [30, 162, 294, 426])] == [True] * 4
    np.testing.assert_allclose(fc.running_mean(np.arange(5.0), 3), [0.5, 1, 2, 3, 3.5])
    # a forecast that settles: amplitude 30 e^(-t/40). Its maxima come 10 months before the cosine's
    # (d/dt of e^(-t/40) cos(...) = 0 at tan(.) = -132 / (80 pi)); from the second cycle on they
    # stand less than 1 sunspot above the lows beside them, and a prominence of 1 drops them
    damped = 40 + 30 * np.exp(-t / 40) * np.cos(2 * np.pi * (t - 30) / 132)
    assert fc.cycle_peaks(damped) == [20, 152, 284, 416]
    assert fc.cycle_peaks(damped, min_prominence=1.0) == [20]


def test_future_forecast_metrics_on_a_fake_series():
    n = 2820  # 1749-01 .. 1983-12, as the dataset
    months = np.array([fc.month_name(fc.month_index("1749-01") + i) for i in range(n)])
    d = {"months": months, "series": np.linspace(-1, 1, n), "std": 2.0, "mean": 10.0,
         "x_train": torch.zeros(3, 100, 1)}
    f = rnnf.future_forecast(LastValue(), d, "2028-12")
    m = rnnf.future_metrics(f)
    assert (m["forecast_start"], m["forecast_end"], m["forecast_months"]) == ("1984-01", "2028-12", 540)
    # the last value (1 normalised = 12 sunspots) repeated: the model and the naive forecast agree, flat
    assert m["naive_forecast_value"] == 12.0 and m["naive_forecast_flat"] is True
    assert m["forecast_peak_value"] == pytest.approx(12.0) and m["forecast_cycle_peak_count"] == 0
    assert m["forecast_last_11y_range"] == pytest.approx(0.0) and "flat" in m["forecast_note"]


# -- 7(a): the forecaster's new settings ------------------------------------------------------------

def test_dropout_zero_is_the_model_without_the_option():
    torch.manual_seed(0)
    plain = RNNForecaster("lstm", 8, ADAM)
    torch.manual_seed(0)
    zero = RNNForecaster("lstm", 8, ADAM, dropout=0.0)
    torch.manual_seed(0)
    with_dropout = RNNForecaster("lstm", 8, ADAM, dropout=0.5)
    assert zero.dropout is None  # no module: no random draws in training either
    for other in (zero, with_dropout):  # a Dropout layer has no weights and draws none at init
        assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), other.state_dict().values()))
    x = torch.randn(16, 20, 1)
    plain.eval(), with_dropout.eval()
    assert torch.equal(plain(x), with_dropout(x))  # evaluation: dropout off
    with_dropout.train()
    assert not torch.equal(plain(x), with_dropout(x))


def test_validation_split_holds_out_the_last_training_windows():
    x, y = torch.arange(200.0).reshape(20, 10, 1), torch.arange(20.0)
    (xt, yt), (xv, yv) = rnnf.split_validation(x, y, 0.1)
    assert yt.tolist() == list(range(18)) and yv.tolist() == [18.0, 19.0] and len(xv) == 2
    assert rnnf.split_validation(x, y, None) == ((x, y), None)
    with pytest.raises(ValueError, match="leaves no training"):
        rnnf.split_validation(x, y, 0.999)


def test_comparison_says_which_settings_beat_the_baseline():
    rows = [{"variant": "a0", "setting": "a", "overrides": {}, "seed": 0, "test_mae": 0.38, "naive_test_mae": 0.40},
            {"variant": "a1", "setting": "a", "overrides": {}, "seed": 1, "test_mae": 0.39, "naive_test_mae": 0.40},
            {"variant": "b0", "setting": "b", "overrides": {}, "seed": 0, "test_mae": 0.41, "naive_test_mae": 0.40},
            {"variant": "b1", "setting": "b", "overrides": {}, "seed": 1, "test_mae": 0.39, "naive_test_mae": 0.40},
            {"variant": "c0", "setting": "c", "overrides": {}, "seed": 0, "test_mae": 0.45, "naive_test_mae": 0.40},
            {"variant": "c1", "setting": "c", "overrides": {}, "seed": 1, "test_mae": 0.40, "naive_test_mae": 0.40}]
    for r in rows:
        r["wall_seconds"] = None
    groups = cmp_runner.groups_of(rows, "test_mae", None)
    cmp_runner.mark_baseline(groups, rows, "test_mae", "naive_test_mae", "min")
    assert [(g["beats_baseline"], g["baseline_runs"]) for g in groups] == [(2, 2), (1, 2), (0, 2)]  # 0.40: a tie loses
    best = cmp_runner.judge(groups, "min")
    c = SimpleNamespace(compare={"metric": "test_mae", "goal": "min", "baseline": "naive_test_mae"})
    text = cmp_runner.answer(c, groups, best)
    assert "Against the baseline naive_test_mae (mean 0.4): better in every run: a (2/2); " \
           "in some runs: b (1/2); in no run: c (0/2)." in text
    groups[0]["beats_baseline"] = 1  # none better in every run ("no setting": a setting may be called "none")
    assert "better in every run: no setting;" in cmp_runner.answer(c, groups, best)


# -- 10: double descent --------------------------------------------------------------------------

def test_double_descent_peaks_at_the_interpolation_threshold():
    # a noisy linear teacher in 20 dimensions, 60 training points: the min-norm random-feature
    # curve must peak near width 60 and fit the training set exactly beyond it
    g = torch.Generator().manual_seed(0)
    n, d = 60, 20
    x, xt = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(500, d, generator=g, dtype=torch.float64)
    w = torch.randn(d, 1, generator=g, dtype=torch.float64)
    y = x @ w + 0.5 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    yt = xt @ w
    widths = [5, 10, 20, 30, 40, 50, 55, 60, 65, 70, 80, 100, 150, 300, 1000]
    rows = rf.sweep(x, y, xt, yt, widths, seed=0, trials=3)
    s = dd.curve_summary(rows, n)
    assert n / 1.5 <= s["peak_width"] <= 1.5 * n
    assert s["max_train_mse_past_threshold"] < 1e-12           # interpolation: zero training error
    assert s["largest_width_test_mse"] < s["peak_test_mse"] / 5  # the second descent
    # a ridge penalty removes the peak: its largest test error is far below the min-norm peak
    ridged = rf.sweep(x, y, xt, yt, widths, seed=0, trials=3, ridge=1e-2)
    assert max(r["test_mse"] for r in ridged) < s["peak_test_mse"] / 5
    # both curves from one SVD per width: the same numbers
    assert rf.sweep_ridges(x, y, xt, yt, widths, seed=0, trials=3, ridges=[0.0, 1e-2]) == {0.0: rows, 1e-2: ridged}


def test_readout_is_least_squares_below_and_min_norm_above_the_threshold():
    g = torch.Generator().manual_seed(1)
    tall, y = torch.randn(30, 5, generator=g, dtype=torch.float64), torch.randn(30, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(rf.readout(tall, y), torch.linalg.lstsq(tall, y).solution)
    wide, y2 = torch.randn(5, 30, generator=g, dtype=torch.float64), torch.randn(5, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(rf.readout(wide, y2), torch.linalg.pinv(wide) @ y2)
    lam = 0.1  # ridge: (Phi^T Phi + n lam I)^-1 Phi^T y
    expected = torch.linalg.solve(tall.T @ tall + 30 * lam * torch.eye(5, dtype=torch.float64), tall.T @ y)
    torch.testing.assert_close(rf.readout(tall, y, lam), expected)


def test_nested_widths_rescale_the_widest_features():
    x = torch.randn(7, 4, dtype=torch.float64)
    w = rf.draw_weights(4, 50, seed=3)
    torch.testing.assert_close(rf.features(x, w[:, :10]), rf.features(x, w)[:, :10] * (50 / 10) ** 0.5)


def test_chapter_model_parameter_counts_match_the_modules():
    from dllaunchpad.models.cnn_classifier import CNNClassifier
    from dllaunchpad.models.mlp_classifier import MLPClassifier

    def count(m):
        return sum(p.numel() for p in m.parameters())

    counts = {name: p for name, _, p, _ in dd.CHAPTER_MODELS}
    assert counts["mnist_mlp"] == count(MLPClassifier(784, [256, 128], 10, ADAM)) == 235146
    assert counts["mnist_dropout"] == 717010  # mnist_dropout's page reports 717010 parameters
    assert counts["iris_mlp"] == count(MLPClassifier(4, [4, 4], 3, ADAM))
    assert counts["mnist_cnn"] == count(CNNClassifier(1, 28, [32, 64], [True, False], [32], 10, ADAM, kernel_size=3))
    assert counts["sunspots_lstm"] == count(RNNForecaster("lstm", 5, ADAM)) == 166
    assert counts["sunspots_tuned"] == count(RNNForecaster("lstm", 32, ADAM))
    assert dd.recurrent_params(3, 1, 5) + 6 == count(RNNForecaster("gru", 5, ADAM)) == 126  # sunspots_gru's page
