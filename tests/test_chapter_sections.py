"""The rest of the chapter's sections: 31.1.1's product rules (tensor_identities), 31.2's linear
regions (linear_regions), 31.5.1-31.5.3's convolution (convolution_mechanics, and the trained
CNN's first layer on mnist_cnn's page), 31.3.1's elastic-net weighting, and the data figures of
31.5.4 / 31.8.4 / 31.8.5. Everything at toy size: seconds per test."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.pipeline.config import load_params, read_params
from dllaunchpad.runners.evaluate import evaluate
from dllaunchpad.runners.train import train

from supervised_data import experiment, one_thread, prepare_from_mirror, write_rps_zips, write_synthetic_mnist


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def params():
    from conftest import REPO

    return load_params(read_params(REPO / "params.yaml"), scale="full")


@pytest.fixture(scope="module")
def quick_params():
    from conftest import REPO

    return load_params(read_params(REPO / "params.yaml"), scale="quick")


# -- 31.1.1: Kronecker and Hadamard rules ----------------------------------------------------

def test_product_rules_hold_exactly_on_integers_and_to_rounding_on_floats():
    from dllaunchpad.experiments import tensor_products as tp

    checks = tp.identity_checks(np.random.default_rng(0), trials=40, max_dim=4, low=-5, high=5)
    for name in tp.IDENTITIES:
        r = checks["results"][name]
        assert r["int_max_abs_error"] == 0 and r["holds_in_every_trial"], name
        # float64 products of O(1) numbers, at most 4 x 4 sums: a few ulps of values below ~100
        assert r["float_max_abs_error"] < 1e-12, name
    # Elementwise a*b = b*a and the transpose only moves entries: exact even in floating point.
    assert checks["results"]["kronecker_transpose"]["float_max_abs_error"] == 0
    assert checks["results"]["hadamard_commutative"]["float_max_abs_error"] == 0
    # The chapter's "not necessarily commutative": most random draws are counterexamples.
    for name in tp.NON_IDENTITIES:
        assert checks["results"][name]["int_trials_differing"] > 10, name


def test_mixed_product_rule_on_the_chapters_matrices():
    from dllaunchpad.experiments import tensor_products as tp
    from dllaunchpad.tensors import products as P

    C, D = np.array([[2, 0], [1, 1]]), np.array([[1, -1], [0, 3]])
    m = {"A": tp.KA, "B": tp.KB, "C": C, "D": D, "H1": tp.RA, "H2": tp.RB, "H3": C, "E": tp.RB}
    left, right = tp.identity_sides("kronecker_mixed_product", m)
    assert np.array_equal(left, right) and left.shape == (4, 4)
    # A C = [[4, 2], [10, 4]], B D = [[0, 15], [6, 15]]: the top-left block of (AC) x (BD) is 4 * BD.
    assert np.array_equal(right[:2, :2], 4 * (tp.KB @ D))
    assert not np.array_equal(P.kronecker(tp.KA, tp.KB), P.kronecker(tp.KB, tp.KA))


def test_tensor_identities_entry_and_unchanged_products(quick_params, tmp_path):
    from dllaunchpad.pipeline.registry import Experiment

    reg = quick_params["experiments"]
    m = evaluate(Experiment.resolve("tensor_identities", reg["tensor_identities"], quick_params, tmp_path))
    assert m["chapter_section"] == "31.1.1" and m["identities_checked"] == m["identities_holding"] == 5
    assert m["trials"] == 50 and m["kronecker_mixed_product_max_abs_error"] == 0
    assert m["kronecker_commutative_counterexamples"] > 0
    figures = tmp_path / "reports/figures/tensor_identities"
    assert {p.name for p in figures.glob("*.png")} == {"identities.png", "identity_examples.png"}
    saved = json.loads((figures / "identities.json").read_text())
    assert len(saved["example"]["A"]) == 2  # the drawn example is 2 x 2
    # tensor_products (31.1.3) keeps exactly its metric keys: no identity keys leak into it.
    p = evaluate(Experiment.resolve("tensor_products", reg["tensor_products"], quick_params, tmp_path))
    products = ["outer_ab", "outer_abc", "outer_abc_matlab_slices", "kronecker_AB", "kronecker_BA", "khatri_rao_AB",
                "khatri_rao_BA", "hadamard", "mode1_product", "mode2_product", "contraction"]
    assert set(p) == {f"{n}_matches_chapter" for n in products} | {
        "products", "products_matching_chapter", "chapter_section", "computed_on"}


# -- 31.2: linear regions ------------------------------------------------------------------

def _one_layer(lines: list[tuple[float, float, float]]) -> nn.Sequential:
    """Hidden unit i is on where a x + b y + c > 0: its boundary is the line a x + b y + c = 0."""
    net = nn.Sequential(nn.Linear(2, len(lines)), nn.ReLU(), nn.Linear(len(lines), 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[a, b] for a, b, _ in lines]))
        net[0].bias.copy_(torch.tensor([c for *_, c in lines]))
    return net


def test_region_count_by_hand():
    from dllaunchpad.analysis import linear_regions as LR

    # 200 points per side: no grid point lies exactly on one of the lines below (a point on a
    # line shared by two units of opposite sign would be a pattern of its own, of measure zero).

    # x = 0, y = 0 and x + y = 0.5 meet pairwise inside [-1, 1]^2, in three different points:
    # three lines in general position make 1 + 3 + 3 = 7 regions.
    assert LR.count_regions(_one_layer([(1, 0, 0), (0, 1, 0), (1, 1, -0.5)]), -1, 1, 200)["regions"] == 7
    # Two parallel lines (x = -0.5, x = 0.5): 3 bands. A line outside the square (x = 5) adds none.
    assert LR.count_regions(_one_layer([(1, 0, 0.5), (1, 0, -0.5)]), -1, 1, 200)["regions"] == 3
    assert LR.count_regions(_one_layer([(1, 0, 0.5), (1, 0, -0.5), (1, 0, -5)]), -1, 1, 200)["regions"] == 3
    # Depth folds: layer 1 = relu(x), relu(-x) (one line, x = 0); layer 2 = relu(|x| - 0.5) adds
    # x = -0.5 and x = 0.5 at once: 4 regions from 3 units, 2 of them after layer 1.
    deep = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1), nn.ReLU(), nn.Linear(1, 1))
    with torch.no_grad():
        deep[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        deep[0].bias.zero_()
        deep[2].weight.copy_(torch.tensor([[1.0, 1.0]]))
        deep[2].bias.fill_(-0.5)
    counted = LR.count_regions(deep, -1, 1, 200)
    assert counted["regions_by_depth"] == [2, 4]
    ids = counted["ids"]
    assert ids.shape == (200, 200) and (ids == ids[0]).all()  # vertical bands: every row the same


def test_region_bounds():
    from dllaunchpad.analysis import linear_regions as LR

    assert LR.chapter_count(10, 5) == 10 ** 5
    assert LR.shallow_units_needed(1, 10 ** 5) == 99_999          # the chapter's "10^5 nodes"
    assert LR.shallow_units_needed(2, 10 ** 5) == 447              # 1 + 447 + C(447, 2) = 100,129
    assert LR.shallow_max_regions(2, 446) < 10 ** 5
    assert LR.upper_bound(2, [10] * 5) == 56 ** 5                  # 1 + 10 + 45 per layer
    assert LR.upper_bound(2, [1, 10]) == 2 * 11                    # the 1-unit layer caps d at 1
    assert LR.montufar_lower_bound(2, 10, 5) == 5 ** 8 * 56
    assert LR.shallow_max_regions(2, 50) == 1276


def test_linear_regions_family(params, tmp_path):
    from dllaunchpad.analysis import linear_regions as LR
    from dllaunchpad.experiments import linear_regions as fam

    exp = experiment(params, "linear_regions", data={"train": 200, "test": 100}, trainer={"epochs": 3},
                     evaluate={"resolution": 80}).at(tmp_path)
    assert exp.spec["model"] == {"width": 10, "depth": 5}      # the chapter's 5 layers of 10
    info = train(exp, progress=False)
    m = evaluate(exp)
    assert info["epochs_run"] == 3
    # evaluate's untrained network is the one training started from: same count, rebuilt from the seed.
    start = fam.initial_module(exp)
    assert m["regions_init"] == LR.count_regions(start.net, -2, 2, 80)["regions"]
    for when in ("init", "trained"):
        by_depth = [m[f"regions_{when}_layers_{k}"] for k in range(1, 6)]
        assert by_depth == sorted(by_depth)                   # a pattern over more layers only splits
        assert by_depth[0] <= 56 and by_depth[-1] == m[f"regions_{when}"] <= m["upper_bound_2_inputs"]
    assert m["regions_trained"] < m["chapter_region_count"] == 100_000
    assert m["grid_points"] == 6400 and m["regions_trained_half_grid"] > 0
    figures = {p.name for p in (tmp_path / exp.figures_dir).glob("*.png")}
    assert figures == {"regions.png", "regions_by_depth.png", "history.png"}  # history.png: the learning curves


# -- 31.5.1-31.5.3: convolution ------------------------------------------------------------

def test_convolution_definitions_by_hand_and_against_libraries():
    from dllaunchpad.experiments.convolution_mechanics import torch_conv2d
    from dllaunchpad.tensors import convolution as C

    # s(i) = sum_m x(m) y(i - m): [1, 2, 3] * [0, 1, 0.5] = [0, 1, 2.5, 4, 1.5]
    assert C.conv1d_definition(np.array([1.0, 2, 3]), np.array([0, 1, 0.5])).tolist() == [0, 1, 2.5, 4, 1.5]
    rng = np.random.default_rng(3)
    x, y = rng.integers(-9, 10, 15), rng.integers(-9, 10, 4)
    assert np.array_equal(C.conv1d_definition(x, y), np.convolve(x, y))
    X, K = rng.integers(0, 256, (9, 7)).astype(float), rng.integers(-3, 4, (3, 2)).astype(float)
    conv = C.conv2d_definition(X, K)
    assert np.array_equal(conv, torch_conv2d(X, C.flip(K), padding=(2, 1)))      # flipped kernel, pad k - 1
    assert np.array_equal(conv, C.conv2d_definition(K, X))                        # X * K = K * X
    assert np.array_equal(C.xcorr2d_definition(X, K), torch_conv2d(X, K))         # torch's conv = xcorr
    assert not np.array_equal(conv, torch_conv2d(X, K, padding=(2, 1)))           # unflipped: different
    signal = pytest.importorskip("scipy.signal")
    assert np.array_equal(conv, signal.convolve2d(X, K, mode="full"))
    assert np.array_equal(C.xcorr2d_definition(X, K), signal.correlate2d(X, K, mode="valid"))


def test_output_size_formula_against_torch_on_the_whole_grid(params):
    from dllaunchpad.experiments.convolution_mechanics import output_size_grid
    from dllaunchpad.tensors.convolution import output_size

    assert (output_size(28, 3), output_size(28, 3, 2, 1), output_size(5, 2, 2), output_size(7, 7)) == (26, 14, 2, 1)
    cfg = params["experiments"]["convolution_mechanics"]["evaluate"]
    h, w = cfg["input_size"]
    for k in cfg["kernel_sizes"]:
        for s in cfg["strides"]:
            for p in cfg["paddings"]:
                got = F.conv2d(torch.zeros(1, 1, h, w), torch.zeros(2, 1, k, k), stride=s, padding=p).shape
                assert tuple(got[2:]) == (output_size(h, k, s, p), output_size(w, k, s, p)), (k, s, p)
    rows = output_size_grid((h, w), cfg["kernel_sizes"], cfg["strides"], cfg["paddings"])
    assert len(rows) == 96 and all(r["agree"] for r in rows)
    with pytest.raises(ValueError, match="does not fit"):
        output_size(3, 5)


def test_convolution_mechanics_family(params, tmp_path):
    write_synthetic_mnist(tmp_path / "data/processed/mnist", n_train=20, n_test=10)
    exp = experiment(params, "convolution_mechanics").at(tmp_path)
    m = evaluate(exp)
    for key in ("conv1d_definition_vs_numpy_max_abs_error", "conv1d_vs_flipped_xcorr_max_abs_error",
                "conv2d_vs_flipped_xcorr_max_abs_error", "xcorr2d_definition_vs_torch_max_abs_error",
                "conv2d_commutative_max_abs_error"):
        assert m[key] == 0.0, key  # integer inputs, float64 sums: exact
    assert m["conv1d_vs_unflipped_xcorr_max_abs_difference"] > 0 and m["conv2d_vs_unflipped_xcorr_max_abs_difference"] > 0
    assert m["output_size_settings"] == m["output_size_settings_agree"] == 96
    with np.load(tmp_path / "data/processed/mnist/train.npz") as f:
        assert m["sample_image_label"] == int(f["y"][0])
    assert {p.name for p in (tmp_path / exp.figures_dir).glob("*.png")} == {
        "kernel_sliding.png", "conv_vs_xcorr.png", "output_sizes.png"}


# -- 31.3.1: the elastic net's two weightings ----------------------------------------------

def test_elastic_net_weightings_by_hand():
    from dllaunchpad.models.regularization import elastic_net_penalty, penalty

    w = [torch.tensor([[1.0, -2.0]]), torch.tensor([0.5])]  # sum |w| = 3.5, sum w^2 = 5.25
    glmnet = 0.1 * (0.3 * 3.5 + 0.7 * 0.5 * 5.25)
    chapter = 0.1 * (0.3 * 3.5 + 0.7 * 5.25)
    assert elastic_net_penalty(w, 0.1, 0.3).item() == pytest.approx(glmnet)              # the default
    assert elastic_net_penalty(w, 0.1, 0.3, "chapter").item() == pytest.approx(chapter)
    spec = {"kind": "elastic_net", "lam": 0.1, "alpha": 0.3}
    assert penalty(w, {**spec, "weighting": "chapter"}).item() == pytest.approx(chapter)
    assert penalty(w, spec).item() == pytest.approx(glmnet)
    with pytest.raises(ValueError, match="weighting"):
        penalty(w, {**spec, "weighting": "sklearn"})


def test_regularization_comparison_keeps_its_runs_and_adds_the_chapters():
    from dllaunchpad.experiments import regularization_comparison as rc

    # The runs the family always had come first, in their order (each is seeded the same way
    # whatever follows it); the chapter-weighted elastic net is trained after them.
    assert rc.VARIANTS[:6] == ("none", "l2", "l1", "elastic_net", "dropout", "early_stopping")
    settings = {"elastic_net": {"lam": 2e-3, "alpha": 0.5}}
    assert rc.variant_settings("elastic_net", settings)[0] == {
        "penalty_spec": {"kind": "elastic_net", "lam": 2e-3, "alpha": 0.5}}
    assert rc.variant_settings("elastic_net_chapter", settings)[0] == {
        "penalty_spec": {"kind": "elastic_net", "lam": 2e-3, "alpha": 0.5, "weighting": "chapter"}}
    assert "(1 - alpha)/2" in rc.ELASTIC_NET_WEIGHTINGS["elastic_net"]
    assert "(1 - alpha) ||" in rc.ELASTIC_NET_WEIGHTINGS["elastic_net_chapter"]


# -- the chapter's data figures ------------------------------------------------------------

def _without(metrics: dict, keys) -> dict:
    return {k: v for k, v in metrics.items() if k not in keys}


def test_mnist_first_training_images(params, tmp_path):
    write_synthetic_mnist(tmp_path / "data/processed/mnist", n_train=200, n_test=50)
    exp = experiment(params, "mnist_mlp", trainer={"epochs": 1, "batch_size": 100}).at(tmp_path)
    assert exp.spec["evaluate"] == {"data_figures": True}
    train(exp, progress=False)
    m = evaluate(exp)
    with np.load(tmp_path / "data/processed/mnist/train.npz") as f:
        assert m["first_four_training_labels"] == " ".join(str(v) for v in f["y"][:4])
    assert m["first_four_training_indices"] == "0 1 2 3"
    assert (tmp_path / exp.figures_dir / "first_training_images.png").is_file()
    # Without the flag: the same metrics, less the new keys (the figure adds, changes nothing).
    plain = evaluate(experiment(params, "mnist_mlp", trainer={"epochs": 1, "batch_size": 100},
                                evaluate={"data_figures": False}).at(tmp_path))
    assert _without(m, {"first_four_training_labels", "first_four_training_indices"}) == plain


def test_sunspot_data_figures(params, tmp_path, mirror):
    prepare_from_mirror(mirror("sunspots"), "sunspots", tmp_path, params["datasets"]["sunspots"]["preprocess"])
    exp = experiment(params, "sunspots_lstm", trainer={"epochs": 1}).at(tmp_path)
    train(exp, progress=False)
    m = evaluate(exp)
    # The chapter printed x_train[0][0] = 0.35827485 and y_train[0] = -0.17636682500608733 (float32 here).
    assert m["x_train0_first_value"] == pytest.approx(0.35827485, abs=1e-7)
    assert m["y_train0"] == pytest.approx(-0.17636682500608733, abs=1e-7)
    d = np.load(tmp_path / "data/processed/sunspots/windows.npz")
    assert m["test0_true_next"] == pytest.approx(float(d["y_test"][0]))
    from dllaunchpad.experiments.rnn_forecaster import forecast
    from dllaunchpad.runners.train import load_trained

    predicted = forecast(load_trained(exp), torch.from_numpy(d["x_test"][:1]))
    assert m["test0_predicted_next"] == pytest.approx(float(predicted[0]), abs=1e-6)
    figures = {p.name for p in (tmp_path / exp.figures_dir).glob("*.png")}
    assert {"sunspot_series.png", "x_train0_window.png", "test_window_prediction.png"} <= figures
    plain = evaluate(experiment(params, "sunspots_lstm", trainer={"epochs": 1},
                                evaluate={"data_figures": False}).at(tmp_path))
    assert _without(m, {"x_train0_first_value", "y_train0", "test0_true_next", "test0_predicted_next"}) == plain


def test_mnist_cnn_first_layer_feature_maps(params, tmp_path):
    from dllaunchpad.experiments.cnn_classifier import first_layer_maps
    from dllaunchpad.runners.train import load_trained

    write_synthetic_mnist(tmp_path / "data/processed/mnist", n_train=100, n_test=20)
    exp = experiment(params, "mnist_cnn", trainer={"epochs": 1, "batch_size": 50}).at(tmp_path)
    train(exp, progress=False)
    evaluate(exp)
    assert (tmp_path / exp.figures_dir / "first_layer_feature_maps.png").is_file()
    module = load_trained(exp)
    with np.load(tmp_path / "data/processed/mnist/test.npz") as f:
        image = torch.from_numpy(f["x"][0].astype(np.float32) / 255)[None]
    kernels, maps = first_layer_maps(module, image)
    conv = module.net[0]
    by_hand = torch.relu(F.conv2d(image[None], conv.weight, conv.bias))[0]
    assert kernels.shape == (32, 3, 3) and maps.shape == (32, 26, 26)
    assert np.allclose(maps, by_hand.detach().numpy(), atol=1e-5)


def test_rps_typical_images_on_fixture_zips(params, tmp_path):
    from dllaunchpad import datasets
    from dllaunchpad.datasets import rps
    from dllaunchpad.experiments.cnn_classifier import typical_images

    write_rps_zips(tmp_path / "data/raw/rps", n_train=30, n_test=9)
    datasets.prepare("rps", tmp_path / "data/raw/rps", tmp_path / "data/processed/rps",
                     {"image_size": 32, "train_fraction": 0.7, "max_per_split": None})
    x, y = rps.load(tmp_path / "data/processed/rps", "train")
    idx = typical_images(x, y, per_class=2)
    assert [int(y[i]) for i in idx] == [0, 0, 1, 1, 2, 2]          # rock, paper, scissors
    assert idx == [int(i) for c in range(3) for i in np.flatnonzero(y == c)[:2]]  # the first ones
    exp = experiment(params, "rps_cnn_1", trainer={"epochs": 1, "batch_size": 8}).at(tmp_path)
    train(exp, progress=False)
    m = evaluate(exp)
    assert m["validation_examples"] == 9
    figures = {p.name for p in (tmp_path / exp.figures_dir).glob("*.png")}
    assert "typical_images.png" in figures and "first_layer_feature_maps.png" not in figures
    with open(tmp_path / exp.history) as fh:
        assert len(list(csv.DictReader(fh))) == 1
