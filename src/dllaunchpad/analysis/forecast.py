"""Recursive (multi-step) forecasts of a monthly series, and the peaks of the result.

Exercise 31.9.7 asks for the sunspot predictions from January 1984 to December 2028, 45 years
past the data's last month. A one-step-ahead model only knows "the next month given the last L
months", so the forecast is built recursively: predict the next month, append the prediction to
the input window (dropping its oldest month), predict again. After L steps the model reads only
its own predictions.

- `months_after(last, until)`: the "YYYY-MM" months after `last` up to `until` (both included
  ends of the forecast: 1983-12 -> 1984-01 .. 2028-12 is 540 months).
- `recursive_forecast(predict, history, steps)`: the recursion; `predict` maps an (N, L, 1)
  float32 tensor to (N,) predictions (any module of the rnn_forecaster family).
- `cycle_peaks(values, ...)`: the maxima of the solar cycles in a forecast, from the 13-month
  running mean (the usual smoothing for sunspot-cycle maxima) and a +-66-month window (half the
  ~11-year cycle), so that one cycle gives one peak and a flat forecast gives none; a minimum
  prominence drops the ripples of a forecast that has settled down.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def month_index(month: str) -> int:
    """"1983-12" -> 1983 * 12 + 11: consecutive months are consecutive integers."""
    year, mon = month.split("-")
    if not 1 <= int(mon) <= 12:
        raise ValueError(f"{month!r}: not a YYYY-MM month")
    return int(year) * 12 + int(mon) - 1


def month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_after(last: str, until: str) -> list[str]:
    """The months after `last` up to and including `until`."""
    start, end = month_index(last) + 1, month_index(until)
    if end < start:
        raise ValueError(f"forecast_until {until!r} is not after the last observed month {last!r}")
    return [month_name(i) for i in range(start, end + 1)]


def decimal_year(month: str) -> float:
    """"1984-01" -> 1984.0, "1984-07" -> 1984.5: the x axis of the plots."""
    i = month_index(month)
    return i // 12 + (i % 12) / 12


def recursive_forecast(predict: Callable, history: np.ndarray, steps: int, input_length: int) -> np.ndarray:
    """`steps` predictions, each fed back as the newest input month (see the module docstring).

    history: the observed (normalised) series; its last `input_length` values start the window.
    """
    import torch

    if len(history) < input_length:
        raise ValueError(f"history has {len(history)} values, the window needs {input_length}")
    window = torch.as_tensor(np.asarray(history[-input_length:], dtype=np.float32)).reshape(1, input_length, 1)
    out = np.empty(steps, dtype=np.float64)
    with torch.no_grad():
        for t in range(steps):
            y = predict(window).reshape(1, 1, 1).to(window.dtype)
            out[t] = float(y)
            window = torch.cat([window[:, 1:], y], dim=1)
    return out


def running_mean(values: np.ndarray, width: int = 13) -> np.ndarray:
    """Centred running mean over `width` months; near the ends, over the months that exist."""
    values = np.asarray(values, dtype=np.float64)
    half = width // 2
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(len(values))
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, len(values))
    return (csum[hi] - csum[lo]) / (hi - lo)


def cycle_peaks(values: np.ndarray, smooth: int = 13, half_span: int = 66, min_prominence: float = 0.0) -> list[int]:
    """Indices of the cycle maxima: months whose smoothed value is the largest within +-half_span
    months, rises into the month (strictly) and is not at either end of the series (a series that
    starts or ends going down or up has no turning point there). A constant series has none.

    min_prominence: a maximum must stand this much above the higher of the lowest smoothed values
    on its two sides (within the window), so that the ripples of a forecast that has settled on a
    constant do not count as cycles."""
    s = running_mean(values, smooth)
    # differences below rounding (the running mean of a constant series wobbles in its last bits)
    # are no rise
    tol = 1e-9 * max(1.0, float(np.abs(s).max(initial=0.0)))
    peaks = []
    for i in range(1, len(s) - 1):
        lo, hi = max(0, i - half_span), min(len(s), i + half_span + 1)
        if s[i] > s[i - 1] + tol and s[i] >= s[i + 1] - tol and s[i] >= s[lo:hi].max() - tol:
            if s[i] - max(s[lo:i].min(), s[i + 1:hi].min()) >= min_prominence:
                peaks.append(i)
    return peaks
