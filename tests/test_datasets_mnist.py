"""MNIST preparation on tiny generated idx files (same format as the canonical ones)."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from dllaunchpad import datasets
from dllaunchpad.datasets import mnist
from dllaunchpad.datasets._common import unit_float32

PP = {"noise_factor": 0.4, "noise_seed": 1, "train_samples": None, "test_samples": None}


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    dims = b"".join(d.to_bytes(4, "big") for d in array.shape)
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def make_images(n: int, offset: int) -> np.ndarray:
    """Even images: a ramp unique to the image; odd ones: mid-grey (128) with the id in pixel (0, 0)."""
    ramp = np.arange(784).reshape(28, 28)
    x = np.empty((n, 28, 28), np.uint8)
    for i in range(n):
        x[i] = (ramp + 37 * (i + offset)) % 256 if i % 2 == 0 else 128
        if i % 2:
            x[i, 0, 0] = i + offset
    return x


def write_raw(folder, n_train=20, n_test=10):
    folder.mkdir(parents=True, exist_ok=True)
    data = {"train": (make_images(n_train, 0), np.arange(n_train) % 10),
            "test": (make_images(n_test, 100), (np.arange(n_test) * 3) % 10)}
    for split, (img_name, lbl_name) in mnist.FILES.items():
        x, y = data[split]
        (folder / img_name).write_bytes(gzip.compress(idx_bytes(x, 0x803)))
        (folder / lbl_name).write_bytes(gzip.compress(idx_bytes(y, 0x801)))
    return data


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    data = write_raw(root / "raw")
    summary = datasets.prepare("mnist", root / "raw", root / "out", PP)
    return root, data, summary


def test_shapes_values_and_order(prepared):
    root, data, summary = prepared
    for split, n in (("train", 20), ("test", 10)):
        with np.load(root / "out" / f"{split}.npz") as f:
            assert f["x"].dtype == np.uint8 and f["x"].shape == (n, 28, 28)
            assert f["y"].dtype == np.int64 and f["x_noisy"].dtype == np.float32
            np.testing.assert_array_equal(f["x"], data[split][0])  # exact pixels, idx order
            np.testing.assert_array_equal(f["y"], data[split][1])
            np.testing.assert_array_equal(f["index"], np.arange(n))
        assert summary[split]["n"] == n
    assert (root / "out" / "tfds" / "mnist_idx" / "1.0.0" / "dataset_info.json").is_file()


def test_load_scales_like_keras(prepared):
    root, data, _ = prepared
    x, y = mnist.load(root / "out", "test")
    assert x.dtype == np.float32 and x.shape == (10, 28, 28)
    np.testing.assert_array_equal(x, data["test"][0].astype("float32") / 255)
    np.testing.assert_array_equal(y, data["test"][1])
    noisy, clean = mnist.load_noisy(root / "out", "train")
    assert noisy.shape == clean.shape == (20, 28, 28)


def test_in_place_scaling_is_keras_division_bit_for_bit():
    every_byte = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ours = unit_float32(every_byte)
    assert ours.dtype == np.float32
    assert np.array_equal(ours.view(np.uint32), (every_byte.astype("float32") / 255).view(np.uint32))


def test_noise_clipped_and_distributed(prepared):
    root, data, _ = prepared
    noisy, clean = mnist.load_noisy(root / "out", "train")
    assert noisy.min() >= 0 and noisy.max() <= 1
    grey = noisy[1::2].reshape(10, -1)[:, 1:].ravel()  # the 128-valued pixels of the odd images
    mu = 128 / 255
    # Clipping at 0 and 1 (about 1.25 sigma away) shrinks the spread; compare with the same
    # clipped distribution sampled independently.
    ref = np.clip(mu + 0.4 * np.random.default_rng(12345).standard_normal(10**6), 0, 1)
    assert grey.std() == pytest.approx(ref.std(), abs=0.01)
    assert grey.mean() == pytest.approx(mu, abs=0.01)
    assert np.mean(grey == 0) == pytest.approx(np.mean(ref == 0), abs=0.015)
    # The chapter's formula, with the documented per-split stream.
    expected = mnist.add_noise(data["train"][0], 0.4, np.random.default_rng([1, 0]))
    np.testing.assert_array_equal(noisy, expected)


def test_noise_is_seeded(prepared, tmp_path):
    root, _, _ = prepared
    again = datasets.prepare("mnist", root / "raw", tmp_path / "same", PP)
    other = datasets.prepare("mnist", root / "raw", tmp_path / "other", {**PP, "noise_seed": 2})
    assert again["train"] == other["train"]
    for split in ("train", "test"):
        base = np.load(root / "out" / f"{split}.npz")["x_noisy"]
        np.testing.assert_array_equal(np.load(tmp_path / "same" / f"{split}.npz")["x_noisy"], base)
        assert not np.array_equal(np.load(tmp_path / "other" / f"{split}.npz")["x_noisy"], base)
    # Train and test use separate streams: the first test image's noise is not the first train image's.
    tr, te = (np.load(root / "out" / f"{s}.npz")["x_noisy"][1] for s in ("train", "test"))
    assert not np.array_equal(tr, te)


def test_subsample_is_seeded_sorted_subset(prepared, tmp_path):
    root, data, _ = prepared
    pp = {**PP, "train_samples": 7, "test_samples": 3}
    datasets.prepare("mnist", root / "raw", tmp_path / "a", pp)
    datasets.prepare("mnist", root / "raw", tmp_path / "b", pp)
    with np.load(tmp_path / "a" / "train.npz") as f, np.load(tmp_path / "b" / "train.npz") as g:
        idx = f["index"]
        assert len(idx) == 7 and (np.diff(idx) > 0).all()
        np.testing.assert_array_equal(idx, g["index"])
        np.testing.assert_array_equal(f["x"], data["train"][0][idx])
        np.testing.assert_array_equal(f["y"], data["train"][1][idx])
    assert np.load(tmp_path / "a" / "test.npz")["x"].shape == (3, 28, 28)


@pytest.mark.parametrize("damage", ["magic", "count", "not_gzip"])
def test_bad_idx_file_is_named(tmp_path, damage):
    raw = tmp_path / "raw"
    write_raw(raw)
    bad = raw / "t10k-images-idx3-ubyte.gz"
    if damage == "magic":
        bad.write_bytes(gzip.compress(idx_bytes(make_images(10, 0), 0x804)))
    elif damage == "count":  # header says 10 images, 9 follow
        bad.write_bytes(gzip.compress(idx_bytes(make_images(10, 0), 0x803)[:-784]))
    else:
        bad.write_bytes(b"this is not gzip")
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        datasets.prepare("mnist", raw, tmp_path / "out", PP)
    assert not (tmp_path / "out").exists()


def test_label_count_mismatch(tmp_path):
    raw = tmp_path / "raw"
    write_raw(raw)
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(19), 0x801)))
    with pytest.raises(ValueError, match="20 images.*19 labels"):
        datasets.prepare("mnist", raw, tmp_path / "out", PP)


def test_real_mirror_headers(mirror, tmp_path):
    """The real t10k images and train labels parse, with the well-known first labels."""
    raw = mirror("mnist")
    x = mnist.read_idx(raw / "t10k-images-idx3-ubyte.gz", mnist.IMAGES_MAGIC)
    assert x.shape == (10000, 28, 28)
    y = mnist.read_idx(raw / "train-labels-idx1-ubyte.gz", mnist.LABELS_MAGIC)
    assert len(y) == 60000 and list(y[:4]) == [5, 0, 4, 1]
    shutil.copy(raw / "t10k-labels-idx1-ubyte.gz", tmp_path / "labels.gz")
    with pytest.raises(ValueError, match="labels.gz: bad idx magic"):
        mnist.read_idx(tmp_path / "labels.gz", mnist.IMAGES_MAGIC)
