"""Chapter 31.2.3: weight initialisation in a deep net.

A net of `model.depth` hidden layers of `model.width` units (20 in the full setting), with ReLU
and with tanh units, is initialised with each scheme of models/initialization.py -- Glorot,
LeCun and He, normal and uniform, from the chapter's variance formulas -- and with a constant
variance (N(0, std^2) for every layer whatever its fans, `evaluate.constant_std`), the case
footnote 30 warns about.

- activation_variance.png: Var(a_l) of every hidden layer's output at initialisation on a batch
  of MNIST images. A scheme that keeps it level lets the signal through; with a constant std
  the variance grows or decays geometrically (for ReLU by n * std^2 / 2 per layer).
- gradient_variance.png: Var(dL/dW_l) per layer at initialisation, the backward counterpart.
- first_epoch_loss.png: the training loss, step by step, over the first epoch of the chapter's
  SGD with momentum (`optimizer:`), one line per scheme; metrics first_epoch_loss_<activation>_<scheme> are the
  epoch means the runner logs (what Keras prints after epoch 1).

A diverged run (non-finite loss) gets null in the metrics and <...>_diverged = true.
Compute-only family (see _many_models for why the nets are trained with training.fit here).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dllaunchpad.models.configurable_mlp import ConfigurableMLP
from dllaunchpad.experiments._many_models import finite_or_none, fit_model, mnist_splits, one_thread, running_mean


def schemes(settings: dict) -> dict[str, dict]:
    """label -> ConfigurableMLP init arguments: the named schemes, then the constant stds."""
    out = {name: {"init": name} for name in settings["schemes"]}
    for std in settings["constant_std"]:
        out["constant_" + f"{std:g}".replace(".", "_")] = {"init": "constant", "init_std": std}
    return out


RULE_NAMES = {"glorot": "Glorot", "lecun": "LeCun", "he": "He"}


def label(key: str) -> str:
    """'he_normal' -> 'He normal'; 'constant_0_05' -> 'constant σ = 0.05'."""
    if key.startswith("constant_"):
        return "constant σ = " + key[len("constant_"):].replace("_", ".")
    rule, dist = key.split("_")
    return f"{RULE_NAMES[rule]} {dist}"


def signal_at_init(hidden: list[int], activation: str, init: dict, x, y, seed: int) -> dict[str, np.ndarray]:
    torch.manual_seed(seed)
    net = ConfigurableMLP(hidden, {"name": "sgd", "lr": 0.1}, activation=activation, **init)  # optimizer unused
    _, acts, logits = net.layer_outputs(x)
    nn.functional.cross_entropy(logits, y).backward()
    return {"activation_variance": np.array([a.detach().var().item() for a in acts]),
            "gradient_variance": np.array([layer.weight.grad.var().item() for layer in net.hidden_layers])}


def style(scheme: str) -> dict:
    """Colour by variance rule, solid for normal and dash-dot for uniform draws; the constant
    stds in black and grey, dashed."""
    from dllaunchpad.analysis.figures import OKABE_ITO

    if scheme.startswith("constant"):
        return {"color": "#000000" if scheme.endswith("0_05") else "#888888", "ls": "--"}
    rule, dist = scheme.split("_")
    colour = {"glorot": OKABE_ITO[0], "lecun": OKABE_ITO[2], "he": OKABE_ITO[3]}[rule]
    return {"color": colour, "ls": "-" if dist == "normal" else "-."}


def plot_per_layer(results: dict, key: str, ylabel: str, title: str, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    activations = list(results)
    fig, axes = plt.subplots(1, len(activations), figsize=(6.5 * len(activations), 4.8), sharey=True)
    for ax, act in zip(np.atleast_1d(axes), activations):
        for scheme, r in results[act].items():
            values = np.where(np.isfinite(r[key]) & (r[key] > 0), r[key], np.nan)
            ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=label(scheme), **style(scheme))
        ax.set_yscale("log")
        ax.set_xlabel("hidden layer")
        ax.set_title(f"{act if act != 'relu' else 'ReLU'} units")
        ax.legend(fontsize=8, ncol=2, loc="best")
    np.atleast_1d(axes)[0].set_ylabel(ylabel)
    fig.suptitle(title)
    save(fig, path)


def plot_first_epoch(results: dict, smoothing: int, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    top = 3.6  # above ln 10 = 2.30, the loss of a uniform guess (room for the legend above it)
    activations = list(results)
    fig, axes = plt.subplots(1, len(activations), figsize=(6.5 * len(activations), 4.8), sharey=True)
    for ax, act in zip(np.atleast_1d(axes), activations):
        for scheme, r in results[act].items():
            losses = np.asarray(r["step_losses"], dtype=float)
            curve = running_mean(np.where(np.isfinite(losses), losses, np.nan), smoothing)
            name = label(scheme)
            if not np.isfinite(losses).all():
                name += f" (diverged at step {int(np.argmin(np.isfinite(losses))) + 1})"
            elif np.nanmax(curve) > top:
                name += " (loss above the chart)"
            ax.plot(np.arange(1, len(curve) + 1), curve, label=name, **style(scheme))
        ax.axhline(math.log(10), color="grey", ls=":", lw=1)  # chance: ln 10 for 10 classes
        ax.set_ylim(0, top)
        ax.set_xlabel("training step in the first epoch")
        ax.set_title(f"{act if act != 'relu' else 'ReLU'} units")
        ax.legend(fontsize=8, ncol=2, loc="upper right")
    np.atleast_1d(axes)[0].set_ylabel(f"cross-entropy (running mean of {smoothing} steps)")
    fig.suptitle("First epoch of SGD with momentum per initialisation (dotted: ln 10, a uniform guess)")
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    with one_thread():
        return _evaluate(exp, figures_dir)


def _evaluate(exp, figures_dir: Path) -> dict:
    settings, model_cfg = exp.spec["evaluate"], exp.spec["model"]
    hidden = [model_cfg["width"]] * model_cfg["depth"]
    seed = exp.seed
    splits = mnist_splits(exp)
    x, y = (t[:settings["signal_batch"]] for t in splits["train"])

    results: dict = {}
    for act in settings["activations"]:
        results[act] = {}
        for scheme, init in schemes(settings).items():
            r = signal_at_init(hidden, act, init, x, y, seed)
            run = fit_model(lambda: ConfigurableMLP(hidden, exp.spec["optimizer"], activation=act, **init),
                            {"train": splits["train"]}, epochs=1, batch_size=settings["batch_size"], seed=seed,
                            want_gpu=exp.gpu)
            r.update(step_losses=run["step_losses"], first_epoch_loss=run["history"][0]["train_loss"])
            results[act][scheme] = r

    plot_per_layer(results, "activation_variance", "Var(a_l) at initialisation",
                   f"Activation variance per layer ({len(hidden)} hidden layers of {hidden[0]}, MNIST batch)",
                   figures_dir / "activation_variance.png")
    plot_per_layer(results, "gradient_variance", "Var(∂L/∂W_l) at initialisation",
                   "Gradient variance per layer at initialisation", figures_dir / "gradient_variance.png")
    plot_first_epoch(results, settings["smoothing"], figures_dir / "first_epoch_loss.png")
    np.savez_compressed(figures_dir / "series.npz", **{
        f"{act}_{scheme}_{k}": np.asarray(v, dtype=float)
        for act, by_scheme in results.items() for scheme, r in by_scheme.items()
        for k, v in r.items() if k != "first_epoch_loss"})

    metrics: dict = {}
    for act, by_scheme in results.items():
        for scheme, r in by_scheme.items():
            key = f"{act}_{scheme}"
            loss = finite_or_none(r["first_epoch_loss"])
            metrics[f"first_epoch_loss_{key}"] = loss
            metrics[f"diverged_{key}"] = loss is None
            v = r["activation_variance"]
            metrics[f"activation_variance_last_layer_{key}"] = finite_or_none(v[-1])
            # the per-layer growth factor of Var(a_l): 1 keeps the signal level
            ratio = v[-1] / v[0] if v[0] > 0 else float("nan")
            metrics[f"variance_factor_per_layer_{key}"] = finite_or_none(ratio ** (1 / (len(v) - 1)))
    return metrics
