"""Chapter 31.2: the linear regions of the chapter's deep network (5 layers of 10 ReLU units).

The chapter says such a network "can learn" 10^5 = n^L linear regions, where one hidden layer
would need 10^5 units. Here a seeded network of that shape (2 inputs, so the regions can be
drawn) is trained on two moons (seeded, generated: no data set to fetch), and the regions it cuts
from the square [lo, hi]^2 are counted as the distinct activation patterns on a
resolution x resolution grid (analysis/linear_regions.py says why that counts regions), at
initialisation and after training, against:

- the chapter's 10^5 (n^L), and the units one hidden layer needs for it: 99,999 with one input
  (N units cut a line into N + 1 pieces: the chapter's comparison), 447 with two;
- the upper bound for 2 inputs (Serra et al. 2018): 56^5 = 550,731,776, and Montufar et al.'s
  (2014) lower bound on the maximum, 5^8 * 56 = 21,875,000: what *suitable* weights reach over
  the whole plane, not what training finds in a square;
- one layer of the same 50 units: at most 1 + 50 + C(50, 2) = 1,276 regions.

Initialisation: torch's default for nn.Linear (uniform weights and biases), not Keras' zero
biases used elsewhere in the project: with zero biases every unit's boundary (and, the network
then being positively homogeneous, every region) passes through the origin, so the count at
initialisation would only measure angular sectors. The network at initialisation is rebuilt in
evaluate from the seed (the train runner seeds with exp.seed before building, and model() is
built before the data).

params: model {width, depth}; data {train, test, noise, square: [lo, hi]}; evaluate
{resolution}; optimizer and trainer as usual (quick: fewer epochs, a coarser grid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from dllaunchpad.analysis import linear_regions as LR
from dllaunchpad.models.classification import Classifier
from dllaunchpad.training.batches import TensorDataModule

N_INPUTS = 2


def relu_mlp(width: int, depth: int, n_inputs: int = N_INPUTS, n_outputs: int = 2) -> nn.Sequential:
    """n_inputs -> depth x (Linear(width) + ReLU) -> Linear(n_outputs), torch's default init."""
    layers: list[nn.Module] = []
    fan_in = n_inputs
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        fan_in = width
    layers.append(nn.Linear(fan_in, n_outputs))
    return nn.Sequential(*layers)


def model(exp) -> Classifier:
    m = exp.spec["model"]
    return Classifier(relu_mlp(m["width"], m["depth"]), exp.spec["optimizer"])


def two_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles (class 0 above, class 1 below), centred on the origin, with
    Gaussian noise of std `noise`; shuffled."""
    half = n // 2
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t[:half]), np.sin(t[:half])], 1)
    lower = np.stack([1 - np.cos(t[half:]), 0.5 - np.sin(t[half:])], 1)
    x = np.concatenate([upper, lower]) - np.array([0.5, 0.25]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(half), np.ones(n - half)]).astype(np.int64)
    order = rng.permutation(n)
    return x[order].astype(np.float32), y[order]


def load_data(exp) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Training and test moons from their own seeded streams ([seed, 0] and [seed, 1])."""
    d = exp.spec["data"]
    out = {}
    for split, stream in (("train", 0), ("test", 1)):
        x, y = two_moons(int(d[split]), float(d["noise"]), np.random.default_rng([exp.seed, stream]))
        out[split] = (torch.from_numpy(x), torch.from_numpy(y))
    return out


def build(exp):
    module = model(exp)  # before the data, so evaluate can rebuild the same initial weights
    data = load_data(exp)
    dm = TensorDataModule(data["train"], val=data["test"], batch_size=exp.spec["trainer"]["batch_size"],
                          seed=exp.seed)
    return module, dm


def initial_module(exp) -> Classifier:
    """The untrained network the train stage started from: same seeding, same build order."""
    import lightning as L

    L.seed_everything(exp.seed, workers=True, verbose=False)
    return model(exp)


