"""In-memory batching: the data lives in tensors and a batch is an index into them.

For data that fits in memory this is much cheaper than a per-sample `Dataset.__getitem__` plus
`collate` (see benchmarks/); the order is drawn from a seeded generator, so runs repeat exactly.
"""

from __future__ import annotations

import math

import lightning as L
import torch


class TensorBatches:
    """An iterable of batches `(t[idx] for t in tensors)`; reshuffled each pass when `shuffle`."""

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool, seed: int = 0,
                 drop_last: bool = False):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorBatches needs tensors of equal first dimension")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield tuple(t[idx] for t in self.tensors)


class TensorDataModule(L.LightningDataModule):
    """A DataModule over in-memory (x, y) tensors with optional validation/test parts."""

    def __init__(self, train: tuple[torch.Tensor, ...], val: tuple[torch.Tensor, ...] | None = None,
                 test: tuple[torch.Tensor, ...] | None = None, *, batch_size: int, seed: int = 0,
                 shuffle: bool = True):
        super().__init__()
        self.train, self.val, self.test = train, val, test
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        # Lightning runs a loop for every *_dataloader hook a DataModule has; hide the hooks of
        # the parts we were not given, so it neither warns nor runs an empty loop.
        if val is None:
            self.val_dataloader = None
        if test is None:
            self.test_dataloader = None

    def train_dataloader(self):
        return TensorBatches(*self.train, batch_size=self.batch_size, shuffle=self.shuffle, seed=self.seed)

    def val_dataloader(self):
        return TensorBatches(*self.val, batch_size=self.batch_size, shuffle=False)

    def test_dataloader(self):
        return TensorBatches(*self.test, batch_size=self.batch_size, shuffle=False)
