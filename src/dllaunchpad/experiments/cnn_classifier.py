"""Convolutional classifiers: MNIST (chapter 31.8.4) and rock-paper-scissors (31.5.4, with
1 to 4 conv blocks as exercise 31.9.1 asks).

Data: MNIST (N, 28, 28) -> (N, 1, 28, 28), validated on the test set as in the chapter. RPS
(N, S, S, 3) -> (N, 3, S, S) (S = the dataset's image_size, 128 as the chapter), with the
chapter's train[:70%] / train[70%:] / test splits: validation = train[70%:], and the test set is
only used by evaluate.

Keras translation of the RPS input pipeline: `shuffle(1000)` on ~1764 training images is an
approximate shuffle through a 1000-image buffer; we shuffle the whole training set uniformly
each epoch (seeded), which is what the buffer approximates. Images are scaled to [0, 1] and
resized to S x S in preparation (datasets/rps.py; PIL bilinear where the chapter used
tf.image.resize, also bilinear).

Figures beyond the classifier report (_classification.py): for MNIST, the trained first
layer's kernels and the feature maps they make of the first test digit (chapter 31.5.2: each
kernel a "small sliding matrix of weights" sensitive to one pattern; first_layer_feature_maps.png);
for RPS, the chapter's "typical images" (footnote 54): the first training images of each class
(typical_images.png).

params: model {filters: [f per conv block], pool: [bool per block], dense: [units...],
kernel_size (default 3)}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.cnn_classifier import CNNClassifier
from dllaunchpad.experiments import _classification

RPS_CLASSES = ["rock", "paper", "scissors"]


def _check_dataset(exp) -> None:
    if exp.dataset not in ("mnist", "rps"):
        raise ValueError(f"{exp.name}: family cnn_classifier reads mnist or rps, not {exp.dataset!r}")


def rps_image_size(data_dir: Path) -> int:
    """The side S of the prepared RPS images, from the preparation's summary.json (the
    `image_size` it resized to, the S of its (N, S, S, 3) arrays): no image is read."""
    path = Path(data_dir) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no prepared RPS data (the model's input size is read from it); "
                                "prepare the rps dataset first (its preprocess stage)")
    return int(json.loads(path.read_text())["params"]["image_size"])


def _shape(exp) -> tuple[int, int, int]:
    """(channels, image size, classes) of the experiment's dataset."""
    _check_dataset(exp)
    if exp.dataset == "mnist":
        return 1, 28, 10
    return 3, rps_image_size(exp.data_dir), 3


def model(exp) -> CNNClassifier:
    channels, size, n_classes = _shape(exp)
    m = exp.spec["model"]
    return CNNClassifier(channels, size, m["filters"], m["pool"], m["dense"], n_classes, exp.spec["optimizer"],
                         kernel_size=m.get("kernel_size", 3))


def to_nchw(x: np.ndarray) -> torch.Tensor:
    """(N, H, W) grayscale or (N, H, W, C) images -> a contiguous float32 (N, C, H, W) tensor."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def load_data(exp) -> dict:
    """{split: (x NCHW float32, y int64)} for train, val, test, plus class names and the test
    images in display layout, from the experiment's prepared data (exp.data_dir)."""
    _check_dataset(exp)  # names the dataset when it is not one we read
    processed = exp.data_dir
    if exp.dataset == "mnist":
        from dllaunchpad.datasets import mnist

        raw = {"train": mnist.load(processed, "train"), "test": mnist.load(processed, "test")}
        raw["val"] = raw["test"]  # the chapter validates on the test set
        classes = [str(d) for d in range(10)]
    else:
        from dllaunchpad.datasets import rps

        raw = {"train": rps.load(processed, "train"), "val": rps.load(processed, "validation"),
               "test": rps.load(processed, "test")}
        classes = RPS_CLASSES
    out = {split: (to_nchw(x), torch.from_numpy(y).long()) for split, (x, y) in raw.items()}
    out["classes"] = classes
    out["test_images"] = raw["test"][0]
    return out


