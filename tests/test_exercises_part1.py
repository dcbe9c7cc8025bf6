"""Exercises 31.9.1, 3(b-d), 4(a-c), 5(a-b) and 9: their entries expand into the variants each
asks for; the settings they add default to today's numbers (XOR without extra_hidden, Iris
without a data block); "epochs to ..." is read right off a known history; the tables that ship
inside scikit-learn load with their published shapes; the compute-only families run end to end
on tiny settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from dllaunchpad.analysis.milestones import epochs_to, first_epoch
from dllaunchpad.pipeline.config import ParamsError, load_params
from dllaunchpad.pipeline.registry import Experiment

ADAM = {"name": "adam", "lr": 0.001, "eps": 1.0e-7}


# -- the registry entries ------------------------------------------------------------------------

def _seeds(labels, seeds):
    return [f"{lab}__seed{s}" for lab in labels for s in seeds]


QUICK_VARIANTS = {  # two runs per comparison in quick mode
    "ex3_xor_width": _seeds(["hidden1", "hidden6"], [0]),
    "ex3_xor_extra_layer": _seeds(["extra_hiddennone", "extra_hidden6"], [0]),
    "ex3_xor_optimizers": _seeds(["sgd", "adam"], [0]),
    "ex4_iris_split": _seeds(["test_fraction0p5", "test_fraction0p2"], [0]),
    "ex4_iris_architectures": _seeds(["hidden4x4", "hidden32"], [0]),
    "ex4_wine_classifier": _seeds(["hidden4x4", "hidden16x16"], [0]),
    "ex5_boston_architectures": _seeds(["hidden128x48", "hidden64"], [0]),
    "ex5_diabetes_cv": _seeds(["folds4", "folds5"], [0]),
}
# full scale: the exercise's grids (settings x seeds)
FULL = {
    "ex3_xor_width": _seeds([f"hidden{h}" for h in (1, 2, 3, 4, 6)], range(10)),
    "ex3_xor_extra_layer": _seeds(["extra_hiddennone", "extra_hidden6"], range(10)),
    "ex3_xor_optimizers": _seeds(["rmsprop", "sgd", "adagrad", "adadelta", "adam"], range(5)),
    "ex4_iris_split": _seeds([f"test_fraction0p{f}" for f in (5, 4, 3, 2, 1)], range(5)),
    "ex4_iris_architectures": _seeds(["hidden4x4", "hidden8", "hidden32", "hidden16x16", "hidden64x64",
                                      "hidden32x32x32"], range(5)),
    "ex4_wine_classifier": _seeds(["hidden4x4", "hidden16x16", "hidden64x32"], range(5)),
    "ex5_boston_architectures": _seeds(["lr_0p01", "adam", "hidden128x48", "hidden64", "hidden256x128",
                                        "hidden64x64x64", "hidden512x256x128"], range(3)),
    "ex5_diabetes_cv": _seeds(["folds4", "folds5", "folds10"], range(3)),
}


def test_quick_entries_expand_into_small_grids(quick):
    for entry, labels in QUICK_VARIANTS.items():
        assert quick.comparisons[entry].variants == tuple(f"{entry}__{lab}" for lab in labels), entry
        for v in quick.comparisons[entry].variants:
            exp = quick.experiment(v)
            assert exp.chapter.startswith("31.9.") and exp.variant_of == entry and exp.spec.get("question")
            budget = exp.spec["trainer"]["epochs"] if exp.trains else exp.spec["evaluate"]["epochs"]
            # seconds per run: XOR's 1000 one-batch epochs ~ 10 s, the rest a few hundred batches
            assert budget <= (1000 if exp.family == "xor" else 150), (v, budget)


def test_full_entries_are_the_exercise_settings(full):
    for entry, labels in FULL.items():
        assert full.comparisons[entry].variants == tuple(f"{entry}__{lab}" for lab in labels), entry
        assert full.experiment(entry).chapter == "31.9." + entry[2]  # ex3_... -> 31.9.3
    widths = sorted({full.experiment(v).spec["model"]["hidden"] for v in full.comparisons["ex3_xor_width"].variants})
    assert widths == [1, 2, 3, 4, 6]
    ratios = sorted({full.experiment(v).spec["data"]["test_fraction"] for v in full.comparisons["ex4_iris_split"].variants})
    assert ratios == [0.1, 0.2, 0.3, 0.4, 0.5]  # 90/10 ... 50/50
    opts = {full.experiment(f"ex3_xor_optimizers__{n}__seed0").spec["optimizer"]["name"]
            for n in ("rmsprop", "sgd", "adagrad", "adadelta", "adam")}
    assert opts == {"rmsprop", "sgd", "adagrad", "adadelta", "adam"}
    # the optimizers get their Keras defaults, not the base entry's Adam eps
    assert full.experiment("ex3_xor_optimizers__sgd__seed3").spec["optimizer"] == {"name": "sgd", "lr": 0.01}
    assert full.experiment("ex3_xor_optimizers__sgd__seed3").seed == 3
    assert full.experiment("ex3_xor_extra_layer__extra_hiddennone__seed0").spec["model"] == {"hidden": 6,
                                                                                             "extra_hidden": None}


@pytest.mark.parametrize("variant, same_as, epochs", [
    ("ex3_xor_width__hidden6__seed0", "xor", 4000),   # the exercise's "more epochs": 2 x 2000
    ("ex3_xor_extra_layer__extra_hiddennone__seed0", "xor", 2000),
    ("ex3_xor_optimizers__adam__seed0", "xor", 2000),
    ("ex4_iris_architectures__hidden4x4__seed0", "iris_mlp", 500),
    ("ex5_boston_architectures__hidden128x48__seed0", "boston_mlp", 80),
])
def test_each_sweep_holds_the_chapter_run(full, variant, same_as, epochs):
    """The chapter's own settings are one of the variants (same seed), so each comparison has the
    31.8 result as its reference point."""
    def settings(exp):
        model = {k: v for k, v in exp.spec["model"].items() if not (k == "extra_hidden" and v is None)}
        trainer = {k: v for k, v in exp.spec["trainer"].items() if k != "epochs"}
        return {"family": exp.family, "dataset": exp.dataset, "model": model, "optimizer": exp.spec["optimizer"],
                "trainer": trainer, "evaluate": {k: v for k, v in exp.spec.get("evaluate", {}).items()
                                                 if k != "epochs_to_val_accuracy"}}

    a, b = full.experiment(variant), full.experiment(same_as)
    assert settings(a) == settings(b) and a.seed == b.seed and a.spec["trainer"]["epochs"] == epochs


def test_the_quick_success_budget_follows_the_quick_epochs(quick, full):
    """A run that never reaches the mark counts as epochs + 1: the success test must be the
    run's own budget, or a quick run that never got there would pass."""
    for entry, key in (("ex3_xor_extra_layer", "trainer"), ("ex4_iris_architectures", "trainer")):
        for reg in (quick, full):
            budget = reg.experiment(entry).spec[key]["epochs"]
            assert reg.comparisons[entry].compare["success"] == {"at_most": budget}, (entry, reg.scale)


