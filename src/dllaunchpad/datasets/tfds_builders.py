"""tensorflow-datasets builders for MNIST and Rock-Paper-Scissors that run WITHOUT TensorFlow.

Both builders read the raw files with plain Python (gzip/zipfile + numpy), yield PNG bytes (the
tfds Image feature needs TensorFlow to *encode* arrays, but stores ready-made PNG bytes as they
are) and are written with ``file_format="array_record"``, which the tfds data-source API reads
back without TensorFlow (images are decoded with PIL). Raw paths come in through the
constructor, not the download manager: the pipeline has already downloaded and checked them.

tfds stores records in the order of a hash of each example's key, not in generation order; every
example therefore carries an ``index`` feature so that callers can restore the original order.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

RPS_LABELS = ["rock", "paper", "scissors"]
# Copied from tfds' stock rock_paper_scissors builder (a test checks that they still agree), so that
# we take exactly the members it takes and ignore anything else in the zips.
RPS_NAME_RE = re.compile(r"^(rps|rps-test-set)(?:/|\\)(rock|paper|scissors)(?:/|\\)[\w-]*\.png$")


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def rgb_png(data: bytes) -> bytes:
    """The PNG itself when it is already RGB, else re-encoded as RGB (some RPS PNGs are RGBA)."""
    with Image.open(io.BytesIO(data)) as im:
        if im.mode == "RGB":
            return data
        return png_bytes(np.asarray(im.convert("RGB")))


def rps_members(zip_path: Path) -> list[str]:
    """The image members of an RPS zip that the stock builder would use, sorted by name."""
    with zipfile.ZipFile(zip_path) as z:
        return sorted(n for n in z.namelist() if RPS_NAME_RE.match(n))


class MnistIdx(tfds.core.GeneratorBasedBuilder):
    """MNIST from the four canonical idx gz files; ``indices`` optionally selects a subset per split."""

    VERSION = tfds.core.Version("1.0.0")

    def __init__(self, *, files: dict, indices: dict | None = None, **kwargs):
        self._files = {s: (Path(i), Path(l)) for s, (i, l) in files.items()}  # split -> (images, labels)
        self._indices = indices or {}
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        # DatasetInfo directly: dataset_info_from_configs() looks for metadata files next to the
        # builder's module and crashes outside a tfds dataset package.
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(28, 28, 1)),
            "label": tfds.features.ClassLabel(num_classes=10),
            "index": tfds.features.Scalar(dtype=np.int64),  # position in the idx file
        }))

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in self._files}

    def _generate_examples(self, split):
        from dllaunchpad.datasets.idx import read_idx_pair

        images, labels = read_idx_pair(*self._files[split])
        indices = self._indices.get(split)
        for i in range(len(labels)) if indices is None else indices:
            yield int(i), {"image": png_bytes(images[i]), "label": int(labels[i]), "index": int(i)}


class RpsZip(tfds.core.GeneratorBasedBuilder):
    """Rock-Paper-Scissors from the canonical ``rps.zip`` / ``rps-test-set.zip``.

    Keys are the member names, as in the stock builder, so the record order (and therefore what
    ``train[:70%]`` selects) is the one ``tfds.load('rock_paper_scissors')`` gives.
    """

    VERSION = tfds.core.Version("1.0.0")

    def __init__(self, *, zips: dict, **kwargs):
        self._zips = {s: Path(p) for s, p in zips.items()}  # split -> zip path
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(None, None, 3)),
            "label": tfds.features.ClassLabel(names=RPS_LABELS),
            "index": tfds.features.Scalar(dtype=np.int64),  # position in rps_members(zip)
        }))

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in self._zips}

    def _generate_examples(self, split):
        path = self._zips[split]
        with zipfile.ZipFile(path) as z:
            for i, name in enumerate(rps_members(path)):
                label = RPS_NAME_RE.match(name).group(2)
                yield name, {"image": rgb_png(z.read(name)), "label": label, "index": i}


def build(builder: tfds.core.GeneratorBasedBuilder) -> tfds.core.GeneratorBasedBuilder:
    """Write the builder's splits as array_record files (no downloads, no progress bars)."""
    tfds.disable_progress_bar()
    builder.download_and_prepare(file_format="array_record")
    return builder


def read(builder: tfds.core.GeneratorBasedBuilder, split: str, limit: int | None = None,
         batch: int = 1024):
    """Yield the decoded examples of ``split`` (tfds slicing syntax allowed) in record order."""
    source = builder.as_data_source(split=split)
    n = len(source) if limit is None else min(limit, len(source))
    for start in range(0, n, batch):
        yield from source.__getitems__(list(range(start, min(start + batch, n))))
