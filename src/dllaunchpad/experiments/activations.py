"""Chapter 31.2.2: activation functions, and saturation in deep nets.

- functions.png: ReLU, leaky ReLU (alpha 0.01), absolute-value rectification, parametric ReLU
  (alpha learned), sigmoid and tanh, each with its derivative (autograd), one panel each. The
  ReLU family is one module, a(z, alpha) = max(0, z) + alpha min(0, z) (models/activations.py).
- prelu_alpha.png: the learned alpha of each hidden layer, epoch by epoch, while the chapter's
  MNIST MLP (784-256-128-10) with parametric ReLUs trains (alpha starts at 0.25, He et al. 2015);
  the functions figure draws the PReLU with the alpha learned in the first hidden layer.
- saturation.png: at initialisation, on one batch of MNIST, the gradient norm ||dL/dW_l|| of
  every layer of a deep net (`model.depth` hidden layers of `model.width` units, Keras'
  Glorot-uniform init for all) with sigmoid, tanh and ReLU units, averaged over
  `evaluate.init_seeds` initialisations; and the mean derivative a'(z_l) per layer, the factor
  by which backpropagation multiplies the gradient at each layer. Sigmoid's a' <= 1/4 shrinks
  it layer after layer (the vanishing gradient, footnote 29).

Compute-only family (see _many_models for why the PReLU net is trained with training.fit here).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import nn

from dllaunchpad.models.activations import ACTIVATIONS, GeneralizedReLU, derivative, make_activation
from dllaunchpad.models.configurable_mlp import ConfigurableMLP, evaluate_split
from dllaunchpad.experiments._many_models import fit_model, mnist_splits, one_thread

TITLES = {"relu": "ReLU", "leaky_relu": "leaky ReLU (α = 0.01)", "abs": "absolute value (α = -1)",
          "prelu": "parametric ReLU", "sigmoid": "sigmoid", "tanh": "tanh"}


class AlphaHistory(L.Callback):
    """The learned alpha of every PReLU layer at the start and after each epoch."""

    def __init__(self):
        self.alphas: list[list[float]] = []

    def _record(self, pl_module):
        self.alphas.append([a.alpha.detach().item() for a in pl_module.activations])

    def on_train_start(self, trainer, pl_module):
        self._record(pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        self._record(pl_module)


def train_prelu(exp, splits: dict) -> dict:
    settings = exp.spec["evaluate"]
    history = AlphaHistory()
    run = fit_model(lambda: ConfigurableMLP(exp.spec["model"]["prelu_hidden"], exp.spec["optimizer"], activation="prelu"),
                    splits, epochs=settings["prelu_epochs"], batch_size=settings["batch_size"],
                    seed=exp.seed, want_gpu=exp.gpu, callbacks=[history])
    return {**run, "alphas": np.array(history.alphas), "val": evaluate_split(run["model"], *splits["val"])}


def saturation(exp, x: torch.Tensor, y: torch.Tensor) -> dict[str, dict[str, np.ndarray]]:
    """Per activation: gradient norms of each layer's weights (hidden layers then the output)
    and the mean |a'(z_l)| per hidden layer, at initialisation, averaged over seeds."""
    model_cfg, settings = exp.spec["model"], exp.spec["evaluate"]
    hidden = [model_cfg["width"]] * model_cfg["depth"]
    seed0 = exp.seed
    out = {}
    for name in settings["saturation_activations"]:
        norms, slopes = [], []
        for k in range(settings["init_seeds"]):
            torch.manual_seed(seed0 + k)
            net = ConfigurableMLP(hidden, {"name": "sgd", "lr": 0.1}, activation=name)  # optimizer unused
            zs, _, logits = net.layer_outputs(x)
            nn.functional.cross_entropy(logits, y).backward()
            layers = [*net.hidden_layers, net.output]
            norms.append([layer.weight.grad.norm().item() for layer in layers])
            slopes.append([derivative(act, z).abs().mean().item() for act, z in zip(net.activations, zs)])
        out[name] = {"grad_norm": np.mean(norms, 0), "mean_derivative": np.mean(slopes, 0)}
    return out


