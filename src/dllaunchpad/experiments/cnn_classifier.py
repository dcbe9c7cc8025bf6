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

params: model {filters: [f per conv block], pool: [bool per block], dense: [units...],
kernel_size (default 3)}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..batches import TensorDataModule
from ..models.cnn_classifier import CNNClassifier
from . import _classification

RPS_CLASSES = ["rock", "paper", "scissors"]


def _shape(exp, params) -> tuple[int, int, int]:
    """(channels, image size, classes) of the experiment's dataset."""
    if exp.dataset == "mnist":
        return 1, 28, 10
    if exp.dataset == "rps":
        return 3, int(params["datasets"]["rps"]["preprocess"]["image_size"]), 3
    raise ValueError(f"{exp.name}: family cnn_classifier reads mnist or rps, not {exp.dataset!r}")


def model(exp, params) -> CNNClassifier:
    channels, size, n_classes = _shape(exp, params)
    m = exp.spec["model"]
    return CNNClassifier(channels, size, m["filters"], m["pool"], m["dense"], n_classes, exp.spec["optimizer"],
                         kernel_size=m.get("kernel_size", 3))


def to_nchw(x: np.ndarray) -> torch.Tensor:
    """(N, H, W) grayscale or (N, H, W, C) images -> a contiguous float32 (N, C, H, W) tensor."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def load_data(exp, params, root: Path) -> dict:
    """{split: (x NCHW float32, y int64)} for train, val, test, plus class names and the test
    images in display layout."""
    _shape(exp, params)  # names the dataset when it is not one we read
    processed = Path(root) / "data" / "processed" / exp.dataset
    if exp.dataset == "mnist":
        from ..datasets import mnist

        raw = {"train": mnist.load(processed, "train"), "test": mnist.load(processed, "test")}
        raw["val"] = raw["test"]  # the chapter validates on the test set
        classes = [str(d) for d in range(10)]
    else:
        from ..datasets import rps

        raw = {"train": rps.load(processed, "train"), "val": rps.load(processed, "validation"),
               "test": rps.load(processed, "test")}
        classes = RPS_CLASSES
    out = {split: (to_nchw(x), torch.from_numpy(y).long()) for split, (x, y) in raw.items()}
    out["classes"] = classes
    out["test_images"] = raw["test"][0]
    return out


def build(exp, params, root: Path):
    data = load_data(exp, params, root)
    dm = TensorDataModule(data["train"], val=data["val"], batch_size=exp.spec["trainer"]["batch_size"],
                          seed=exp.spec.get("seed", params["seed"]))
    return model(exp, params), dm


def evaluate(exp, params, root: Path, module, figures_dir: Path) -> dict:
    data = load_data(exp, params, root)
    x_test, y_test = data["test"]
    metrics = _classification.report(exp, root, module, x_test, y_test, data["classes"], figures_dir,
                                     images=data["test_images"])
    if exp.dataset == "rps":
        metrics["validation_examples"] = int(len(data["val"][1]))
    return metrics