def test_notes_link_the_entries_that_answer(full):
    ex1, ex9 = full.experiment("ex1_rps_deeper_cnns"), full.experiment("ex9_nn_playground")
    assert ex1.spec["see_also"] == ["rps_cnn_3", "rps_cnn_4", "rps_cnn_1", "rps_cnn_2"]
    assert full.experiment("rps_cnn_4").spec["model"]["filters"] == [16, 32, 64, 128]
    assert not ex1.trains and not ex9.trains and ex1.chapter == "31.9.1" and ex9.chapter == "31.9.9"
    assert "web" in ex9.spec["question"] and "web tool" in ex9.spec["evaluate"]["note"]


def test_exercise_note_returns_flat_metrics_and_no_figure(full, tmp_path):
    from dllaunchpad.experiments import exercise_note

    m1 = exercise_note.evaluate(full.experiment("ex1_rps_deeper_cnns"), None, tmp_path)
    assert m1["runs_elsewhere"] is True and m1["linked_experiments"] == 4 and "rps_cnn_3" in m1["note"]
    m9 = exercise_note.evaluate(full.experiment("ex9_nn_playground"), None, tmp_path)
    assert m9["note"].startswith("Needs an external web tool") and "\n" not in m9["note"]
    assert m9["runs_elsewhere"] is False and m9["external_tool"].startswith("TensorFlow's Neural Network Playground")
    assert all(not isinstance(v, (dict, list)) for v in {**m1, **m9}.values())
    assert list(tmp_path.iterdir()) == []


