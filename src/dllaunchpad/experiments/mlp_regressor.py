"""Boston housing regression with k-fold cross-validation (chapter 31.8.3).

Two parts, as in the chapter:

- `build` returns the final model: 128-48-1, trained by the runner on all 404 training rows for
  `trainer.epochs` (80, where the chapter's validation curve flattens); `evaluate` reports its
  test MAE.
- `evaluate` also runs the k-fold cross-validation: one fresh model per fold (the dataset's
  contiguous folds, = the chapter's np.array_split), trained with the same trainer settings
  for `evaluate.cv_epochs` (200) epochs through the one training loop (`training.fit.fit`), validated on the
  held-out fold after every epoch. The chapter trains the folds twice (once for the scores,
  once for the per-epoch curves); one pass gives both: a fold's score is its last epoch's
  validation MAE, the model the chapter's `model.evaluate` scores.

Fold i is seeded with seed + 1 + i, so the folds and the final model start from different
weights, each run reproducible. Outputs: per-fold and mean validation MAE, the mean per-epoch
validation-MAE curve (the first `plot_skip_epochs` epochs left out of the plot, as the
chapter) and its CSV, the final model's learning curve and test predictions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.mlp_regressor import MLPRegressor


def model(exp) -> MLPRegressor:
    return MLPRegressor(13, exp.spec["model"]["hidden"], exp.spec["optimizer"])


def load_data(exp) -> dict[str, torch.Tensor]:
    """The prepared Boston split (exp.data_dir) as float32 tensors, and each training row's fold."""
    from dllaunchpad.datasets import boston

    d = boston.load(exp.data_dir)
    out = {k: torch.from_numpy(d[k].astype(np.float32)) for k in ("x_train", "y_train", "x_test", "y_test")}
    out["fold"] = torch.from_numpy(d["fold"])
    return out


def build(exp):
    d = load_data(exp)
    dm = TensorDataModule((d["x_train"], d["y_train"]), batch_size=exp.spec["trainer"]["batch_size"],
                          seed=exp.seed)
    return model(exp), dm


def cross_validate(exp, d: dict, epochs: int) -> list[list[dict]]:
    """One history (rows per epoch, with val_mae) per fold."""
    import lightning as L

    from dllaunchpad.training.fit import fit

    trainer_cfg = {**exp.spec["trainer"], "epochs": epochs}
    histories = []
    for i in sorted(int(f) for f in d["fold"].unique()):
        held_out = d["fold"] == i
        seed = exp.seed + 1 + i
        L.seed_everything(seed, workers=True, verbose=False)  # before building: the weights draw from it
        dm = TensorDataModule((d["x_train"][~held_out], d["y_train"][~held_out]),
                              val=(d["x_train"][held_out], d["y_train"][held_out]),
                              batch_size=trainer_cfg["batch_size"], seed=seed)
        result = fit(model(exp), dm, trainer_cfg, seed=None, want_gpu=exp.gpu)
        histories.append(result["history"])
    return histories


def _figures(exp, figures_dir: Path, mean_curve: np.ndarray, fold_curves: np.ndarray, skip: int,
             pred: np.ndarray, truth: np.ndarray) -> None:
    from dllaunchpad.analysis.figures import curves, pyplot, read_history, save

    plt = pyplot()
    fig, ax = plt.subplots()
    epochs = np.arange(1, len(mean_curve) + 1)
    for i, c in enumerate(fold_curves):
        ax.plot(epochs[skip:], c[skip:], lw=0.8, alpha=0.45, label=f"fold {i + 1}")
    ax.plot(epochs[skip:], mean_curve[skip:], color="#000000", lw=2, label=f"mean of {len(fold_curves)} folds")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation MAE (k$)")
    ax.set_title(f"Boston: {len(fold_curves)}-fold validation MAE (first {skip} epochs not shown)")
    ax.legend(ncol=2)
    save(fig, figures_dir / "cv_validation_mae.png")

    history = read_history(exp.path(exp.history))
    curves(figures_dir / "final_model_training_mae.png", history, ["train_mae"], "training MAE (k$)",
           "Boston: final model, training MAE per epoch", labels={"train_mae": "all 404 training rows"})

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(truth, pred, s=14, alpha=0.7)
    lo, hi = float(min(truth.min(), pred.min())), float(max(truth.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], "--", color="#000000", label="perfect prediction")
    ax.set_xlabel("true median value (k$)")
    ax.set_ylabel("predicted median value (k$)")
    ax.set_title("Boston: final model on the 102 test rows")
    ax.legend()
    save(fig, figures_dir / "test_predictions.png")


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad import io

    d = load_data(exp)
    with torch.no_grad():
        module.eval()
        pred = module(d["x_test"])
    test_mae = float((pred - d["y_test"]).abs().mean())
    test_mse = float(((pred - d["y_test"]) ** 2).mean())

    ev = exp.spec.get("evaluate", {})
    histories = cross_validate(exp, d, int(ev.get("cv_epochs", 200)))
    fold_curves = np.array([[row["val_mae"] for row in h] for h in histories])
    mean_curve = fold_curves.mean(axis=0)
    header = "epoch," + ",".join(f"fold_{i + 1}_val_mae" for i in range(len(fold_curves))) + ",mean_val_mae"
    rows = [f"{e + 1}," + ",".join(f"{v:.6g}" for v in fold_curves[:, e]) + f",{mean_curve[e]:.6g}"
            for e in range(fold_curves.shape[1])]
    io.write_text(figures_dir / "cv_history.csv", "\n".join([header, *rows]) + "\n")
    _figures(exp, figures_dir, mean_curve, fold_curves, int(ev.get("plot_skip_epochs", 10)),
             pred.numpy(), d["y_test"].numpy())

    fold_scores = fold_curves[:, -1]
    metrics = {f"cv_fold_{i + 1}_mae": float(v) for i, v in enumerate(fold_scores)}
    metrics.update({
        "cv_mean_mae": float(fold_scores.mean()),
        "cv_std_mae": float(fold_scores.std()),
        "cv_epochs": int(fold_curves.shape[1]),
        "cv_best_mean_epoch": int(mean_curve.argmin() + 1),
        "cv_best_mean_mae": float(mean_curve.min()),
        "test_mae": test_mae,
        "test_mse": test_mse,
        "parameters": sum(p.numel() for p in module.parameters()),
    })
    return metrics
