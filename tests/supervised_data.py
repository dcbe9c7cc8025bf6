"""Small data for the supervised-example tests (issue 3), written in the prepared layout the
families read (data/processed/<dataset>/ under a temporary root)."""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

import numpy as np
import torch

from dllaunchpad import datasets
from dllaunchpad.pipeline.config import deep_merge
from dllaunchpad.pipeline.registry import Experiment


@contextlib.contextmanager
def one_thread():
    """Tests train tiny models: one intra-op thread, so a busy CPU is not oversubscribed (torch's
    threads spin-wait for each other; on 2 shared cores that costs far more than it gains)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def write_synthetic_mnist(processed: Path, n_train: int = 600, n_test: int = 200, seed: int = 0,
                          label_noise: float = 0.0) -> None:
    """MNIST-shaped digits that a small net learns in a few epochs: each class is a fixed random
    pattern of bright pixels plus per-image noise. Same files and keys as datasets/mnist.py.
    `label_noise`: the fraction of training labels replaced by random ones (something for a big
    network to memorise, so its validation loss turns up and early stopping has work)."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((10, 28, 28)) > 0.8
    processed.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        y = rng.integers(0, 10, n)
        x = (prototypes[y] * 190 + rng.integers(0, 65, (n, 28, 28))).astype(np.uint8)
        if split == "train" and label_noise:
            flip = rng.random(n) < label_noise
            y = np.where(flip, rng.integers(0, 10, n), y)
        noisy = np.clip(x / 255 + 0.4 * rng.standard_normal(x.shape), 0, 1).astype(np.float32)
        np.savez(processed / f"{split}.npz", x=x, y=y.astype(np.int64), index=np.arange(n), x_noisy=noisy)


RPS_LABELS = ["rock", "paper", "scissors"]


def rps_png(label: int, k: int, rng: np.random.Generator) -> bytes:
    """300x300 RGB: rock = a filled disc, paper = a filled square, scissors = two crossed bars,
    at a jittered position, on a noisy background."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(rng.integers(0, 60, (300, 300, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    cx, cy = 150 + int(rng.integers(-30, 31)), 150 + int(rng.integers(-30, 31))
    colour = (230, 200, 170)
    if label == 0:
        draw.ellipse([cx - 80, cy - 80, cx + 80, cy + 80], fill=colour)
    elif label == 1:
        draw.rectangle([cx - 90, cy - 90, cx + 90, cy + 90], fill=colour)
    else:
        draw.line([cx - 100, cy - 100, cx + 100, cy + 100], fill=colour, width=30)
        draw.line([cx - 100, cy + 100, cx + 100, cy - 100], fill=colour, width=30)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def write_rps_zips(raw: Path, n_train: int = 60, n_test: int = 24, seed: int = 0) -> None:
    """rps.zip / rps-test-set.zip in the canonical layout (<top>/<label>/<name>.png)."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True, exist_ok=True)
    for zip_name, top, n, prefix in (("rps.zip", "rps", n_train, ""), ("rps-test-set.zip", "rps-test-set", n_test, "test")):
        with zipfile.ZipFile(raw / zip_name, "w") as z:
            for k in range(n):
                label = RPS_LABELS[k % 3]
                z.writestr(f"{top}/{label}/{prefix}{label}01-{k:03d}.png", rps_png(k % 3, k, rng))


def prepare_from_mirror(mirror_dir: Path, name: str, root: Path, pp: dict) -> Path:
    """Prepare a small real dataset (iris, boston, sunspots) from the offline mirror into root."""
    out = root / "data" / "processed" / name
    datasets.prepare(name, mirror_dir, out, pp)
    return out


def experiment(params: dict, name: str, **override) -> Experiment:
    """The registry entry `name` with `override` deep-merged into its spec, resolved against
    `params` in the current folder: put it under a test's root with `.at(root)`."""
    return Experiment.resolve(name, deep_merge(params["experiments"][name], override), params)
