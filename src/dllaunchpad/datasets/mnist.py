"""MNIST (chapter 31.8.4): idx gz files -> tfds array_record -> ``train.npz`` / ``test.npz``.

The images go through tensorflow-datasets without TensorFlow (``tfds_builders.MnistIdx``, kept in
``out_dir/tfds``) and are read back with the data-source API. Each npz holds, in the original idx
order (or the sorted subset, see ``train_samples``/``test_samples``):

- ``x`` uint8 (N, 28, 28), ``y`` int64 (N,), ``index`` int64 (N,): position in the idx file;
- ``x_noisy`` float32 (N, 28, 28) = clip(x/255 + noise_factor * N(0, 1), 0, 1), the denoising
  autoencoder's input, drawn from a numpy Generator seeded with ``[noise_seed, 0]`` (train) or
  ``[noise_seed, 1]`` (test).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from dllaunchpad.datasets._common import params, require, save_npz, unit_float32
from dllaunchpad.datasets.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_idx_pair  # noqa: F401 (API)

log = logging.getLogger(__name__)

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLIT_IDS = {"train": 0, "test": 1}  # stream ids for the seeded generators
DEFAULTS = {"noise_factor": 0.4, "noise_seed": 1, "train_samples": None, "test_samples": None}


def add_noise(x: np.ndarray, noise_factor: float, rng: np.random.Generator) -> np.ndarray:
    """The chapter's noisy digits: x/255 plus scaled standard normal noise, clipped to [0, 1]."""
    clean = unit_float32(x)
    return np.clip(clean + noise_factor * rng.standard_normal(x.shape), 0.0, 1.0).astype(np.float32)


def subset(n: int, k: int | None, rng: np.random.Generator) -> np.ndarray:
    """All of range(n), or k of them drawn by ``rng`` and sorted so the images keep their idx order.

    The draw has its own stream ([seed, 2] / [seed, 3]), so a subset does not shift the noise streams.
    """
    if k is None or k >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, int(k), replace=False))


def prepare(raw_dir: Path, out_dir: Path, pp: dict) -> dict:
    import dllaunchpad.datasets.tfds_builders as tfds_builders

    pp = params(pp, DEFAULTS, "mnist")
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {s: tuple(require(raw_dir / name, "mnist") for name in names) for s, names in FILES.items()}
    seed = int(pp["noise_seed"])
    indices = {split: subset(len(read_idx(labels_path, LABELS_MAGIC)), pp[f"{split}_samples"],
                             np.random.default_rng([seed, 2 + SPLIT_IDS[split]]))
               for split, (_, labels_path) in files.items()}

    t0 = time.perf_counter()
    builder = tfds_builders.build(tfds_builders.MnistIdx(
        files=files, indices=indices, data_dir=str(out_dir / "tfds")))
    # Timings go to the log, not summary.json: the same params must give the same outputs.
    log.info("mnist: tfds array_record store built in %.1f s", time.perf_counter() - t0)

    summary = {"params": pp}
    for split, idx in indices.items():
        position = {int(i): p for p, i in enumerate(idx)}
        x = np.zeros((len(idx), 28, 28), np.uint8)
        y = np.full(len(idx), -1, np.int64)
        for ex in tfds_builders.read(builder, split):
            p = position[int(ex["index"])]
            x[p], y[p] = ex["image"][..., 0], ex["label"]
        if (y < 0).any():
            missing = int((y < 0).sum())
            raise RuntimeError(f"mnist {split}: {missing} examples missing after the tfds round trip")
        rng = np.random.default_rng([seed, SPLIT_IDS[split]])
        save_npz(out_dir / f"{split}.npz", x=x, y=y, index=idx.astype(np.int64),
                 x_noisy=add_noise(x, float(pp["noise_factor"]), rng))
        summary[split] = {"n": len(idx), "shape": list(x.shape),
                          "class_counts": np.bincount(y, minlength=10).tolist()}
    log.info("mnist: prepared in %.1f s", time.perf_counter() - t0)
    return summary


def load(processed_dir: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(x float32 (N, 28, 28) in [0, 1], exactly Keras' ``astype('float32') / 255``, y int64)."""
    with np.load(Path(processed_dir) / f"{split}.npz") as f:
        return unit_float32(f["x"]), f["y"]


def load_noisy(processed_dir: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(x_noisy float32, clean x float32 /255): the denoising autoencoder's input and target."""
    with np.load(Path(processed_dir) / f"{split}.npz") as f:
        return f["x_noisy"], unit_float32(f["x"])
