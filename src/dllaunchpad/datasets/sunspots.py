"""Monthly sunspots (chapter 31.8.5): normalised series and sliding windows for forecasting.

Output ``windows.npz``: ``x_train``/``x_test`` float32 (n, input_length, 1), ``y_train``/``y_test``
float32 (n,) (the value right after each window), ``series`` (the whole normalised series,
float64), ``months`` ("YYYY-MM" strings), ``mean``, ``std``, ``split_index``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dllaunchpad.datasets._common import load_npz, params, require, save_npz

RAW_FILE = "monthly-sunspots.csv"
DEFAULTS = {"input_length": 100, "train_fraction": 0.8}


def windows(data: np.ndarray, start: int, end: int, input_length: int) -> tuple[np.ndarray, np.ndarray]:
    """The chapter's ``nn_data``: for each i in [start + input_length, end), x = data[i-L:i], y = data[i]."""
    idx = np.arange(start + input_length, end)
    view = np.lib.stride_tricks.sliding_window_view(data, input_length)  # view[j] = data[j:j+L]
    x = view[idx - input_length].astype(np.float32)[..., None]
    return x, data[idx].astype(np.float32)


def prepare(raw_dir: Path, out_dir: Path, pp: dict) -> dict:
    import pandas as pd

    pp = params(pp, DEFAULTS, "sunspots")
    df = pd.read_csv(require(Path(raw_dir) / RAW_FILE, "sunspots"))
    seq = df["Sunspots"].to_numpy(np.float64)
    n, L = len(seq), int(pp["input_length"])
    split_index = int(pp["train_fraction"] * n)
    # Statistics of the training part only; std with ddof=1 because the chapter uses pandas' .std().
    mean = float(seq[:split_index].mean())
    std = float(seq[:split_index].std(ddof=1))
    norm = (seq - mean) / std
    x_train, y_train = windows(norm, 0, split_index, L)
    x_test, y_test = windows(norm, split_index, n, L)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_npz(out_dir / "windows.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
             series=norm, months=df["Month"].to_numpy(str), mean=np.float64(mean),
             std=np.float64(std), split_index=np.int64(split_index))
    return {"params": pp, "n_months": n, "split_index": split_index, "mean": mean, "std": std,
            "train_windows": len(y_train), "test_windows": len(y_test),
            "first_month": str(df["Month"].iloc[0]), "last_month": str(df["Month"].iloc[-1])}


def load(processed_dir: Path) -> dict[str, np.ndarray]:
    """All arrays of ``windows.npz`` (see the module docstring for the keys)."""
    return load_npz(Path(processed_dir) / "windows.npz")
