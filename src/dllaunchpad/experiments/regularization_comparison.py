"""Chapter 31.3: regularisers compared on a net that overfits.

An over-parameterised MLP (the chapter's 400-400-400-200 regularization net, ~0.7 M weights) is
trained on a small MNIST subset (`data.train_samples`), so that without help it memorises the
training set and its validation loss turns upwards. The same net, data, seed and optimizer are
then trained with each regulariser:

- none;
- L2 / L1 / elastic net: the chapter's J~(w) = J(w) + lambda Omega(w) added to the loss
  (dllaunchpad.regularization; lambda and the elastic net's alpha in `evaluate`), on every
  Linear weight, not the biases (Keras' kernel_regularizer);
- the elastic net twice, with the same lambda and alpha (`evaluate.elastic_net`), in the two
  weightings of its L2 part (models/regularization.py): `elastic_net` is glmnet's
  lambda [alpha ||w||_1 + (1 - alpha)/2 ||w||^2] (the library the chapter's footnote 35 names; the
  run this family always had, its numbers unchanged), `elastic_net_chapter` is 31.3.1's printed
  lambda [alpha ||w||_1 + (1 - alpha) ||w||^2] (twice the L2 weight). The metrics
  `elastic_net_weighting` and `elastic_net_chapter_weighting` say which is which;
- dropout after every hidden layer (`evaluate.dropout.rate`);
- early stopping on the validation loss with the best epoch's weights restored (the runner's
  early_stopping with restore_best, Keras' restore_best_weights).

Figures: curves.png (training and validation loss per epoch, one panel per regulariser),
val_loss.png (the validation curves on one plot), weights.png (the distribution of log10 |w|
for none, L2, L1 and the elastic net; the legend gives the fraction of weights with |w| below
`evaluate.sparsity_threshold`, L1's sparsity against L2's merely small weights).

A plain gradient step never puts a weight exactly at 0: under L1 a weight the data does not
need oscillates around 0 with an amplitude of about one step, which is why sparsity is counted
as |w| < threshold (1e-3) rather than w = 0.
Compute-only family (see _many_models for why each variant is trained with training.fit here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.models.configurable_mlp import ConfigurableMLP, evaluate_split
from dllaunchpad.models.regularization import kernel_weights
from dllaunchpad.experiments._many_models import finite_or_none, fit_model, mnist_splits, one_thread

# elastic_net_chapter is trained last, so the runs before it are the ones this family always had.
VARIANTS = ("none", "l2", "l1", "elastic_net", "dropout", "early_stopping", "elastic_net_chapter")
LABELS = {"none": "no regularisation", "l2": "L2", "l1": "L1", "elastic_net": "elastic net (glmnet weighting)",
          "dropout": "dropout", "early_stopping": "early stopping",
          "elastic_net_chapter": "elastic net (chapter 31.3.1 weighting)"}
ELASTIC_NET_WEIGHTINGS = {
    "elastic_net": "glmnet: lam [alpha ||w||_1 + (1 - alpha)/2 ||w||_2^2]",
    "elastic_net_chapter": "chapter 31.3.1: lam [alpha ||w||_1 + (1 - alpha) ||w||_2^2]",
}


# Figures keep the two elastic nets side by side.
DISPLAY_ORDER = ("none", "l2", "l1", "elastic_net", "elastic_net_chapter", "dropout", "early_stopping")


def variant_settings(name: str, settings: dict) -> tuple[dict, dict | None]:
    """(ConfigurableMLP keyword arguments, early-stopping config or None) of one variant."""
    if name in ("l1", "l2", "elastic_net"):
        return {"penalty_spec": {"kind": name, **settings[name]}}, None
    if name == "elastic_net_chapter":  # same lambda and alpha, the chapter's L2 weight (1 - alpha)
        return {"penalty_spec": {"kind": "elastic_net", **settings["elastic_net"], "weighting": "chapter"}}, None
    if name == "dropout":
        return {"dropout": settings["dropout"]["rate"]}, None
    if name == "early_stopping":
        return {}, {"monitor": "val_loss", "mode": "min", **settings["early_stopping"]}
    return {}, None


def weights_of(model) -> np.ndarray:
    return torch.cat([w.detach().flatten() for w in kernel_weights(model)]).numpy()


def plot_curves(runs: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(2, 4, figsize=(17, 7.5), sharex=True, sharey=True)
    axes.flat[-1].set_visible(False)  # 7 regularisers, 8 panels
    for ax, name in zip(axes.flat, DISPLAY_ORDER):
        h = runs[name]["history"]
        epochs = [r["epoch"] for r in h]
        ax.plot(epochs, [r["train_loss"] for r in h], color=OKABE_ITO[0], label="training (cross-entropy)")
        ax.plot(epochs, [r["val_loss"] for r in h], color=OKABE_ITO[3], label="validation")
        if runs[name]["best_epoch"]:
            ax.axvline(runs[name]["best_epoch"], color="grey", ls=":", label=f"restored epoch {runs[name]['best_epoch']}")
        ax.set_yscale("log")
        ax.set_title(LABELS[name])
        ax.legend(fontsize=8)
    for ax in (*axes[1], axes[0, 3]):  # axes[0, 3] sits above the empty panel
        ax.set_xlabel("epoch")
        ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("cross-entropy")
    fig.suptitle("Training and validation loss per epoch, per regulariser (same net, data and seed)")
    save(fig, path)


def plot_val_losses(runs: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for name in DISPLAY_ORDER:
        h = runs[name]["history"]
        ax.plot([r["epoch"] for r in h], [r["val_loss"] for r in h], label=LABELS[name])
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation cross-entropy")
    ax.set_title("Validation loss per regulariser")
    ax.legend()
    save(fig, path)


def plot_weights(runs: dict, threshold: float, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    bins = np.linspace(-8, 0, 81)
    for name in ("none", "l2", "l1", "elastic_net", "elastic_net_chapter"):
        w = np.abs(runs[name]["weights"])
        logw = np.log10(np.maximum(w, 1e-8))
        ax.hist(logw, bins=bins, histtype="step", lw=1.8, density=True,
                label=f"{LABELS[name]}: {np.mean(w < threshold):.1%} of |w| < {threshold:g}")
    ax.axvline(np.log10(threshold), color="grey", ls=":")
    ax.set_xlabel("log10 |w| (weights of all layers; |w| < 1e-8 counted at -8)")
    ax.set_ylabel("density")
    ax.set_title("Trained weights: L1 drives many to ~0, L2 makes them small")
    ax.legend(fontsize=9, loc="upper left")
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    with one_thread():
        return _evaluate(exp, figures_dir)


def _evaluate(exp, figures_dir: Path) -> dict:
    settings, model_cfg = exp.spec["evaluate"], exp.spec["model"]
    splits = mnist_splits(exp)
    seed = exp.seed
    threshold = settings["sparsity_threshold"]
    runs = {}
    for name in VARIANTS:
        model_args, early_stopping = variant_settings(name, settings)
        run = fit_model(lambda: ConfigurableMLP(model_cfg["hidden"], exp.spec["optimizer"],
                                                activation=model_cfg.get("activation", "relu"), **model_args),
                        splits, epochs=settings["epochs"], batch_size=settings["batch_size"], seed=seed,
                        want_gpu=exp.gpu, early_stopping=early_stopping)
        run.update(val=evaluate_split(run["model"], *splits["val"]), test=evaluate_split(run["model"], *splits["test"]),
                   train=evaluate_split(run["model"], *splits["train"]), weights=weights_of(run["model"]))
        runs[name] = run

    plot_curves(runs, figures_dir / "curves.png")
    plot_val_losses(runs, figures_dir / "val_loss.png")
    plot_weights(runs, threshold, figures_dir / "weights.png")
    np.savez_compressed(figures_dir / "series.npz", **{
        f"{name}_{key}": np.array([r[key] for r in run["history"]], dtype=float)
        for name, run in runs.items() for key in ("train_loss", "val_loss")},
        **{f"{name}_weights": run["weights"] for name, run in runs.items()})

    metrics: dict = {}
    for name, run in runs.items():
        w = np.abs(run["weights"])
        val_curve = [r["val_loss"] for r in run["history"]]
        metrics.update({
            f"{name}_train_loss": finite_or_none(run["train"]["loss"]),
            f"{name}_val_loss": finite_or_none(run["val"]["loss"]),
            f"{name}_val_accuracy": run["val"]["accuracy"],
            f"{name}_test_accuracy": run["test"]["accuracy"],
            # how far the last epoch's validation loss rose above its best: overfitting
            f"{name}_val_loss_rise": finite_or_none(val_curve[-1] - min(val_curve)),
            f"{name}_sparsity": float(np.mean(w < threshold)),
            f"{name}_mean_abs_weight": float(w.mean()),
            f"{name}_epochs_run": run["epochs_run"],
        })
    metrics["early_stopping_best_epoch"] = runs["early_stopping"]["best_epoch"]
    metrics["elastic_net_weighting"] = ELASTIC_NET_WEIGHTINGS["elastic_net"]
    metrics["elastic_net_chapter_weighting"] = ELASTIC_NET_WEIGHTINGS["elastic_net_chapter"]
    return metrics
