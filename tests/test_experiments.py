"""The skeleton's trained experiments, end to end in a temporary root: train, checkpoint,
evaluate; real metrics within stated bands, and identical results from identical params."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from dllaunchpad.pipeline.config import load_params
from dllaunchpad.runners.evaluate import evaluate
from dllaunchpad.pipeline.registry import Registry
from dllaunchpad.runners.train import train


@pytest.fixture
def reg_params(raw_params):
    params = load_params(raw_params)
    return params, Registry.from_params(params)


def _run(name, reg_params, root):
    _, reg = reg_params
    exp = reg.experiment(name).at(root)
    info = train(exp, progress=False)
    metrics = evaluate(exp)
    return exp, info, metrics


def test_linear_regression_recovers_the_line(reg_params, tmp_path):
    exp, info, m = _run("linear_regression", reg_params, tmp_path)
    assert info["epochs_run"] == 100 and info["device"] == "cpu"
    assert abs(m["slope"] - 3.0) < 0.05          # chapter: 2.9757
    assert abs(m["intercept"] - 1.0) < 0.2       # chapter: 0.9874
    assert m["train_mse"] < 1.5                  # the noise variance is 1
    rows = (tmp_path / exp.history).read_text().splitlines()
    assert rows[0] == "epoch,train_loss" and len(rows) == 101


def test_xor_is_learned(reg_params, tmp_path):
    exp, info, m = _run("xor", reg_params, tmp_path)
    assert m["binary_accuracy"] == 1.0
    assert m["prediction_00"] < 0.5 and m["prediction_11"] < 0.5
    assert m["prediction_01"] > 0.5 and m["prediction_10"] > 0.5
    assert m["final_loss"] < 0.06                # chapter: 0.03
    # the checkpoint is plain data: it loads with weights_only=True
    state = torch.load(tmp_path / exp.checkpoint, weights_only=True)
    assert state["state_dict"]["net.0.weight"].shape == (6, 2)
    for png in (tmp_path / exp.figures_dir).glob("*.png"):
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] > 300
    saved = json.loads((tmp_path / exp.metrics).read_text())
    assert saved["binary_accuracy"] == 1.0 and saved["chapter_section"] == "31.8.1"


def test_same_params_same_metrics(reg_params, tmp_path):
    _, _, first = _run("xor", reg_params, tmp_path / "a")
    _, _, second = _run("xor", reg_params, tmp_path / "b")
    assert first == second
    assert not [k for k in first if k.endswith("_seconds") or k == "device"]  # run facts live in run.json
    assert (tmp_path / "a/reports/metrics/xor.json").read_bytes() == (tmp_path / "b/reports/metrics/xor.json").read_bytes()
    run = json.loads((tmp_path / "a/reports/figures/xor/run.json").read_text())
    assert run["device"] == "cpu" and run["train_seconds"] > 0 and run["evaluate_seconds"] >= 0


def test_tensor_products_write_json(reg_params, tmp_path):
    _, reg = reg_params
    m = evaluate(reg.experiment("tensor_products").at(tmp_path))
    assert m["products"] == 11 and m["products_matching_chapter"] == 10
    assert m["mode1_product_matches_chapter"] is False
    products = json.loads((tmp_path / "reports/figures/tensor_products/products.json").read_text())
    assert products["kronecker_BA"]["ours"] == [[0, 0, 5, 10], [0, 0, 15, 20], [6, 12, 7, 14], [18, 24, 21, 28]]


def test_fake_gpu_falls_back_to_cpu(monkeypatch):
    from dllaunchpad.training import devices

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    if torch.cuda.is_available():
        pytest.skip("a real GPU is visible")
    assert devices.choose(1) == ("cpu", 1)
    assert devices.choose(4) == ("cpu", 1)


def test_best_weights_are_kept_and_used_for_evaluation(reg_params, tmp_path):
    import copy

    from dllaunchpad.pipeline.registry import Experiment
    from dllaunchpad.runners.train import evaluation_checkpoint

    params, reg = reg_params
    spec = copy.deepcopy(reg.experiment("xor").spec)
    spec["trainer"].update(epochs=60, early_stopping={"monitor": "train_loss", "patience": 2, "restore_best": True})
    exp = Experiment.resolve("xor", spec, params, tmp_path)
    info = train(exp, progress=False)
    best = torch.load(tmp_path / "models/xor/best.ckpt", weights_only=True)
    import csv

    with open(tmp_path / exp.history) as fh:
        losses = [float(r["train_loss"]) for r in csv.DictReader(fh)]
    assert best["monitor"] == "train_loss" and best["epoch"] == info["best_epoch"]
    assert best["value"] == pytest.approx(min(losses), rel=1e-6)
    assert losses.index(min(losses)) + 1 == best["epoch"]
    assert evaluation_checkpoint(exp).name == "best.ckpt"


def test_optimizer_names_map_to_torch():
    from dllaunchpad.optim import build_optimizer

    p = [torch.nn.Parameter(torch.zeros(2))]
    rms = build_optimizer(p, {"name": "rmsprop", "lr": 1e-3, "rho": 0.9, "eps": 1e-7})
    assert rms.defaults["alpha"] == 0.9 and rms.defaults["eps"] == 1e-7
    nag = build_optimizer(p, {"name": "nesterov", "lr": 0.1})
    assert nag.defaults["nesterov"] and nag.defaults["momentum"] == 0.9
