"""Small helpers shared by the dataset modules: parameter defaults and atomic ``.npz`` output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dllaunchpad import io


def params(pp: dict | None, defaults: dict, dataset: str) -> dict:
    """``defaults`` overlaid with ``pp``; unknown keys are an error (they are almost always typos)."""
    pp = dict(pp or {})
    unknown = sorted(set(pp) - set(defaults))
    if unknown:
        raise ValueError(f"{dataset}: unknown preprocess parameter(s) {unknown}; "
                         f"expected a subset of {sorted(defaults)}")
    return {**defaults, **pp}


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Write an uncompressed ``.npz`` atomically (np.savez would leave a partial file if killed)."""
    with io.atomic_path(path) as tmp:
        # Through an open file: given a bare path, np.savez appends ".npz" when it is missing.
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return Path(path)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickles: all our arrays are numeric or fixed-width strings)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def unit_float32(x: np.ndarray) -> np.ndarray:
    """8-bit pixels as float32 in [0, 1]: Keras' x.astype('float32') / 255, bit for bit, with the
    division done in place. That spares a second array: MNIST's training split is 188 MB of
    float32, and a new array's page faults cost more than the division."""
    out = x.astype(np.float32)
    out /= 255
    return out


def require(path: Path, dataset: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{dataset}: raw file {path} is missing (run the download step first)")
    return path
