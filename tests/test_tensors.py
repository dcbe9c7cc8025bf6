"""The tensor products against the chapter's printed values (exactly) and against tensorly."""

from __future__ import annotations

import numpy as np
import pytest
import tensorly as tl
from tensorly import tenalg

from dllaunchpad.experiments import tensor_products as tp
from dllaunchpad.tensors import products as P


def test_values_match_the_chapter_exactly():
    results = tp.compute()
    for name, r in results.items():
        if name == "mode1_product":
            continue
        assert r["matches_chapter"], name
        assert np.array_equal(np.array(r["ours"]), np.array(tp.CHAPTER_PRINTED[name])), name


def test_worked_examples_by_hand():
    assert P.outer([1, 2], [3, 4, 5]).tolist() == [[3, 4, 5], [6, 8, 10]]
    assert P.kronecker([[1, 2], [3, 4]], [[0, 5], [6, 7]]).tolist() == [
        [0, 5, 0, 10], [6, 7, 12, 14], [0, 15, 0, 20], [18, 21, 24, 28]]
    assert P.khatri_rao(np.array([[1, 2], [3, 4]]), np.array([[5, 6], [7, 8]])).tolist() == [
        [5, 12], [7, 16], [15, 24], [21, 32]]
    assert P.hadamard([[1, 2], [3, 4]], [[5, 6], [7, 8]]).tolist() == [[5, 12], [21, 32]]
    assert P.contract(tp.T, tp.B_CONTRACT, [2], [0]).tolist() == [[[4, -1], [10, -1]], [[16, -1], [22, -1]]]


def test_mode1_print_comes_from_another_matrix():
    ours = P.mode_n_product_numpy_order(tp.T, tp.A_MODE1, 1)
    assert np.array_equal(ours, np.tensordot(tp.T, tp.A_MODE1, axes=([1], [1])))  # the chapter's code
    assert not np.array_equal(ours, np.array(tp.CHAPTER_PRINTED["mode1_product"]))
    printed = P.mode_n_product_numpy_order(tp.T, tp.A_MODE1_AS_PRINTED, 1)
    assert np.array_equal(printed, np.array(tp.CHAPTER_PRINTED["mode1_product"]))
    assert ours.shape == (2, 3, 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_tensorly(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    assert np.allclose(P.kronecker(a, b.T), tenalg.kronecker([a, b.T]))
    assert np.allclose(P.khatri_rao(a, b), tenalg.khatri_rao([a, b]))
    t = rng.normal(size=(2, 3, 4))
    for mode, rows in [(0, 5), (1, 6), (2, 7)]:
        m = rng.normal(size=(rows, t.shape[mode]))
        assert np.allclose(P.mode_n_product(t, m, mode), tenalg.mode_dot(tl.tensor(t), m, mode))
    x, y = rng.normal(size=(2, 3, 4)), rng.normal(size=(3, 4))
    assert np.allclose(P.contract(x, y, [1, 2], [0, 1]), np.tensordot(x, y, axes=([1, 2], [0, 1])))
    assert np.allclose(P.outer(a[0], b[0], a[1]), np.einsum("i,j,k->ijk", a[0], b[0], a[1]))


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="column counts"):
        P.khatri_rao(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="mode-1"):
        P.mode_n_product(np.ones((2, 3, 4)), np.ones((5, 4)), 1)
