"""Images in one folder per class (a local-folder dataset of kind images): resized uint8 splits.

Input: ``raw_dir/images/<class>/.../<file>`` as datasets/own_data.py copies it from the reader's
folder (the class is the first folder under it; an archive ``cats.zip`` counts as a folder
``cats``). Output, in the layout of rps (so that loaders of RPS-like data read it):
``train.npz``, ``validation.npz`` and ``test.npz`` with ``x`` uint8 (N, S, S, 3) (RGB, PIL
bilinear resize to S = ``image_size``, aspect ratio not kept, as the chapter resizes RPS), ``y``
int64 (the class's index in the sorted class names) and ``member`` (the image's path under
``images/``); ``summary.json`` names the classes.

Splits are stratified: within each class the images are shuffled with ``split_seed`` and cut into
test (``test_fraction``), validation (``validation_fraction``) and train (the rest), rounding to
whole images. ``max_per_class`` (quick mode) keeps the first images of each class's shuffled order.
An image PIL cannot decode (truncated, corrupt, or a decompression bomb past PIL's pixel limit)
is skipped and listed in the summary.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from dllaunchpad.datasets._common import params, save_npz, unit_float32

log = logging.getLogger(__name__)

RAW_FOLDER = "images"
DEFAULTS = {"image_size": 128, "validation_fraction": 0.15, "test_fraction": 0.15, "split_seed": 0,
            "max_per_class": None}
SPLITS = ("train", "validation", "test")


def class_files(root: Path) -> dict[str, list[str]]:
    """class name -> its image paths relative to ``root``, sorted."""
    out: dict[str, list[str]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            rel = p.relative_to(root).as_posix()
            if "/" in rel:
                out.setdefault(rel.split("/", 1)[0], []).append(rel)
    return out


def decode(path: Path, size: int) -> np.ndarray:
    """(size, size, 3) uint8 RGB; raises on anything PIL cannot decode, bombs included."""
    from PIL import Image

    with warnings.catch_warnings():
        # PIL warns above MAX_IMAGE_PIXELS (89 Mpx) and only refuses at twice that: refuse both.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.uint8)


def split_counts(n: int, validation_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    n_test = int(round(test_fraction * n))
    n_val = int(round(validation_fraction * n))
    return n - n_val - n_test, n_val, n_test


def prepare(raw_dir: Path, out_dir: Path, pp: dict) -> dict:
    pp = params(pp, DEFAULTS, "image_folders")
    root = Path(raw_dir) / RAW_FOLDER
    if not root.is_dir():
        raise FileNotFoundError(f"image_folders: {root} is missing (run the dataset's fetch step first)")
    by_class = class_files(root)
    classes = sorted(by_class)
    if len(classes) < 2:
        raise ValueError(f"image_folders: a classifier needs at least two class folders; {root} has "
                         f"{classes or 'none'} (put each class's images in a folder of its own)")
    if pp["validation_fraction"] + pp["test_fraction"] >= 1:
        raise ValueError("image_folders: validation_fraction + test_fraction must be below 1")
    size, cap = int(pp["image_size"]), pp["max_per_class"]
    rng = np.random.default_rng(int(pp["split_seed"]))
    parts = {s: {"x": [], "y": [], "member": []} for s in SPLITS}
    skipped = []
    for label, name in enumerate(classes):
        order = [by_class[name][i] for i in rng.permutation(len(by_class[name]))]
        images = []
        for rel in order:
            if cap is not None and len(images) >= int(cap):
                break
            try:
                images.append((rel, decode(root / rel, size)))
            except Exception as e:  # PIL raises many types on a broken file
                log.warning("image_folders: skipping %s: %s: %s", rel, type(e).__name__, e)
                skipped.append({"file": rel, "error": f"{type(e).__name__}: {e}"})
        n_train, n_val, _ = split_counts(len(images), pp["validation_fraction"], pp["test_fraction"])
        cuts = {"train": images[:n_train], "validation": images[n_train:n_train + n_val],
                "test": images[n_train + n_val:]}
        for split, chosen in cuts.items():
            for rel, x in chosen:
                parts[split]["x"].append(x)
                parts[split]["y"].append(label)
                parts[split]["member"].append(rel)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"params": pp, "classes": classes, "skipped": skipped}
    for split in SPLITS:
        x = np.stack(parts[split]["x"]) if parts[split]["x"] else np.zeros((0, size, size, 3), np.uint8)
        y = np.asarray(parts[split]["y"], np.int64)
        save_npz(out_dir / f"{split}.npz", x=x, y=y, member=np.asarray(parts[split]["member"], str))
        summary[split] = {"n": len(y), "shape": list(x.shape),
                          "class_counts": np.bincount(y, minlength=len(classes)).tolist()}
    if summary["train"]["n"] == 0:
        raise ValueError(f"image_folders: no image of {root} could be decoded ({len(skipped)} skipped)")
    return summary


def load(processed_dir: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(x float32 (N, S, S, 3) in [0, 1], y int64) for split train, validation or test."""
    with np.load(Path(processed_dir) / f"{split}.npz") as f:
        return unit_float32(f["x"]), f["y"]
