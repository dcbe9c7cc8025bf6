"""Tensor decompositions (chapter 31.1.2-31.1.3): the chapter's shape examples, exact recovery of
tensors that have the rank asked for, the storage counts, and the experiment on real tensors."""

from __future__ import annotations

import numpy as np
import pytest

from dllaunchpad.experiments import tensor_decompositions as td
from dllaunchpad.tensors import decompositions as D


def test_chapter_cp_example_shapes():
    tensor = np.random.default_rng(0).random((4, 5, 5))
    weights, factors = D.cp(tensor, 2)
    assert [f.shape for f in factors] == [(4, 2), (5, 2), (5, 2)]   # the chapter's print
    assert weights.shape == (2,)
    _, factors = D.cp(tensor, 3)
    assert [f.shape for f in factors] == [(4, 3), (5, 3), (5, 3)]


def test_chapter_tucker_example_shapes():
    tensor = np.random.default_rng(0).random((4, 5, 5))
    core, factors = D.tucker(tensor, [2, 3, 3])
    assert core.shape == (2, 3, 3)                                    # the chapter's print
    assert [f.shape for f in factors] == [(4, 2), (5, 3), (5, 3)]


def test_chapter_examples_reported_as_metrics():
    shapes = td.chapter_examples(seed=0)
    assert shapes["chapter_cp_rank2_factor_shapes"] == "(4, 2) (5, 2) (5, 2)"
    assert shapes["chapter_tucker_core_shape"] == "(2, 3, 3)"


def _rank2_tensor():
    rng = np.random.default_rng(1)
    a, b, c = rng.random((6, 2)), rng.random((5, 2)), rng.random((4, 2))
    return np.einsum("ir,jr,kr->ijk", a, b, c)


def test_cp_recovers_a_rank_two_tensor_exactly():
    t = _rank2_tensor()
    approx = D.approximate(t, "cp", 2, n_iter_max=500)
    assert approx.relative_error < 1e-6
    assert D.approximate(t, "cp", 1).relative_error > 1e-3   # one component is not enough


def test_tucker_and_tt_are_exact_at_full_rank():
    t = np.random.default_rng(2).random((6, 5, 4))
    assert D.relative_error(t, D.tucker_reconstruct(*D.tucker(t, [6, 5, 4]))) < 1e-10
    cores = D.tensor_train(t, D.max_tt_ranks(t.shape))
    assert [c.shape for c in cores] == [(1, 6, 6), (6, 5, 4), (4, 4, 1)]
    assert D.relative_error(t, D.tt_reconstruct(cores)) < 1e-10


def test_storage_counts_and_compression_ratio():
    shape = (10, 28, 28)
    assert D.cp_size(shape, 3) == 3 * (10 + 28 + 28) + 3
    assert D.tucker_size(shape, [2, 3, 4]) == 2 * 3 * 4 + 10 * 2 + 28 * 3 + 28 * 4
    assert D.tt_ranks(shape, 50) == [1, 10, 28, 1]                  # capped by the unfoldings
    assert D.tt_size(shape, [1, 10, 28, 1]) == 10 * 10 + 10 * 28 * 28 + 28 * 28
    t = np.random.default_rng(3).random(shape)
    a = D.approximate(t, "tucker", 4)
    assert a.ranks == (4, 4, 4)
    assert a.compression_ratio == pytest.approx(t.size / D.tucker_size(shape, [4, 4, 4]))


def test_error_falls_with_rank():
    t = np.random.default_rng(4).random((8, 7, 6))
    for method in D.METHODS:
        errors = [D.approximate(t, method, r).relative_error for r in (1, 3, 6)]
        assert errors[0] > errors[1] > errors[2], method


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown decomposition method 'svd'"):
        D.approximate(np.ones((2, 2, 2)), "svd", 1)
    with pytest.raises(ValueError, match="Tucker ranks"):
        D.tucker(np.ones((2, 3, 4)), [3, 3, 3])
    with pytest.raises(ValueError, match="NaN"):
        D.cp(np.full((2, 2), np.nan), 1)


def test_sunspot_tensor_from_the_prepared_series(mirror, tmp_path):
    from dllaunchpad.datasets import prepare
    from dllaunchpad.pipeline.registry import Experiment

    prepare("sunspots", mirror("sunspots"), tmp_path / "data/processed/sunspots", {})
    exp = Experiment.resolve("t", {"family": "tensor_decompositions", "dataset": "sunspots",
                                   "data": {"tensor": "sunspot_cycles", "period_years": 11}}, {"seed": 0}, tmp_path)
    t, modes = td.build_tensor(exp)
    assert t.shape == (21, 11, 12) and modes.startswith("cycle")
    assert t[0, 0, 0] == pytest.approx(58.0)     # January 1749 in the raw CSV
    assert t.min() >= 0                          # sunspot numbers, back from the normalised series
