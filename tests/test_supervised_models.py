"""The supervised examples' architectures (issue 3): parameter counts computed by hand from the
chapter's layer list, forward shapes, and the Keras initialisation the translations promise."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dllaunchpad.pipeline.config import load_params
from dllaunchpad.experiments import family_module
from dllaunchpad.pipeline.registry import Registry


def dense(i, o):
    return i * o + o


def conv(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def lstm_torch(i, u):
    """torch keeps two bias vectors (bias_ih, bias_hh): 4u(i + u) + 2*4u."""
    return 4 * u * (i + u) + 8 * u


def rps_params(filters):
    """128x128x3 input, 'valid' 3x3 convs each followed by 2x2 pooling, Dense 128, Dense 3."""
    size, c_in, total = 128, 3, 0
    for f in filters:
        total += conv(3, c_in, f)
        size = (size - 2) // 2
        c_in = f
    return total + dense(size * size * c_in, 128) + dense(128, 3)


BIG = dense(784, 400) + dense(400, 400) + dense(400, 400) + dense(400, 200) + dense(200, 10)
EXPECTED = {
    "iris_mlp": dense(4, 4) + dense(4, 4) + dense(4, 3),                              # 55
    "boston_mlp": dense(13, 128) + dense(128, 48) + dense(48, 1),                     # 8033
    "mnist_mlp": dense(784, 256) + dense(256, 128) + dense(128, 10),                  # 235146
    "mnist_early_stopping": BIG, "mnist_l1": BIG, "mnist_dropout": BIG,               # 717010
    # 28 -conv-> 26 -pool-> 13 -conv-> 11: 11*11*64 features into Dense 32
    "mnist_cnn": conv(3, 1, 32) + conv(3, 32, 64) + dense(11 * 11 * 64, 32) + dense(32, 10),  # 266986
    "mnist_denoising_ae": conv(3, 1, 32) + 3 * conv(3, 32, 32) + conv(3, 32, 1),     # 28353
    "sunspots_lstm": lstm_torch(1, 5) + dense(5, 1),                                  # 166 (Keras: 146)
    "sunspots_gru": 3 * 5 * (1 + 5) + 2 * 3 * 5 + dense(5, 1),                        # 126 = Keras (reset_after)
    "sunspots_bilstm": 2 * lstm_torch(1, 5) + dense(10, 1),                           # 331
    "sunspots_tuned": lstm_torch(1, 32) + dense(32, 1),                               # 4513
    "rps_cnn_1": rps_params([16]), "rps_cnn_2": rps_params([16, 32]),
    "rps_cnn_3": rps_params([16, 32, 64]), "rps_cnn_4": rps_params([16, 32, 64, 128]),
}
EXPECTED["mnist_denoising_ae_lr1"] = EXPECTED["mnist_denoising_ae"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """The full-scale registry in a root whose prepared RPS data is only its summary.json: the
    CNN's input size comes from there (params.yaml's 128), no image is read."""
    from dllaunchpad import io
    from dllaunchpad.pipeline.config import read_params
    from conftest import REPO

    params = load_params(read_params(REPO / "params.yaml"), scale="full")
    root = tmp_path_factory.mktemp("models")
    size = params["datasets"]["rps"]["preprocess"]["image_size"]
    io.write_json(root / "data/processed/rps/summary.json", {
        "dataset": "rps", "params": {"image_size": size, "train_fraction": 0.7, "max_per_split": None},
        **{split: {"n": 0, "shape": [0, size, size, 3], "class_counts": [0, 0, 0]}
           for split in ("train", "validation", "test")}})
    return params, Registry.from_params({**params, "skip_datasets": []}, root=root)


def build_model(registry, name):
    _, reg = registry
    exp = reg.experiment(name)
    return exp, family_module(exp.family).model(exp)


def test_hand_counts_match_the_printed_figures():
    # Keras' model.summary() totals for the chapter's models, as a check on the arithmetic above.
    assert EXPECTED["mnist_mlp"] == 235146 and BIG == 717010 and EXPECTED["mnist_cnn"] == 266986
    assert EXPECTED["iris_mlp"] == 55 and EXPECTED["boston_mlp"] == 8033
    assert EXPECTED["mnist_denoising_ae"] == 28353
    assert EXPECTED["rps_cnn_1"] == 8129475  # 448 + 63*63*16*128+128 + 387


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parameter_count(registry, name):
    _, module = build_model(registry, name)
    assert sum(p.numel() for p in module.parameters()) == EXPECTED[name]


SHAPES = {  # experiment -> (input shape, output shape)
    "iris_mlp": ((5, 4), (5, 3)),
    "boston_mlp": ((5, 13), (5,)),
    "mnist_mlp": ((5, 28, 28), (5, 10)),
    "mnist_dropout": ((5, 28, 28), (5, 10)),
    "mnist_cnn": ((5, 1, 28, 28), (5, 10)),
    "mnist_denoising_ae": ((5, 1, 28, 28), (5, 1, 28, 28)),
    "sunspots_lstm": ((5, 100, 1), (5,)),
    "sunspots_gru": ((5, 7, 1), (5,)),
    "sunspots_bilstm": ((5, 100, 1), (5,)),
    "rps_cnn_4": ((2, 3, 128, 128), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_forward_shapes(registry, name):
    _, module = build_model(registry, name)
    x_shape, y_shape = SHAPES[name]
    with torch.no_grad():
        y = module.eval()(torch.rand(x_shape))
    assert tuple(y.shape) == y_shape
    if name.startswith("mnist_denoising"):
        assert 0 <= y.min() and y.max() <= 1  # sigmoid output: an image


def glorot_bound(w: torch.Tensor) -> float:
    receptive = w[0, 0].numel() if w.dim() > 2 else 1
    return math.sqrt(6 / (w.shape[1] * receptive + w.shape[0] * receptive))


def test_keras_initialisation_dense_and_conv(registry):
    for name in ("mnist_mlp", "mnist_cnn", "mnist_denoising_ae"):
        _, module = build_model(registry, name)
        layers = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert layers
        for layer in layers:
            bound = glorot_bound(layer.weight)
            assert layer.weight.abs().max() <= bound
            assert layer.weight.abs().max() > 0.9 * bound  # uniform on the whole Glorot range
            assert torch.count_nonzero(layer.bias) == 0


def test_keras_initialisation_lstm_and_gru(registry):
    _, lstm = build_model(registry, "sunspots_bilstm")
    for suffix in ("", "_reverse"):
        b_ih, b_hh = getattr(lstm.rnn, f"bias_ih_l0{suffix}"), getattr(lstm.rnn, f"bias_hh_l0{suffix}")
        assert b_ih.tolist() == [0.0] * 5 + [1.0] * 5 + [0.0] * 10  # unit_forget_bias: gates i, f, g, o
        assert torch.count_nonzero(b_hh) == 0
        w_hh = getattr(lstm.rnn, f"weight_hh_l0{suffix}")          # (20, 5): orthonormal columns
        torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(5), atol=1e-5, rtol=0)
        assert getattr(lstm.rnn, f"weight_ih_l0{suffix}").abs().max() <= math.sqrt(6 / (1 + 20))
    _, gru = build_model(registry, "sunspots_gru")
    assert torch.count_nonzero(gru.rnn.bias_ih_l0) == 0 and torch.count_nonzero(gru.rnn.bias_hh_l0) == 0


def test_dropout_sits_after_the_second_and_third_hidden_layers(registry):
    _, module = build_model(registry, "mnist_dropout")
    kinds = [type(m).__name__ for m in module.net.modules() if not list(m.children())]
    assert kinds[-11:] == ["Linear", "ReLU", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout",
                     "Linear", "ReLU", "Linear"]
    assert set(kinds[:-11]) <= {"Flatten"}
    assert all(m.p == 0.5 for m in module.net.modules() if isinstance(m, nn.Dropout))


def test_l1_penalty_covers_the_hidden_kernels_only(registry):
    _, module = build_model(registry, "mnist_l1")
    linear = [m for m in module.net.modules() if isinstance(m, nn.Linear)]
    by_hand = 1e-4 * sum(m.weight.abs().sum() for m in linear[:4])
    assert module.l1 == 1e-4
    torch.testing.assert_close(module.penalty(), by_hand)
    _, plain = build_model(registry, "mnist_early_stopping")
    assert plain.penalty().item() == 0.0


def test_bad_settings_are_named():
    from dllaunchpad.models.cnn_classifier import CNNClassifier, feature_size
    from dllaunchpad.models.dense import dense_stack
    from dllaunchpad.models.rnn_forecaster import RNNForecaster

    assert feature_size(28, 64, 3, [True, False]) == 11 * 11 * 64
    with pytest.raises(ValueError, match="shrink the image to nothing"):
        feature_size(8, 16, 3, [True, True, True])
    with pytest.raises(ValueError, match="2 rates for 3 hidden layers"):
        dense_stack(4, [4, 4, 4], 3, dropout=[0.5, 0.5])
    with pytest.raises(ValueError, match="pool has 1 entries for 2 conv blocks"):
        CNNClassifier(1, 28, [8, 8], [True], [8], 10, {"name": "adam", "lr": 1e-3})
    with pytest.raises(ValueError, match="'rnn' is not one of"):
        RNNForecaster("rnn", 5, {"name": "adam", "lr": 1e-3})
