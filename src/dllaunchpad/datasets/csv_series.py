"""One CSV time series (a local-folder dataset of kind csv_series): windows like sunspots'.

Input: the single ``.csv`` under ``raw_dir/series/`` (datasets/own_data.py copies it there), one
row per time step in time order. ``value_column`` names the series (null: the last numeric
column); ``time_column`` the labels of the steps (null: the first column when it is not numeric,
else the row numbers). Output ``windows.npz`` with the keys of sunspots' (so that the forecasting
family reads it unchanged): ``x_train``/``x_test`` float32 (n, input_length, 1),
``y_train``/``y_test`` float32 (n,), ``series`` (normalised, float64), ``months`` (the time
labels as strings; a monthly series written "YYYY-MM" plots like the sunspots), ``mean``,
``std``, ``split_index``. Normalisation uses the training part's mean and standard deviation
(ddof=1), as the chapter does for the sunspots.

A value that is missing or not a number is an error naming its line: a gap would silently join
two stretches of the series into one window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dllaunchpad.datasets._common import load_npz, params, save_npz
from dllaunchpad.datasets.sunspots import windows

RAW_FOLDER = "series"
DEFAULTS = {"input_length": 100, "train_fraction": 0.8, "value_column": None, "time_column": None}


def raw_csv(raw_dir: Path) -> Path:
    files = sorted(p for p in (Path(raw_dir) / RAW_FOLDER).rglob("*") if p.suffix.lower() == ".csv" and p.is_file())
    if len(files) != 1:
        raise FileNotFoundError(f"csv_series: expected one .csv under {Path(raw_dir) / RAW_FOLDER}, found "
                                f"{len(files)} (run the dataset's fetch step first)")
    return files[0]


def columns(df, value_column: str | None, time_column: str | None) -> tuple[str, str | None]:
    import pandas as pd

    names = [str(c) for c in df.columns]
    if value_column is None:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        if not numeric:
            raise ValueError(f"csv_series: no numeric column among {names}; set preprocess.value_column")
        value_column = str(numeric[-1])
    elif value_column not in names:
        raise ValueError(f"csv_series: value_column {value_column!r} is not a column; the columns are {names}")
    if time_column is None:
        first = df.columns[0]
        time_column = str(first) if str(first) != value_column and not pd.api.types.is_numeric_dtype(df[first]) else None
    elif time_column not in names:
        raise ValueError(f"csv_series: time_column {time_column!r} is not a column; the columns are {names}")
    return value_column, time_column


def prepare(raw_dir: Path, out_dir: Path, pp: dict) -> dict:
    import pandas as pd

    pp = params(pp, DEFAULTS, "csv_series")
    path = raw_csv(raw_dir)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"csv_series: {path.name} is not a readable CSV: {type(e).__name__}: {e}") from e
    df.columns = [str(c) for c in df.columns]
    value_column, time_column = columns(df, pp["value_column"], pp["time_column"])
    seq = pd.to_numeric(df[value_column], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(seq))
    if len(bad):
        lines = ", ".join(str(i + 2) for i in bad[:5])  # +1 for the header, +1 for 1-based lines
        raise ValueError(f"csv_series: {path.name}: column {value_column!r} has {len(bad)} missing or non-numeric "
                         f"value(s), first on line(s) {lines}; fill or remove them")
    n, L = len(seq), int(pp["input_length"])
    split_index = int(pp["train_fraction"] * n)
    if split_index <= L or n - split_index <= L:
        raise ValueError(f"csv_series: {n} rows are too few for input_length {L} with train_fraction "
                         f"{pp['train_fraction']}: both parts need more than {L} rows (train {split_index}, "
                         f"test {n - split_index})")
    mean = float(seq[:split_index].mean())
    std = float(seq[:split_index].std(ddof=1))
    if std == 0:
        raise ValueError(f"csv_series: column {value_column!r} is constant over the training part")
    norm = (seq - mean) / std
    x_train, y_train = windows(norm, 0, split_index, L)
    x_test, y_test = windows(norm, split_index, n, L)
    labels = df[time_column].astype(str).to_numpy(str) if time_column else np.arange(n).astype(str)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_npz(out_dir / "windows.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
             series=norm, months=labels, mean=np.float64(mean), std=np.float64(std),
             split_index=np.int64(split_index))
    return {"params": pp, "file": path.name, "value_column": value_column, "time_column": time_column,
            "n_steps": n, "split_index": split_index, "mean": mean, "std": std,
            "train_windows": len(y_train), "test_windows": len(y_test),
            "first_label": str(labels[0]), "last_label": str(labels[-1])}


def load(processed_dir: Path) -> dict[str, np.ndarray]:
    """All arrays of ``windows.npz`` (see the module docstring for the keys)."""
    return load_npz(Path(processed_dir) / "windows.npz")
