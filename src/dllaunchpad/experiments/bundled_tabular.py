"""Exercises 31.9.4c and 31.9.5b: the chapter's dense-network recipes on a dataset of our choice.

4c asks for a classifier on "your own dataset", 5b for the k-fold cross-validation of 31.8.3 on
another regression dataset. Both use tables that ship inside scikit-learn
(datasets/bundled.py: wine, breast_cancer, diabetes; sources and licences there), so there is
nothing to download and no fetch/preprocess stage: this family is compute-only (no `trainer:`
block) and reads the table in its evaluate stage. It trains its models there with the one
training loop (`training.fit.fit`, as mlp_regressor's folds), like the other compute-only
families, because one run is several models (k folds and a final one), not one checkpoint.

The recipe, from 31.8.2/31.8.3: rows permuted with the run's seed, the last `data.test_fraction`
held out as the test set; features standardised with the training rows' mean and std (the
chapter's Boston normalisation; wine's features range from 0.1 to 1680); ReLU Dense layers of
`model.hidden` units (Keras init); cross-entropy on a softmax (classification) or MSE with a
linear output (regression); the optimizer block as written.

- `evaluate.folds` (optional, k >= 2): k-fold cross-validation on the training rows, contiguous
  folds as the chapter's np.array_split, one fresh model per fold (seed + 1 + i), each trained
  `evaluate.epochs` and validated on its fold after every epoch; a fold's score is its last
  epoch's validation MAE (regression) or accuracy (classification).
- The final model trains on all training rows for `evaluate.final_epochs` epochs (an integer,
  `cv_best`: the epoch where the mean CV curve is best, the chapter's "stops improving after 80
  or so epochs" read off the curve; absent: `evaluate.epochs`), validated on the test rows after
  every epoch (as the chapter's Iris fit), and is scored on them.
- `evaluate.epochs_to_val_accuracy` (classification, optional): the first epoch at which the
  final model's test accuracy reached it (analysis/milestones.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from dllaunchpad.datasets import bundled


def _tensors(s: dict, task: str) -> dict:
    y_dtype = torch.int64 if task == "classification" else torch.float32
    return {k: torch.from_numpy(np.ascontiguousarray(s[k])).to(y_dtype if k.startswith("y") else torch.float32)
            for k in ("x_train", "y_train", "x_test", "y_test")}


def _builder(exp, n_features: int, n_classes: int | None):
    from dllaunchpad.models.mlp_classifier import MLPClassifier
    from dllaunchpad.models.mlp_regressor import MLPRegressor

    hidden, opt = exp.spec["model"]["hidden"], exp.spec["optimizer"]
    if n_classes is None:
        return lambda: MLPRegressor(n_features, hidden, opt)
    return lambda: MLPClassifier(n_features, hidden, n_classes, opt)


def fit_one(exp, build, train: tuple, val: tuple, *, epochs: int, batch_size: int, seed: int) -> dict:
    """Seed, build, train with training.fit.fit (validated on `val` after every epoch), as
    mlp_regressor.cross_validate does for Boston's folds. Returns {model, history, seconds}."""
    import lightning as L

    from dllaunchpad.experiments._many_models import quiet_lightning
    from dllaunchpad.training.batches import TensorDataModule
    from dllaunchpad.training.fit import fit

    L.seed_everything(seed, workers=True, verbose=False)  # before building: the weights draw from it
    module = build()
    dm = TensorDataModule(train, val=val, batch_size=batch_size, seed=seed)
    with quiet_lightning():
        result = fit(module, dm, {"epochs": epochs, "batch_size": batch_size}, seed=None, want_gpu=exp.gpu)
    module.cpu().eval()
    return {"model": module, "history": result["history"], "seconds": result["seconds"]}


def _score_key(task: str) -> str:
    return "val_accuracy" if task == "classification" else "val_mae"


def cross_validate(exp, t: dict, task: str, build, folds: int, epochs: int, batch_size: int) -> np.ndarray:
    """(folds, epochs) array of each fold's per-epoch validation score."""
    from dllaunchpad.datasets.boston import fold_ids

    fold = torch.from_numpy(fold_ids(len(t["y_train"]), folds))
    curves = []
    for i in range(folds):
        held = fold == i
        run = fit_one(exp, build, (t["x_train"][~held], t["y_train"][~held]), (t["x_train"][held], t["y_train"][held]),
                      epochs=epochs, batch_size=batch_size, seed=exp.seed + 1 + i)
        curves.append([row[_score_key(task)] for row in run["history"]])
    return np.asarray(curves, dtype=np.float64)


def _cv_metrics(curves: np.ndarray, task: str) -> dict:
    what = "accuracy" if task == "classification" else "mae"
    scores, mean_curve = curves[:, -1], curves.mean(axis=0)
    best = mean_curve.argmax() if task == "classification" else mean_curve.argmin()
    out = {f"cv_fold_{i + 1}_{what}": float(v) for i, v in enumerate(scores)}
    out.update({f"cv_mean_{what}": float(scores.mean()), f"cv_std_{what}": float(scores.std()),
                "cv_folds": int(len(scores)), "cv_epochs": int(curves.shape[1]),
                "cv_best_mean_epoch": int(best + 1), f"cv_best_mean_{what}": float(mean_curve[best])})
    return out