def plot_functions(learned_alpha: float, path: Path) -> dict[str, np.ndarray]:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    plt = pyplot()
    z = torch.linspace(-4, 4, 401)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.2), sharex=True)
    series = {"z": z.numpy()}
    for ax, name in zip(axes.flat, ACTIVATIONS):
        act = GeneralizedReLU(learned_alpha) if name == "prelu" else make_activation(name)
        with torch.no_grad():
            a = act(z)
        da = derivative(act, z)
        series[name], series[f"{name}_derivative"] = a.numpy(), da.numpy()
        ax.plot(z, a, color=OKABE_ITO[0], lw=2, label="a(z)")
        ax.plot(z, da, color=OKABE_ITO[3], lw=2, ls="--", label="a'(z)")
        ax.axhline(0, color="black", lw=0.6)
        ax.axvline(0, color="black", lw=0.6)
        title = TITLES[name] + (f", learned α = {learned_alpha:.3f}" if name == "prelu" else "")
        ax.set_title(title, fontsize=11)
        ax.legend(loc="upper left", fontsize=9)
    for ax in axes[1]:
        ax.set_xlabel("z (pre-activation)")
    for ax in axes[:, 0]:
        ax.set_ylabel("a(z), a'(z)")
    fig.suptitle("Activation functions (solid) and their derivatives (dashed)")
    save(fig, path)
    return series


def plot_alphas(alphas: np.ndarray, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots()
    epochs = np.arange(len(alphas))
    for layer in range(alphas.shape[1]):
        ax.plot(epochs, alphas[:, layer], marker="o", label=f"hidden layer {layer + 1}")
    ax.axhline(0, color="grey", ls=":", lw=1, label="α = 0: ReLU (α < 0 leans towards |z|)")
    ax.set_xlabel("epoch (0 = initial value)")
    ax.set_ylabel("learned α")
    ax.set_title("Parametric ReLU on MNIST: the negative-side slope α per layer")
    ax.legend()
    save(fig, path)


def plot_saturation(sat: dict, depth: int, width: int, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    for name, s in sat.items():
        left.plot(np.arange(1, len(s["grad_norm"]) + 1), s["grad_norm"], marker="o", label=TITLES[name])
        right.plot(np.arange(1, len(s["mean_derivative"]) + 1), s["mean_derivative"], marker="o", label=TITLES[name])
    left.set_yscale("log")
    left.set_xlabel(f"layer (1 = first hidden, {depth + 1} = output)")
    left.set_ylabel("‖∂L/∂W‖ (Frobenius) at initialisation")
    left.set_title(f"Gradient norm per layer, {depth} hidden layers of {width}")
    right.set_xlabel("hidden layer")
    right.set_ylabel("mean |a'(z)| over the batch")
    right.set_title("Mean activation derivative per layer")
    right.set_ylim(bottom=0)
    for ax in (left, right):
        ax.legend()
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    with one_thread():
        return _evaluate(exp, figures_dir)


def _evaluate(exp, figures_dir: Path) -> dict:
    settings, model_cfg = exp.spec["evaluate"], exp.spec["model"]
    splits = mnist_splits(exp)
    prelu = train_prelu(exp, splits)
    first_alpha = float(prelu["alphas"][-1, 0])
    series = plot_functions(first_alpha, figures_dir / "functions.png")
    plot_alphas(prelu["alphas"], figures_dir / "prelu_alpha.png")

    x, y = (t[:settings["saturation_batch"]] for t in splits["train"])
    sat = saturation(exp, x, y)
    plot_saturation(sat, model_cfg["depth"], model_cfg["width"], figures_dir / "saturation.png")
    np.savez_compressed(figures_dir / "series.npz", prelu_alphas=prelu["alphas"], **series,
                        **{f"{n}_{k}": v for n, s in sat.items() for k, v in s.items()})

    metrics: dict = {f"prelu_alpha_layer{i + 1}": float(a) for i, a in enumerate(prelu["alphas"][-1])}
    metrics.update(prelu_val_accuracy=prelu["val"]["accuracy"], prelu_val_loss=prelu["val"]["loss"])
    for name, s in sat.items():
        g = s["grad_norm"]
        metrics[f"{name}_grad_norm_first_layer"] = float(g[0])
        metrics[f"{name}_grad_norm_last_hidden_layer"] = float(g[-2])
        # < 1: the first layer learns slower than the last hidden one (vanishing gradient)
        metrics[f"{name}_grad_norm_ratio_first_to_last_hidden"] = float(g[0] / g[-2])
        metrics[f"{name}_mean_derivative"] = float(np.mean(s["mean_derivative"]))
    return metrics