# -- new settings default to today's numbers -------------------------------------------------------

def test_xor_without_extra_hidden_builds_the_chapter_net(full):
    from dllaunchpad.experiments import xor
    from dllaunchpad.models.keras_init import keras_dense

    torch.manual_seed(5)
    reference = nn.Sequential(keras_dense(2, 6), nn.ReLU(), keras_dense(6, 1), nn.Sigmoid())  # the pre-3(c) net
    for name in ("xor", "ex3_xor_extra_layer__extra_hiddennone__seed0"):
        torch.manual_seed(5)
        net = xor.model(full.experiment(name)).net
        assert str(net) == str(reference), name
        assert list(net.state_dict()) == list(reference.state_dict())  # the checkpoints' keys
        assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), reference.state_dict().values()))
    torch.manual_seed(5)
    deep = xor.model(full.experiment("ex3_xor_extra_layer__extra_hidden6__seed0")).net
    assert [tuple(p.shape) for p in deep.parameters()] == [(6, 2), (6,), (6, 6), (6,), (1, 6), (1,)]
    assert torch.equal(deep[0].weight, reference[0].weight)  # the first layer draws first, as before


def test_a_bad_extra_hidden_is_refused(raw_params):
    raw_params["experiments"]["ex3_xor_extra_layer"]["model"]["extra_hidden"] = 0
    with pytest.raises(ParamsError, match="extra_hidden"):
        load_params(raw_params)


def test_iris_resplit_defaults_to_the_prepared_split():
    from dllaunchpad.datasets import iris

    rng = np.random.default_rng(0)
    d = {"x_train": rng.normal(size=(120, 4)).astype(np.float32), "y_train": rng.integers(0, 3, 120),
         "x_test": rng.normal(size=(30, 4)).astype(np.float32), "y_test": rng.integers(0, 3, 30)}
    for same in (iris.resplit(d), iris.resplit(d, 0.2)):
        assert all(np.array_equal(same[k], d[k]) for k in d)
    ten = iris.resplit(d, 0.1)
    assert ten["x_train"].shape == (135, 4) and ten["x_test"].shape == (15, 4)
    assert np.array_equal(ten["x_train"][:120], d["x_train"])  # the prepared order, cut later
    half = iris.resplit(d, 0.5, seed=3)
    assert half["x_train"].shape == half["x_test"].shape == (75, 4)
    every = np.concatenate([half["x_train"], half["x_test"]])
    assert sorted(map(tuple, every)) == sorted(map(tuple, np.concatenate([d["x_train"], d["x_test"]])))
    assert not np.array_equal(every[:120], d["x_train"])  # the seed redrew which rows are held out
    assert np.array_equal(iris.resplit(d, 0.5, seed=3)["x_test"], half["x_test"])  # and does so reproducibly
    with pytest.raises(ValueError, match="test_fraction"):
        iris.resplit(d, 0.001)


def test_iris_data_settings_are_refused_for_mnist(raw_params):
    raw_params["experiments"]["mnist_mlp"]["data"] = {"test_fraction": 0.5}
    with pytest.raises(ParamsError, match="mnist_mlp"):
        load_params(raw_params)


