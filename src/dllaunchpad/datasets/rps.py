"""Rock-Paper-Scissors (chapter 31.5.4): zips -> tfds array_record -> resized uint8 npz files.

The zips go through tensorflow-datasets without TensorFlow (``tfds_builders.RpsZip``, kept in
``out_dir/tfds``) and are read back with the data-source API using the chapter's splits
``train[:70%]`` / ``train[70%:]`` / ``test``. Outputs ``train.npz``, ``validation.npz`` and
``test.npz`` with ``x`` uint8 (N, S, S, 3) (S = ``image_size``, PIL bilinear resize), ``y`` int64
(0 rock, 1 paper, 2 scissors) and ``member`` (the zip member each image came from).

Order: the generator yields the members sorted by name, keyed by member name like the stock tfds
builder; tfds then stores them in its deterministic key-hash order, which is the order the splits
and the ``max_per_split`` cap follow. (Slicing the name-sorted list instead would put only
scissors, alphabetically last, into the validation split.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dllaunchpad.datasets._common import params, save_npz, unit_float32

ZIPS = {"train": "rps.zip", "test": "rps-test-set.zip"}
DEFAULTS = {"image_size": 128, "train_fraction": 0.7, "max_per_split": None}


def _check_raw(raw_dir: Path) -> dict[str, Path]:
    paths = {split: raw_dir / name for split, name in ZIPS.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"rps: raw file(s) missing: {', '.join(missing)}. RPS has no offline copy (the shared "
            "mirror does not carry it): download rps.zip and rps-test-set.zip, or leave the dataset "
            "out with `skip_datasets: [rps]` in params.yaml.")
    return paths


def resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def prepare(raw_dir: Path, out_dir: Path, pp: dict) -> dict:
    import dllaunchpad.datasets.tfds_builders as tfds_builders

    pp = params(pp, DEFAULTS, "rps")
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    zips = _check_raw(raw_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    builder = tfds_builders.build(tfds_builders.RpsZip(zips=zips, data_dir=str(out_dir / "tfds")))
    members = {split: tfds_builders.rps_members(path) for split, path in zips.items()}

    pct = round(100 * float(pp["train_fraction"]))
    splits = {"train": ("train", f"train[:{pct}%]"), "validation": ("train", f"train[{pct}%:]"),
              "test": ("test", "test")}
    size, cap = int(pp["image_size"]), pp["max_per_split"]
    summary = {"params": pp, "tfds_splits": {k: v[1] for k, v in splits.items()}}
    for name, (source, spec) in splits.items():
        xs, ys, names = [], [], []
        for ex in tfds_builders.read(builder, spec, limit=cap):
            xs.append(resize(ex["image"], size))
            ys.append(ex["label"])
            names.append(members[source][int(ex["index"])])
        x = np.stack(xs) if xs else np.zeros((0, size, size, 3), np.uint8)
        y = np.asarray(ys, np.int64)
        save_npz(out_dir / f"{name}.npz", x=x.astype(np.uint8), y=y, member=np.asarray(names, str))
        summary[name] = {"n": len(y), "shape": list(x.shape),
                         "class_counts": np.bincount(y, minlength=3).tolist()}
    return summary


def load(processed_dir: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(x float32 (N, S, S, 3) in [0, 1], y int64) for split train, validation or test."""
    with np.load(Path(processed_dir) / f"{split}.npz") as f:
        return unit_float32(f["x"]), f["y"]
