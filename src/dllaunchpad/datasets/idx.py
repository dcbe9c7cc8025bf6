"""The idx file format of the MNIST downloads (LeCun's): a magic number, the dimensions, then
unsigned bytes. Its own module so that both the MNIST preparation and its tfds builder read it
without importing each other."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801  # unsigned bytes, 3 resp. 1 dimensions


def read_idx(path: Path, magic: int) -> np.ndarray:
    """A gzipped idx file as a uint8 array; a malformed file is a ValueError that names it."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # not gzip, truncated stream, ...
        raise ValueError(f"{path}: not a readable gzip file ({e})") from e
    if len(data) < 4 or int.from_bytes(data[:4], "big") != magic:
        found = data[:4].hex() or "nothing"
        raise ValueError(f"{path}: bad idx magic number 0x{found}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise ValueError(f"{path}: {len(data) - header} data bytes, header announces shape {shape}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path, IMAGES_MAGIC), read_idx(labels_path, LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: images are {images.shape[1:]}, expected (28, 28)")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} has {len(images)} images but {labels_path} {len(labels)} labels")
    return images, labels