def test_iris_entries_read_their_split(full, mirror, tmp_path):
    """The prepared data (from the mirror) through the family: iris_mlp unchanged, the 4(a)
    variants with their ratio; the epochs-to-95 % keys only for the entries that ask."""
    from dllaunchpad import datasets
    from dllaunchpad.datasets import iris
    from dllaunchpad.experiments import mlp_classifier

    datasets.prepare("iris", mirror("iris"), tmp_path / "data/processed/iris", {})
    prepared = iris.load(tmp_path / "data/processed/iris")
    base = mlp_classifier.load_data(full.experiment("iris_mlp").at(tmp_path))
    assert all(np.array_equal(base[k].numpy(), prepared[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
    for frac, n_test in ((0.5, 75), (0.4, 60), (0.3, 45), (0.2, 30), (0.1, 15)):
        label = f"{frac}".replace(".", "p")
        d = mlp_classifier.load_data(full.experiment(f"ex4_iris_split__test_fraction{label}__seed1").at(tmp_path))
        assert (len(d["y_train"]), len(d["y_test"])) == (150 - n_test, n_test)

    # evaluate on an untrained net, with a history written by hand: where 95 % was first met
    history = "epoch,train_accuracy,train_loss,val_accuracy,val_loss\n" + "".join(
        f"{e},0.5,1.0,{a},1.0\n" for e, a in enumerate([0.5, 0.9, 0.9667, 0.9, 1.0], start=1))
    for name, asks in (("ex4_iris_architectures__hidden8__seed0", True), ("iris_mlp", False)):
        exp = full.experiment(name).at(tmp_path)
        exp.path(exp.history).parent.mkdir(parents=True, exist_ok=True)
        exp.path(exp.history).write_text(history)
        torch.manual_seed(0)
        out = tmp_path / "figures" / name
        out.mkdir(parents=True)
        metrics = mlp_classifier.evaluate(exp, mlp_classifier.model(exp), out)
        if asks:
            assert metrics["epochs_to_val_accuracy_95"] == 3 and metrics["reached_val_accuracy_95"] is True
        else:
            assert not any(k.startswith(("epochs_to", "reached_")) for k in metrics)


# -- "epochs to": analysis/milestones.py ---------------------------------------------------------

def test_epochs_to_a_threshold_on_a_known_history():
    h = {"epoch": [1.0, 2.0, 3.0, 4.0, 5.0], "acc": [0.5, 0.75, 1.0, 0.75, 1.0], "loss": [0.3, float("nan"), 0.2, 0.1, 0.05]}
    assert epochs_to(h, "acc", 1.0) == (3, True)  # the first time, even if it drops again
    assert epochs_to(h, "acc", 0.7) == (2, True)
    assert epochs_to(h, "acc", 1.01) == (6, False)  # never: one past the 5 epochs run
    assert epochs_to(h, "loss", 0.1, goal="min") == (4, True)
    assert first_epoch(h["epoch"], h["loss"], 0.25, goal="min") == 3  # NaN at epoch 2 never counts
    assert first_epoch([1, 2], [0.1, 0.2], 0.5) is None
    with pytest.raises(KeyError, match="acc2"):
        epochs_to(h, "acc2", 1.0)


def test_xor_reports_epochs_to_accuracy_1():
    from dllaunchpad.experiments import xor

    h = {"epoch": [1.0, 2.0, 3.0, 4.0], "train_binary_accuracy": [0.5, 0.75, 0.75, 1.0], "train_loss": [0.3] * 4}
    assert xor.speed_metrics(h) == {"epochs_to_accuracy_1": 4, "reached_accuracy_1": True}
    h["train_binary_accuracy"][-1] = 0.75
    assert xor.speed_metrics(h) == {"epochs_to_accuracy_1": 5, "reached_accuracy_1": False}


# -- the tables shipped inside scikit-learn (datasets/bundled.py) ---------------------------------

@pytest.mark.parametrize("name, rows, features, classes", [
    ("wine", 178, 13, ["class_0", "class_1", "class_2"]),          # UCI: 59 / 71 / 48 wines
    ("breast_cancer", 569, 30, ["malignant", "benign"]),            # UCI: 212 / 357
    ("diabetes", 442, 10, None),                                    # Efron et al. 2004
])
def test_bundled_tables_have_their_published_shapes(name, rows, features, classes):
    from dllaunchpad.datasets import bundled

    t = bundled.load(name)
    assert t["x"].shape == (rows, features) and t["y"].shape == (rows,) and t["classes"] == classes
    assert len(t["feature_names"]) == features and t["source"]
    if name == "wine":
        assert np.bincount(t["y"]).tolist() == [59, 71, 48]
    if name == "breast_cancer":
        assert np.bincount(t["y"]).tolist() == [212, 357]
    if name == "diabetes":
        # the raw values, not scikit-learn's pre-scaled copy: ages in years, targets 25-346
        assert t["task"] == "regression" and t["x"][:, 0].min() == 19 and t["x"][:, 0].max() == 79
        assert (t["y"].min(), t["y"].max()) == (25.0, 346.0)


def test_bundled_split_standardises_with_the_training_rows():
    from dllaunchpad.datasets import bundled

    t = bundled.load("wine")
    s = bundled.split(t["x"], t["y"], 0.2, seed=4)
    assert s["x_train"].shape == (142, 13) and s["x_test"].shape == (36, 13) and s["x_train"].dtype == np.float32
    assert np.allclose(s["x_train"].mean(axis=0), 0, atol=1e-5) and np.allclose(s["x_train"].std(axis=0), 1, atol=1e-5)
    assert not np.allclose(s["x_test"].mean(axis=0), 0, atol=1e-3)  # test rows: the training rows' statistics
    again = bundled.split(t["x"], t["y"], 0.2, seed=4)
    assert np.array_equal(again["x_test"], s["x_test"]) and np.array_equal(again["y_test"], s["y_test"])
    with pytest.raises(ValueError, match="unknown"):
        bundled.load("titanic")


def _tiny(full, name: str, **evaluate) -> Experiment:
    exp = full.experiment(name)
    spec = json.loads(json.dumps(exp.spec))
    spec["model"]["hidden"] = [8]
    spec["evaluate"].update(evaluate)
    return Experiment.resolve(name, spec, {"seed": 0}, exp.root)


def test_bundled_tabular_runs_k_fold_regression_end_to_end(full, tmp_path):
    from dllaunchpad.experiments import bundled_tabular

    exp = _tiny(full, "ex5_diabetes_cv", epochs=3, folds=2)
    metrics = bundled_tabular.evaluate(exp, None, tmp_path)
    assert (metrics["train_rows"], metrics["test_rows"], metrics["features"]) == (354, 88, 10)
    assert metrics["cv_folds"] == 2 and metrics["cv_epochs"] == 3
    assert metrics["cv_mean_mae"] == pytest.approx((metrics["cv_fold_1_mae"] + metrics["cv_fold_2_mae"]) / 2)
    assert metrics["final_epochs"] == metrics["cv_best_mean_epoch"]  # final_epochs: cv_best
    assert 0 < metrics["test_mae"] < 200 and metrics["test_mse"] >= metrics["test_mae"] ** 2  # Jensen
    assert {p.name for p in tmp_path.iterdir()} == {"cv_curves.png", "final_model_mae.png", "test_predictions.png"}
    assert all(not isinstance(v, (dict, list)) for v in metrics.values())


def test_bundled_tabular_classifies_wine_end_to_end(full, tmp_path):
    from dllaunchpad.experiments import bundled_tabular

    exp = _tiny(full, "ex4_wine_classifier", epochs=3)
    metrics = bundled_tabular.evaluate(exp, None, tmp_path)
    assert metrics["test_rows"] == 36 and metrics["classes"] == 3 and metrics["task"] == "classification"
    assert metrics["test_errors"] == round(36 * (1 - metrics["test_accuracy"]))
    assert metrics["epochs_to_val_accuracy_95"] <= 4 and isinstance(metrics["reached_val_accuracy_95"], bool)
    assert "CC BY 4.0" in metrics["data_source"] and "cv_folds" not in metrics
    assert (tmp_path / "confusion_matrix.csv").read_text().count("\n") == 4  # header + 3 classes