def region_colours(ids: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB: one colour per region id, from a seeded random palette (neighbouring ids
    get unrelated colours, so adjacent regions stand apart), with region boundaries darkened."""
    palette = 0.35 + 0.6 * np.random.default_rng(0).random((int(ids.max()) + 1, 3))
    rgb = palette[ids]
    edge = np.zeros(ids.shape, bool)
    edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    edge[1:, :] |= ids[1:, :] != ids[:-1, :]
    rgb[edge] = 0.15
    return rgb


def _regions_figure(exp, init: dict, trained: dict, trained_module, data: dict, square, path: Path) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    lo, hi = square
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.2))
    for ax, counted, title in ((axes[0], init, "at initialisation"), (axes[1], trained, "after training")):
        ax.imshow(region_colours(counted["ids"]), origin="lower", extent=(lo, hi, lo, hi), interpolation="nearest")
        ax.set_title(f"{title}: {counted['regions']} regions")
        ax.set_xlabel("input 1")
        ax.set_ylabel("input 2")
        ax.grid(False)
    x, y = data["train"]
    for label, colour in ((0, OKABE_ITO[7]), (1, "white")):
        pts = x[y == label][:300]
        axes[1].scatter(pts[:, 0], pts[:, 1], s=6, c=colour, edgecolors=OKABE_ITO[7], linewidths=0.3,
                        label=f"class {label}")
    res = trained["ids"].shape[0]
    with torch.no_grad():
        logits = trained_module(LR.grid(lo, hi, res))
    margin = (logits[:, 1] - logits[:, 0]).reshape(res, res).numpy()
    axis = np.linspace(lo, hi, res)
    axes[1].contour(axis, axis, margin, levels=[0], colors=OKABE_ITO[3], linewidths=2)
    axes[1].legend(loc="upper right", fontsize=9)
    m = exp.spec["model"]
    fig.suptitle(f"Activation regions of a {m['depth']} x {m['width']} ReLU network on [{lo}, {hi}]², "
                 f"one colour per pattern ({res} x {res} grid; red: the decision boundary)")
    save(fig, path)


def _depth_figure(exp, metrics: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    m = exp.spec["model"]
    width, depth = m["width"], m["depth"]
    layers = np.arange(1, depth + 1)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.6, 4.8))
    ax.plot(layers, [metrics[f"regions_init_layers_{k}"] for k in layers], "o-", color=OKABE_ITO[0],
            label="counted, initialisation")
    ax.plot(layers, [metrics[f"regions_trained_layers_{k}"] for k in layers], "o-", color=OKABE_ITO[3],
            label="counted, trained")
    ax.plot(layers, [LR.chapter_count(width, k) for k in layers], "--", color=OKABE_ITO[7],
            label=f"chapter: {width}^layers")
    ax.plot(layers, [LR.upper_bound(N_INPUTS, [width] * k) for k in layers], ":", color=OKABE_ITO[4],
            label="upper bound, 2 inputs (Serra et al.)")
    ax.plot(layers, [LR.shallow_max_regions(N_INPUTS, width * k) for k in layers], "-.", color=OKABE_ITO[2],
            label="one layer of the same units (max)")
    ax.set_yscale("log")
    ax.set_xticks(layers)
    ax.set_xlabel(f"hidden layers counted (of {width} units each)")
    ax.set_ylabel("linear regions")
    ax.set_title("Regions cut by the first k layers, against the bounds")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    save(fig, path)


@torch.no_grad()
def _accuracy(module, x: torch.Tensor, y: torch.Tensor) -> float:
    module.eval()
    return float((module(x).argmax(1) == y).float().mean())


def evaluate(exp, module, figures_dir: Path) -> dict:
    m, d = exp.spec["model"], exp.spec["data"]
    width, depth = m["width"], m["depth"]
    lo, hi = (float(v) for v in d["square"])
    resolution = int(exp.spec["evaluate"]["resolution"])
    start = initial_module(exp).eval()
    module.eval()
    init = LR.count_regions(start.net, lo, hi, resolution)
    trained = LR.count_regions(module.net, lo, hi, resolution)
    # The same count on a grid half as fine: if it is much lower, the fine grid still misses regions.
    coarse = LR.count_regions(module.net, lo, hi, resolution // 2)
    data = load_data(exp)
    chapter = LR.chapter_count(width, depth)
    metrics: dict = {
        "regions_init": init["regions"],
        "regions_trained": trained["regions"],
        "regions_trained_half_grid": coarse["regions"],
        "chapter_region_count": chapter,
        "regions_trained_over_chapter": trained["regions"] / chapter,
        "chapter_shallow_units_1_input": LR.shallow_units_needed(1, chapter),
        "shallow_units_for_chapter_count_2_inputs": LR.shallow_units_needed(N_INPUTS, chapter),
        "upper_bound_2_inputs": LR.upper_bound(N_INPUTS, [width] * depth),
        "montufar_lower_bound_2_inputs": LR.montufar_lower_bound(N_INPUTS, width, depth),
        "one_layer_same_units_max_regions": LR.shallow_max_regions(N_INPUTS, width * depth),
        "grid_points": resolution * resolution,
        "square": f"[{lo:g}, {hi:g}]^2",
        "train_accuracy": _accuracy(module, *data["train"]),
        "test_accuracy": _accuracy(module, *data["test"]),
    }
    for k in range(1, depth + 1):
        metrics[f"regions_init_layers_{k}"] = init["regions_by_depth"][k - 1]
        metrics[f"regions_trained_layers_{k}"] = trained["regions_by_depth"][k - 1]
    _regions_figure(exp, init, trained, module, data, (lo, hi), figures_dir / "regions.png")
    _depth_figure(exp, metrics, figures_dir / "regions_by_depth.png")
    metrics["headline"] = "regions_trained"
    metrics["thumbnail"] = "regions.png"
    return metrics