def build(exp):
    data = load_data(exp)
    dm = TensorDataModule(data["train"], val=data["val"], batch_size=exp.spec["trainer"]["batch_size"],
                          seed=exp.seed)
    return model(exp), dm


@torch.no_grad()
def first_layer_maps(module: CNNClassifier, image: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(kernels (filters, kh, kw) of the first conv layer's first input channel, feature maps
    (filters, H', W') = ReLU(conv(image))) for one (C, H, W) image: what the first layer passes
    on (max pooling, where the block has it, only comes after)."""
    conv = module.net[0]
    module.eval()
    maps = torch.relu(conv(image[None].contiguous(memory_format=torch.channels_last)))[0]
    return conv.weight[:, 0].detach().numpy().copy(), maps.numpy().copy()


def first_layer_figure(exp, module: CNNClassifier, image: torch.Tensor, label: str, path: Path) -> None:
    """The input digit, then each first-layer kernel above the feature map it produces."""
    from dllaunchpad.analysis.figures import pyplot, save

    kernels, maps = first_layer_maps(module, image)
    n, cols = len(kernels), 8
    rows = -(-n // cols)
    plt = pyplot()
    fig = plt.figure(figsize=(3.2 + 1.45 * cols, 2.6 * rows + 0.8))
    grid = fig.add_gridspec(2 * rows, cols + 2, height_ratios=[1, 1.6] * rows)
    ax = fig.add_subplot(grid[:, :2])
    ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"input: first test digit ({label})")
    ax.axis("off")
    lim = float(np.abs(kernels).max()) or 1.0
    top = float(maps.max()) or 1.0
    for f in range(n):
        r, c = divmod(f, cols)
        k_ax, m_ax = fig.add_subplot(grid[2 * r, c + 2]), fig.add_subplot(grid[2 * r + 1, c + 2])
        k_ax.imshow(kernels[f], cmap="cividis", vmin=-lim, vmax=lim)
        k_ax.set_title(f"kernel {f + 1}", fontsize=8)
        m_ax.imshow(maps[f], cmap="gray", vmin=0, vmax=top)
        for a in (k_ax, m_ax):
            a.set_xticks([])
            a.set_yticks([])
            a.grid(False)
    h, w = maps.shape[1:]
    fig.suptitle(f"{exp.name}: the trained first layer's {n} kernels ({kernels.shape[1]} x {kernels.shape[2]}, "
                 f"colour = weight) and their feature maps ReLU(conv), {h} x {w}, of one digit")
    save(fig, path, alt=f"The first test digit ({label}) and, for each of the {n} trained first-layer kernels, "
                        "the kernel's weights above the feature map it produces: each map lights up a "
                        "different edge or stroke direction of the digit.")


def typical_images(x: np.ndarray, y: np.ndarray, per_class: int = 2) -> list[int]:
    """Indices of the first `per_class` images of each class, class by class."""
    return [int(i) for label in range(len(RPS_CLASSES)) for i in np.flatnonzero(y == label)[:per_class]]


def typical_images_figure(exp, path: Path, per_class: int = 2) -> None:
    from dllaunchpad.datasets import rps

    x, y = rps.load(exp.data_dir, "train")
    idx = typical_images(x, y, per_class)
    _classification.image_grid(x[idx], [f"{RPS_CLASSES[y[i]]} (train {i})" for i in idx], path,
                               f"{exp.name}: typical images, the first {per_class} training images of each class",
                               cols=max(1, len(idx)))


def evaluate(exp, module, figures_dir: Path) -> dict:
    data = load_data(exp)
    x_test, y_test = data["test"]
    metrics = _classification.report(exp, module, x_test, y_test, data["classes"], figures_dir,
                                     images=data["test_images"])
    if exp.dataset == "rps":
        metrics["validation_examples"] = int(len(data["val"][1]))
        typical_images_figure(exp, figures_dir / "typical_images.png")
    else:
        first_layer_figure(exp, module, x_test[0], data["classes"][int(y_test[0])],
                           figures_dir / "first_layer_feature_maps.png")
    return metrics
