"""Boston housing (chapter 31.8.3): Keras' train/test split, train-set normalisation, k folds.

Output ``boston.npz``: ``x_train`` (404, 13) / ``x_test`` (102, 13) normalised float64,
``x_train_raw`` / ``x_test_raw`` (before normalisation), ``y_train`` / ``y_test`` float64 (median
value, k$), ``mean`` / ``std`` (13,) from the training rows, ``fold`` int64 (404,): the
cross-validation fold of each training row (contiguous, like the chapter's np.array_split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dllaunchpad.datasets._common import load_npz, params, require, save_npz

RAW_FILE = "boston_housing.npz"
DEFAULTS = {"split_seed": 113, "test_split": 0.2, "folds": 4}


def keras_split(x: np.ndarray, y: np.ndarray, seed: int, test_split: float):
    """Exactly ``keras.datasets.boston_housing.load_data(seed=seed, test_split=test_split)``."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    n_train = int(len(x) * (1 - test_split))
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def fold_ids(n: int, k: int) -> np.ndarray:
    """Fold id per row, matching the chunks of ``np.array_split(rows, k)``."""
    return np.concatenate([np.full(len(c), i, np.int64) for i, c in enumerate(np.array_split(np.arange(n), k))])


def prepare(raw_dir: Path, out_dir: Path, pp: dict) -> dict:
    pp = params(pp, DEFAULTS, "boston")
    with np.load(require(Path(raw_dir) / RAW_FILE, "boston"), allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    x_train_raw, y_train, x_test_raw, y_test = keras_split(x, y, int(pp["split_seed"]), float(pp["test_split"]))
    # As the chapter: mean of the training rows, then the (ddof=0) std of the centred training rows.
    mean = x_train_raw.mean(axis=0)
    std = (x_train_raw - mean).std(axis=0)
    fold = fold_ids(len(x_train_raw), int(pp["folds"]))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_npz(out_dir / "boston.npz", x_train=(x_train_raw - mean) / std, y_train=y_train,
             x_test=(x_test_raw - mean) / std, y_test=y_test, x_train_raw=x_train_raw,
             x_test_raw=x_test_raw, mean=mean, std=std, fold=fold)
    return {"params": pp, "train_rows": len(y_train), "test_rows": len(y_test),
            "features": int(x.shape[1]), "fold_sizes": np.bincount(fold).tolist()}


def load(processed_dir: Path) -> dict[str, np.ndarray]:
    """All arrays of ``boston.npz`` (see the module docstring for the keys)."""
    return load_npz(Path(processed_dir) / "boston.npz")
