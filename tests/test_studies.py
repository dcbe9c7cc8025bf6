"""The chapter 31.2.2-31.4 studies (families optimizer_comparison, activations, initialization,
regularization_comparison) end to end on tiny settings and real MNIST digits: metrics within
the bands the theory predicts, every figure written and non-trivial (the PNG is not blank and
the plotted arrays, saved beside it in series.npz, are finite where they should be and not
constant)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dllaunchpad.pipeline.config import deep_merge, load_params
from dllaunchpad.datasets import mnist
from dllaunchpad.runners.evaluate import evaluate
from dllaunchpad.pipeline.registry import Experiment


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """A root whose data/processed/mnist holds 1500 + 500 real digits (the mirror's t10k)."""
    from conftest import MIRROR

    folder = MIRROR / "mnist"
    if not folder.is_dir():
        pytest.skip(f"dataset mirror {folder} not available")
    x = mnist.read_idx(folder / "t10k-images-idx3-ubyte.gz", mnist.IMAGES_MAGIC)
    y = mnist.read_idx(folder / "t10k-labels-idx1-ubyte.gz", mnist.LABELS_MAGIC).astype(np.int64)
    root = tmp_path_factory.mktemp("studies")
    processed = root / "data" / "processed" / "mnist"
    processed.mkdir(parents=True)
    np.savez(processed / "train.npz", x=x[:1500], y=y[:1500])
    np.savez(processed / "test.npz", x=x[1500:2000], y=y[1500:2000])
    return root


@pytest.fixture(scope="module")
def quick_params():
    from conftest import REPO
    from dllaunchpad.pipeline.config import read_params

    return load_params(read_params(REPO / "params.yaml"), scale="quick")


def tiny(params: dict, name: str, overrides: dict, root) -> Experiment:
    return Experiment.resolve(name, deep_merge(params["experiments"][name], overrides), params, root)


def run(exp) -> tuple[dict, object]:
    metrics = evaluate(exp)
    assert json.loads(exp.path(exp.metrics).read_text()) == metrics
    return metrics, exp.path(exp.figures_dir)


def assert_figure(path):
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] >= 500 and im.size[1] >= 300
        pixels = np.asarray(im.convert("L"), dtype=float)
    assert pixels.std() > 10, f"{path.name} looks blank"


def assert_varies(array, name):
    array = np.asarray(array, dtype=float)
    finite = array[np.isfinite(array)]
    assert finite.size > 1 and np.ptp(finite) > 0, f"{name} is constant"


def test_optimizer_comparison(quick_params, mnist_root):
    names = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "yogi"]
    opts = quick_params["experiments"]["optimizer_comparison"]["evaluate"]["optimizers"]
    exp = tiny(quick_params, "optimizer_comparison", {
        "data": {"train_samples": 400, "val_samples": 200},
        "evaluate": {"epochs": 1, "batch_size": 50, "smoothing": 3, "loss_threshold": 2.0,
                     "optimizers": {n: {"lr": [opts[n]["lr"][1]]} for n in names},
                     "surface_lr": [0.001, 0.1],
                     "surfaces": {"quadratic": {"steps": 30}, "rosenbrock": {"steps": 50}}}}, mnist_root)
    m, figures = run(exp)
    assert m["runs"] == 8 + 2 * 8 * 2  # one rate per optimizer on MNIST here, two on each surface
    for n in names:
        assert m[f"mnist_{n}_lr"] == opts[n]["lr"][1]
        assert m[f"mnist_{n}_final_loss"] < np.log(10)          # it learned something in 8 steps
        assert m[f"quadratic_{n}_lr"] in (0.001, 0.1) and m[f"rosenbrock_{n}_lr"] in (0.001, 0.1)
        assert m[f"quadratic_{n}_final_loss"] < 10.5 and m[f"rosenbrock_{n}_final_loss"] < 12.5  # f(start)
    # momentum beats plain SGD on the ill-conditioned quadratic from the same start and grid
    assert m["quadratic_momentum_final_loss"] < m["quadratic_sgd_final_loss"]
    for png in ("mnist_loss", "trajectories_quadratic", "trajectories_rosenbrock", "surface_loss", "table"):
        assert_figure(figures / f"{png}.png")
    series = np.load(figures / "series.npz")
    for n in names:
        assert_varies(series[f"mnist_{n}"], f"mnist loss of {n}")
        for s in ("quadratic", "rosenbrock"):
            assert series[f"{s}_{n}_path"].shape[1] == 2
            assert_varies(series[f"{s}_{n}_path"][:, 0], f"{s} path of {n}")
            assert_varies(series[f"{s}_{n}_f"], f"{s} loss of {n}")
    rows = (figures / "summary.csv").read_text().splitlines()
    assert rows[0] == "problem,optimizer,lr,final_loss,steps_to_threshold,seconds,val_accuracy" and len(rows) == 25


