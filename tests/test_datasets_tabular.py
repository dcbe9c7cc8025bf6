"""Sunspots, Boston and Iris preparation against the real mirror files and the README's values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dllaunchpad import datasets
from dllaunchpad.datasets import boston, iris, sunspots


@pytest.fixture
def sun(mirror, tmp_path):
    raw = mirror("sunspots")
    summary = datasets.prepare("sunspots", raw, tmp_path / "sunspots", {"input_length": 100, "train_fraction": 0.8})
    return raw, summary, sunspots.load(tmp_path / "sunspots")


def test_sunspots_statistics(sun):
    _, summary, d = sun
    assert summary["split_index"] == d["split_index"] == 2256
    assert d["mean"] == pytest.approx(44.66458333333333, rel=1e-14)
    assert d["std"] == pytest.approx(37.221191304582106, rel=1e-14)
    assert d["series"].dtype == np.float64 and d["series"].shape == (2820,)
    assert d["series"][100] == pytest.approx(-0.17636682500608733, rel=1e-12)
    assert d["series"][:2256].mean() == pytest.approx(0, abs=1e-12)
    assert list(d["months"][[0, -1]]) == ["1749-01", "1983-12"]


def test_sunspots_windows_match_chapter_nn_data(sun):
    raw, summary, d = sun
    assert (summary["train_windows"], summary["test_windows"]) == (2156, 464)
    assert d["x_train"].shape == (2156, 100, 1) and d["x_test"].shape == (464, 100, 1)
    assert d["x_train"].dtype == d["y_train"].dtype == np.float32
    # Literal loop version of the chapter's nn_data, recomputed from the raw CSV.
    seq = pd.read_csv(raw / "monthly-sunspots.csv")["Sunspots"]
    norm = np.array((seq - seq[:2256].mean()) / seq[:2256].std())
    for (x, y), (start, end) in [((d["x_train"], d["y_train"]), (0, 2256)),
                                 ((d["x_test"], d["y_test"]), (2256, len(norm)))]:
        ref_x = np.array([norm[i - 100:i].reshape(100, 1) for i in range(start + 100, end)])
        ref_y = np.array([norm[i] for i in range(start + 100, end)])
        np.testing.assert_array_equal(x, ref_x.astype(np.float32))
        np.testing.assert_array_equal(y, ref_y.astype(np.float32))


@pytest.fixture
def bos(mirror, tmp_path):
    summary = datasets.prepare("boston", mirror("boston"), tmp_path / "boston",
                               {"split_seed": 113, "test_split": 0.2, "folds": 4})
    return summary, boston.load(tmp_path / "boston")


def test_boston_keras_split(bos):
    _, d = bos
    assert d["x_train"].shape == (404, 13) and d["x_test"].shape == (102, 13)
    np.testing.assert_array_equal(d["y_train"][:8], [15.2, 42.3, 50.0, 21.1, 17.7, 18.5, 11.3, 15.6])
    np.testing.assert_array_equal(d["x_train_raw"][0], [1.23247, 0, 8.14, 0, 0.538, 6.142, 91.7, 3.9769,
                                                        4, 307, 21, 396.9, 18.72])


def test_boston_normalisation_and_folds(bos):
    summary, d = bos
    np.testing.assert_allclose(d["x_train"].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d["x_train"].std(axis=0), 1, rtol=1e-12)  # ddof=0, as the chapter
    np.testing.assert_allclose(d["mean"], d["x_train_raw"].mean(axis=0))
    np.testing.assert_allclose(d["x_test"], (d["x_test_raw"] - d["mean"]) / d["std"])
    assert summary["fold_sizes"] == np.bincount(d["fold"]).tolist() == [101, 101, 101, 101]
    assert (np.diff(d["fold"]) >= 0).all()  # contiguous, like np.array_split
    for k, chunk in enumerate(np.array_split(d["x_train"], 4)):
        np.testing.assert_array_equal(d["x_train"][d["fold"] == k], chunk)


@pytest.fixture
def iri(mirror, tmp_path):
    raw = mirror("iris")
    summary = datasets.prepare("iris", raw, tmp_path / "iris", {"permutation_seed": 2018, "train_rows": 120})
    return raw, summary, iris.load(tmp_path / "iris")


def test_iris_permutation_equals_chapter_global_seed(iri):
    raw, _, d = iri
    df = pd.read_csv(raw / "iris.csv")
    state = np.random.get_state()
    try:  # the chapter's own calls, on the global generator (restored afterwards)
        np.random.seed(2018)
        chapter = df.reindex(np.random.permutation(df.index))
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(d["permutation"], chapter.index.to_numpy())
    x = chapter.drop("species", axis=1).to_numpy(np.float32)
    np.testing.assert_array_equal(np.concatenate([d["x_train"], d["x_test"]]), x)


def test_iris_classes_and_split(iri):
    raw, summary, d = iri
    assert list(d["classes"]) == ["setosa", "versicolor", "virginica"]
    assert list(d["feature_names"]) == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert d["x_train"].shape == (120, 4) and d["x_test"].shape == (30, 4)  # 120, not the chapter's 119
    assert d["x_train"].dtype == np.float32 and d["y_train"].dtype == np.int64
    species = pd.read_csv(raw / "iris.csv")["species"].to_numpy()[d["permutation"]]
    np.testing.assert_array_equal(d["classes"][np.concatenate([d["y_train"], d["y_test"]])], species)
    assert sum(summary["train_class_counts"]) == 120