def _cv_figure(curves: np.ndarray, task: str, name: str, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots()
    epochs = np.arange(1, curves.shape[1] + 1)
    for i, c in enumerate(curves):
        ax.plot(epochs, c, lw=0.8, alpha=0.45, label=f"fold {i + 1}")
    ax.plot(epochs, curves.mean(axis=0), color="#000000", lw=2, label=f"mean of {len(curves)} folds")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy" if task == "classification" else "validation MAE")
    ax.set_title(f"{name}: {len(curves)}-fold cross-validation")
    ax.legend(ncol=2)
    save(fig, path)


def _history_columns(rows: list[dict]) -> dict[str, list[float]]:
    keys = sorted({k for r in rows for k in r})
    return {k: [float(r.get(k, float("nan"))) for r in rows] for k in keys}


def _final_classifier(exp, run: dict, t: dict, classes: list[str], figures_dir: Path) -> dict:
    from dllaunchpad import io
    from dllaunchpad.analysis.figures import curves
    from dllaunchpad.analysis.milestones import epochs_to
    from dllaunchpad.experiments._classification import confusion, confusion_csv, confusion_figure, predict_logits

    logits = predict_logits(run["model"], t["x_test"])
    pred, truth = logits.argmax(1).numpy(), t["y_test"].numpy()
    counts = confusion(truth, pred, len(classes))
    confusion_figure(counts, classes, figures_dir / "confusion_matrix.png",
                     f"{exp.name}: confusion matrix on the {len(truth)} test rows")
    io.write_text(figures_dir / "confusion_matrix.csv", confusion_csv(counts, classes))
    history = _history_columns(run["history"])
    curves(figures_dir / "accuracy.png", history, ["train_accuracy", "val_accuracy"], "accuracy",
           f"{exp.name}: final model, accuracy per epoch", labels={"train_accuracy": "training",
                                                                    "val_accuracy": "test rows"})
    metrics = {"test_accuracy": float((pred == truth).mean()),
               "test_cross_entropy": float(F.cross_entropy(logits, t["y_test"])),
               "test_errors": int((pred != truth).sum()), "classes": len(classes)}
    threshold = exp.spec["evaluate"].get("epochs_to_val_accuracy")
    if threshold is not None:
        epochs, reached = epochs_to(history, "val_accuracy", float(threshold))
        what = f"val_accuracy_{round(float(threshold) * 100):d}"
        metrics.update({f"epochs_to_{what}": epochs, f"reached_{what}": reached})
    return metrics


def _final_regressor(exp, run: dict, t: dict, figures_dir: Path) -> dict:
    from dllaunchpad.analysis.figures import curves, pyplot, save

    with torch.no_grad():
        pred = run["model"](t["x_test"])
    truth = t["y_test"]
    history = _history_columns(run["history"])
    curves(figures_dir / "final_model_mae.png", history, ["train_mae", "val_mae"], "MAE",
           f"{exp.name}: final model, MAE per epoch", labels={"train_mae": "training", "val_mae": "test rows"})
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(truth.numpy(), pred.numpy(), s=14, alpha=0.7)
    lo, hi = float(min(truth.min(), pred.min())), float(max(truth.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], "--", color="#000000", label="perfect prediction")
    ax.set_xlabel("true target")
    ax.set_ylabel("predicted target")
    ax.set_title(f"{exp.name}: final model on the {len(truth)} test rows")
    ax.legend()
    save(fig, figures_dir / "test_predictions.png")
    return {"test_mae": float((pred - truth).abs().mean()), "test_mse": float(((pred - truth) ** 2).mean())}


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad.experiments._many_models import one_thread

    data, ev = exp.spec["data"], exp.spec["evaluate"]
    table = bundled.load(data["name"])
    task = table["task"]
    s = bundled.split(table["x"], table["y"], data.get("test_fraction", 0.2), exp.seed,
                      standardize=data.get("standardize", True))
    t = _tensors(s, task)
    classes = table["classes"]
    build = _builder(exp, t["x_train"].shape[1], len(classes) if classes else None)
    epochs, batch_size = int(ev["epochs"]), int(ev["batch_size"])

    metrics: dict = {"dataset_rows": int(len(table["y"])), "train_rows": int(len(t["y_train"])),
                     "test_rows": int(len(t["y_test"])), "features": int(t["x_train"].shape[1]), "task": task,
                     "data_source": table["source"]}
    final_epochs = ev.get("final_epochs", epochs)
    with one_thread():  # small models: a second intra-op thread mostly waits (_many_models.one_thread)
        if ev.get("folds"):
            cv = cross_validate(exp, t, task, build, int(ev["folds"]), epochs, batch_size)
            _cv_figure(cv, task, exp.name, figures_dir / "cv_curves.png")
            metrics.update(_cv_metrics(cv, task))
            if final_epochs == "cv_best":
                final_epochs = metrics["cv_best_mean_epoch"]
        elif final_epochs == "cv_best":
            raise ValueError(f"{exp.name}: evaluate.final_epochs cv_best needs evaluate.folds")
        run = fit_one(exp, build, (t["x_train"], t["y_train"]), (t["x_test"], t["y_test"]),
                      epochs=int(final_epochs), batch_size=batch_size, seed=exp.seed)
    metrics["final_epochs"] = int(final_epochs)
    metrics["parameters"] = sum(p.numel() for p in run["model"].parameters())
    if task == "classification":
        metrics.update(_final_classifier(exp, run, t, classes, figures_dir))
    else:
        metrics.update(_final_regressor(exp, run, t, figures_dir))
    metrics["final_fit_seconds"] = round(run["seconds"], 3)  # moved to run.json (a wall-clock key)
    return metrics