def test_activations(quick_params, mnist_root):
    exp = tiny(quick_params, "activations", {
        "model": {"prelu_hidden": [32], "depth": 6, "width": 32},
        "data": {"train_samples": 400, "val_samples": 200},
        "evaluate": {"prelu_epochs": 2, "batch_size": 50, "init_seeds": 1, "saturation_batch": 128}}, mnist_root)
    m, figures = run(exp)
    assert m["sigmoid_grad_norm_ratio_first_to_last_hidden"] < 0.05      # vanishing through sigmoids
    assert 0.1 < m["relu_grad_norm_ratio_first_to_last_hidden"] < 10
    assert m["sigmoid_mean_derivative"] <= 0.25 < m["relu_mean_derivative"] < m["tanh_mean_derivative"] <= 1
    assert m["prelu_alpha_layer1"] != pytest.approx(0.25, abs=1e-5)     # alpha was learned
    assert m["prelu_val_accuracy"] > 0.3
    for png in ("functions", "prelu_alpha", "saturation"):
        assert_figure(figures / f"{png}.png")
    series = np.load(figures / "series.npz")
    for name in ("relu", "leaky_relu", "abs", "prelu", "sigmoid", "tanh"):
        assert_varies(series[name], name)
        assert_varies(series[f"{name}_derivative"], f"{name}'")
    assert series["prelu_alphas"].shape == (3, 1)   # start + 2 epochs, 1 hidden layer
    assert_varies(series["prelu_alphas"][:, 0], "alpha per epoch")
    assert_varies(series["sigmoid_grad_norm"], "sigmoid gradient norms")


def test_initialization(quick_params, mnist_root):
    exp = tiny(quick_params, "initialization", {
        "model": {"depth": 6, "width": 64},
        "data": {"train_samples": 300},
        # at width 64, Var(a_l) of ReLU units changes by 64 std^2 / 2 per layer: 0.08 and 5.1
        "evaluate": {"constant_std": [0.05, 0.4], "batch_size": 50, "signal_batch": 200, "smoothing": 3}}, mnist_root)
    m, figures = run(exp)
    factor = {k[len("variance_factor_per_layer_"):]: v for k, v in m.items() if k.startswith("variance_factor")}
    assert 0.6 < factor["relu_he_normal"] < 1.6 and 0.6 < factor["relu_he_uniform"] < 1.6
    assert factor["relu_glorot_normal"] < 0.8 and factor["relu_lecun_uniform"] < 0.8   # ReLU halves 1/n_in
    assert factor["relu_constant_0_05"] < 0.3
    assert factor["relu_constant_0_4"] is None or factor["relu_constant_0_4"] > 2
    assert len([k for k in m if k.startswith("first_epoch_loss_")]) == 16
    for png in ("activation_variance", "gradient_variance", "first_epoch_loss"):
        assert_figure(figures / f"{png}.png")
    series = np.load(figures / "series.npz")
    for act in ("relu", "tanh"):
        for scheme in ("glorot_normal", "he_uniform", "constant_0_05"):
            assert series[f"{act}_{scheme}_activation_variance"].shape == (6,)
            assert_varies(series[f"{act}_{scheme}_activation_variance"], f"{act} {scheme} variance")
            assert_varies(series[f"{act}_{scheme}_step_losses"], f"{act} {scheme} losses")


def test_regularization_comparison(quick_params, mnist_root):
    exp = tiny(quick_params, "regularization_comparison", {
        "model": {"hidden": [128, 128]},
        "data": {"train_samples": 300, "val_samples": 200},
        "evaluate": {"epochs": 8, "l1": {"lam": 1.0e-2}, "elastic_net": {"lam": 2.0e-2, "alpha": 0.5},
                     "early_stopping": {"patience": 2}}}, mnist_root)
    m, figures = run(exp)
    variants = ("none", "l2", "l1", "elastic_net", "dropout", "early_stopping")
    assert m["l1_sparsity"] > m["l2_sparsity"] + 0.05 and m["l1_sparsity"] > m["none_sparsity"] + 0.05
    assert m["elastic_net_sparsity"] > m["none_sparsity"]
    assert m["l2_mean_abs_weight"] < m["none_mean_abs_weight"]
    assert all(m[f"{v}_val_accuracy"] > 0.3 for v in variants)
    assert m["early_stopping_best_epoch"] <= m["early_stopping_epochs_run"] <= 8
    for png in ("curves", "val_loss", "weights"):
        assert_figure(figures / f"{png}.png")
    series = np.load(figures / "series.npz")
    for v in variants:
        assert_varies(series[f"{v}_train_loss"], f"{v} training loss")
        assert_varies(series[f"{v}_val_loss"], f"{v} validation loss")
        assert_varies(series[f"{v}_weights"], f"{v} weights")
