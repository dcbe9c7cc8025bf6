"""Small tabular datasets that ship inside scikit-learn: nothing to download (exercises 31.9.4c
and 31.9.5b, "choose your own dataset").

scikit-learn (BSD-3-Clause) carries these tables in its wheel (sklearn/datasets/data/), so they
are there offline wherever the package is installed, and no fetch/preprocess stage is needed:
the family that uses them (experiments/bundled_tabular.py) reads them here, in its evaluate
stage. Which data, and under which terms:

- ``wine``: UCI Wine recognition data (Forina et al.; Aeberhard, Coomans & de Vel 1992): 178
  wines from three cultivars, 13 chemical measurements. UCI ML Repository, CC BY 4.0.
- ``breast_cancer``: UCI Breast Cancer Wisconsin (Diagnostic) data (Wolberg, Street &
  Mangasarian 1995): 569 tumours, 30 features of cell nuclei, malignant / benign. UCI ML
  Repository, CC BY 4.0.
- ``diabetes``: the diabetes data of Efron, Hastie, Johnstone & Tibshirani, "Least Angle
  Regression" (Annals of Statistics 2004): 442 patients, 10 baseline variables, a measure of
  disease progression one year later (a regression target, 25-346). Distributed with
  scikit-learn; the original publication states no separate licence. We read the raw values
  (``scaled=False``), not scikit-learn's pre-scaled copy, and standardise them ourselves from the
  training rows.

`load(name)` returns the arrays; `split(...)` a seeded train/test split and training-row
standardisation, the chapter's Boston recipe (31.8.3: statistics of the training rows only).
"""

from __future__ import annotations

import numpy as np

# name -> (scikit-learn loader, task, licence / source in a few words)
TABLES = {
    "wine": ("load_wine", "classification", "UCI Wine recognition data, CC BY 4.0 (shipped in scikit-learn)"),
    "breast_cancer": ("load_breast_cancer", "classification",
                      "UCI Breast Cancer Wisconsin (Diagnostic), CC BY 4.0 (shipped in scikit-learn)"),
    "diabetes": ("load_diabetes", "regression",
                 "Efron et al. 2004 diabetes data, distributed with scikit-learn (BSD-3-Clause package)"),
}


def names() -> list[str]:
    return sorted(TABLES)


def task(name: str) -> str:
    """classification or regression."""
    return _entry(name)[1]


def source(name: str) -> str:
    return _entry(name)[2]


def _entry(name: str):
    if name not in TABLES:
        raise ValueError(f"bundled dataset {name!r} unknown (known: {names()})")
    return TABLES[name]


def load(name: str) -> dict:
    """{x float64 (N, F), y (int64 classes or float64 targets), feature_names, classes (class
    names; None for regression), task, source}."""
    from sklearn import datasets as skd  # imported here: only these exercises need it

    loader, kind, where = _entry(name)
    kwargs = {"scaled": False} if name == "diabetes" else {}
    bunch = getattr(skd, loader)(**kwargs)
    x = np.asarray(bunch.data, dtype=np.float64)
    if kind == "classification":
        y = np.asarray(bunch.target, dtype=np.int64)
        classes = [str(c) for c in bunch.target_names]
    else:
        y = np.asarray(bunch.target, dtype=np.float64)
        classes = None
    return {"x": x, "y": y, "feature_names": [str(f) for f in bunch.feature_names], "classes": classes,
            "task": kind, "source": where}


def split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, standardize: bool = True) -> dict:
    """Rows permuted with `seed`, the last round(N * test_fraction) held out; features centred and
    scaled by the training rows' mean and (ddof 0) std when `standardize` (constant features are
    left unscaled). Returns x_train, y_train, x_test, y_test, mean, std (float32 x)."""
    n_test = int(round(len(x) * float(test_fraction)))
    if not 0 < n_test < len(x):
        raise ValueError(f"test_fraction {test_fraction} leaves {n_test} of {len(x)} rows for testing")
    order = np.random.default_rng(int(seed)).permutation(len(x))
    x, y = x[order], y[order]
    n_train = len(x) - n_test
    x_train, x_test = x[:n_train], x[n_train:]
    mean = x_train.mean(axis=0) if standardize else np.zeros(x.shape[1])
    std = x_train.std(axis=0) if standardize else np.ones(x.shape[1])
    std = np.where(std > 0, std, 1.0)
    return {"x_train": ((x_train - mean) / std).astype(np.float32), "y_train": y[:n_train],
            "x_test": ((x_test - mean) / std).astype(np.float32), "y_test": y[n_train:],
            "mean": mean, "std": std}
