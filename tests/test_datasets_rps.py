"""Rock-Paper-Scissors preparation on small generated zips in the canonical layout."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from dllaunchpad import datasets
from dllaunchpad.datasets import rps, tfds_builders

LABELS = ["rock", "paper", "scissors"]


def colour(split: str, k: int) -> tuple[int, int, int]:
    """A solid colour unique to each image, so pixels tell which member an image came from."""
    return (10 * k + 5, 200 if split == "train" else 50, 3 * k)


def png(rgb, mode="RGB") -> bytes:
    im = Image.new("RGB", (300, 300), rgb)
    if mode == "RGBA":
        im = im.convert("RGBA")
        im.putalpha(128)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def write_zip(path, top, n, split):
    members = {}
    with zipfile.ZipFile(path, "w") as z:
        for k in range(n):
            label = LABELS[k % 3]
            name = f"{top}/{label}/{'test' if split == 'test' else ''}{label}01-{k:03d}.png"
            z.writestr(name, png(colour(split, k), "RGBA" if k == 4 else "RGB"))
            members[name] = (k, label)
        z.writestr(f"{top}/README.txt", "not an image")  # ignored: not a .png
        z.writestr(f"__MACOSX/{top}/rock/._rock01-000.png", b"junk")  # ignored: outside rps/
    return members


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("rps")
    members = {"train": write_zip(root / "rps.zip", "rps", 20, "train"),
               "test": write_zip(root / "rps-test-set.zip", "rps-test-set", 6, "test")}
    return root, members


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory):
    root, members = raw
    out = tmp_path_factory.mktemp("out") / "rps"
    summary = datasets.prepare("rps", root, out, {"image_size": 32, "train_fraction": 0.7, "max_per_split": None})
    return out, members, summary


def test_splits_shapes_labels_pixels(prepared):
    out, members, summary = prepared
    seen = {}
    for split, n, source in (("train", 14, "train"), ("validation", 6, "train"), ("test", 6, "test")):
        with np.load(out / f"{split}.npz") as f:
            x, y, names = f["x"], f["y"], list(f["member"])
        assert x.shape == (n, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
        assert summary[split]["n"] == n
        for img, label, name in zip(x, y, names):
            k, folder = members[source][name]
            assert LABELS[label] == folder
            # Solid images stay solid through the resize; the RGBA one (k == 4) lost its alpha only.
            assert (img == np.array(colour(source, k), np.uint8)).all()
        seen[split] = set(names)
    assert seen["train"] | seen["validation"] == set(members["train"])
    assert not seen["train"] & seen["validation"]
    assert seen["test"] == set(members["test"])


def test_load_scales(prepared):
    out, _, _ = prepared
    x, y = rps.load(out, "validation")
    assert x.dtype == np.float32 and x.shape == (6, 32, 32, 3)
    assert 0 <= x.min() and x.max() <= 1 and set(y) <= {0, 1, 2}


def test_cap_is_deterministic_prefix(raw, prepared, tmp_path):
    root, _ = raw
    out, _, _ = prepared
    summary = datasets.prepare("rps", root, tmp_path / "capped", {"image_size": 32, "max_per_split": 4})
    assert [summary[s]["n"] for s in ("train", "validation", "test")] == [4, 4, 4]
    for split in ("train", "validation", "test"):
        full, capped = np.load(out / f"{split}.npz"), np.load(tmp_path / "capped" / f"{split}.npz")
        np.testing.assert_array_equal(capped["member"], full["member"][:4])
        np.testing.assert_array_equal(capped["x"], full["x"][:4])


def test_missing_raw_says_how_to_skip(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no offline copy.*skip_datasets: \[rps\]"):
        datasets.prepare("rps", tmp_path, tmp_path / "out", {})
    assert not (tmp_path / "out").exists()


def test_name_regex_is_the_stock_builders():
    stock = pytest.importorskip(
        "tensorflow_datasets.datasets.rock_paper_scissors.rock_paper_scissors_dataset_builder")
    assert tfds_builders.RPS_NAME_RE.pattern == stock._NAME_RE.pattern
