"""Iris (chapter 31.8.2): seeded row permutation, species -> class index, 120/30 split.

Output ``iris.npz``: ``x_train`` float32 (120, 4), ``y_train`` int64, ``x_test`` float32 (30, 4),
``y_test`` int64, ``classes`` (species names, index = class id), ``feature_names``,
``permutation`` (row order of the original file that the rows above follow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dllaunchpad.datasets._common import load_npz, params, require, save_npz

RAW_FILE = "iris.csv"
DEFAULTS = {"permutation_seed": 2018, "train_rows": 120}


def prepare(raw_dir: Path, out_dir: Path, pp: dict) -> dict:
    import pandas as pd

    pp = params(pp, DEFAULTS, "iris")
    df = pd.read_csv(require(Path(raw_dir) / RAW_FILE, "iris"))
    # Class ids by first appearance in the original file, like the chapter's iris.species.unique().
    classes = df["species"].unique()
    y = pd.Categorical(df["species"], categories=classes).codes.astype(np.int64)
    features = [c for c in df.columns if c != "species"]
    x = df[features].to_numpy(np.float32)
    # The chapter seeds the global generator (np.random.seed(2018); np.random.permutation(index));
    # a private RandomState with the same seed draws the same permutation without global state.
    perm = np.random.RandomState(int(pp["permutation_seed"])).permutation(len(df))
    x, y = x[perm], y[perm]
    # The chapter slices x[0:trainCount-1], i.e. 119 training rows (an off-by-one that also drops
    # row 120 from both sets); our spec takes all first `train_rows` (120) rows for training.
    n = int(pp["train_rows"])

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_npz(out_dir / "iris.npz", x_train=x[:n], y_train=y[:n], x_test=x[n:], y_test=y[n:],
             classes=np.asarray(classes, str), feature_names=np.asarray(features, str),
             permutation=perm.astype(np.int64))
    return {"params": pp, "train_rows": n, "test_rows": len(df) - n, "classes": [str(c) for c in classes],
            "train_class_counts": np.bincount(y[:n], minlength=len(classes)).tolist()}


def load(processed_dir: Path) -> dict[str, np.ndarray]:
    """All arrays of ``iris.npz`` (see the module docstring for the keys)."""
    return load_npz(Path(processed_dir) / "iris.npz")


def resplit(d: dict, test_fraction: float | None = None, seed: int | None = None) -> dict[str, np.ndarray]:
    """Another train/test split of the prepared rows (exercise 31.9.4a): x_train/y_train/x_test/
    y_test from all 150 rows in the prepared (permuted) order, the last round(150 * test_fraction)
    rows held out. `seed` first permutes the rows again (so seed repeats also vary which rows are
    held out); None keeps the prepared order. test_fraction None keeps the prepared test size, so
    `resplit(d)` returns the prepared arrays unchanged (and so does test_fraction 0.2 with 120/30)."""
    x = np.concatenate([d["x_train"], d["x_test"]])
    y = np.concatenate([d["y_train"], d["y_test"]])
    n_test = len(d["x_test"]) if test_fraction is None else int(round(len(x) * float(test_fraction)))
    if not 0 < n_test < len(x):
        raise ValueError(f"iris: test_fraction {test_fraction} leaves {n_test} of {len(x)} rows for testing")
    if seed is not None:
        order = np.random.default_rng(int(seed)).permutation(len(x))
        x, y = x[order], y[order]
    n_train = len(x) - n_test
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:]}
