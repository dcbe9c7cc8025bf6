"""In-memory batching: the data lives in tensors and a batch is an index into them.

For data that fits in memory this is much cheaper than a per-sample `Dataset.__getitem__` plus
`collate` (see benchmarks/); the order is drawn from a seeded generator, so runs repeat exactly.

Step groups: Lightning spends about 0.4 ms of bookkeeping (hooks, progress counters, the
optimizer closure) on every batch it fetches, as much as a whole MNIST MLP step on a CPU. A
training loader may therefore hand Lightning a `StepGroup` of several consecutive mini-batches
at a time; `models/supervised.py` makes one optimizer step per mini-batch, so the sequence of
steps, and every number, is that of one mini-batch per Lightning batch
(benchmarks/training_overhead.py measures the difference).
"""

from __future__ import annotations

import math

import lightning as L
import torch


class StepGroup(list):
    """Consecutive mini-batches (tuples of tensors) that one Lightning training batch carries:
    the module makes one optimizer step for each, in order."""


def limited_steps(n: int, limit: int | float | None) -> int:
    """Lightning's `limit_train_batches` applied to `n` mini-batches: an int caps the count, a
    float in (0, 1] keeps that fraction (rounded down, at least one)."""
    if limit is None:
        return n
    if isinstance(limit, float) and limit <= 1.0:
        return max(1, int(n * limit)) if n else 0
    return min(n, int(limit))


class TensorBatches:
    """An iterable of batches `(t[idx] for t in tensors)`; reshuffled each pass when `shuffle`.

    Under DDP every rank must see its own part of each epoch (Lightning shards a torch
    DataLoader with a DistributedSampler, but this is a plain iterable): all ranks draw the same
    seeded permutation and rank r takes every `world_size`-th index from position r, padded by
    wrapping around (as DistributedSampler does) so that every rank runs the same number of
    steps. `rank`/`world_size` default to torch.distributed's when it is initialized, else 0/1.

    The generator's state is part of the training state: `state_dict()` / `load_state_dict()`
    let a resumed run draw the same permutations as an uninterrupted one.

    `steps_per_item` > 1 yields `StepGroup`s of that many mini-batches (the last may be
    shorter); `limit_steps` keeps only the first mini-batches of each pass (see limited_steps).
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool, seed: int = 0,
                 drop_last: bool = False, rank: int | None = None, world_size: int | None = None,
                 steps_per_item: int = 1, limit_steps: int | float | None = None):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorBatches needs tensors of equal first dimension")
        if (rank is None) != (world_size is None):
            raise ValueError("TensorBatches: give both rank and world_size, or neither")
        if world_size is not None and not 0 <= rank < world_size:
            raise ValueError(f"TensorBatches: rank {rank} is not in [0, {world_size})")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._rank, self._world_size = rank, world_size
        if steps_per_item < 1:
            raise ValueError(f"TensorBatches: steps_per_item must be >= 1, got {steps_per_item}")
        self.steps_per_item, self.limit_steps = steps_per_item, limit_steps
        self.generator = torch.Generator().manual_seed(seed)

    def shard(self) -> tuple[int, int]:
        """(rank, world_size) this iterable serves."""
        if self._world_size is not None:
            return self._rank, self._world_size
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _rank_size(self) -> int:
        """Samples per rank per epoch (the padded share)."""
        return math.ceil(len(self.tensors[0]) / self.shard()[1])

    def steps(self) -> int:
        """Mini-batches per pass (after limit_steps)."""
        n = self._rank_size()
        n = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return limited_steps(n, self.limit_steps)

    def __len__(self) -> int:
        """Items per pass: mini-batches, or step groups."""
        return math.ceil(self.steps() / self.steps_per_item)

    def rank_indices(self, order: torch.Tensor) -> torch.Tensor:
        """This rank's share of one epoch's order: order[rank::world] after padding the order
        to a multiple of world_size with its own first entries."""
        rank, world = self.shard()
        if world == 1:
            return order
        total = self._rank_size() * world
        if total > len(order):
            wrap = order.repeat(math.ceil(total / len(order)))  # tiny data: wrap more than once
            order = torch.cat([order, wrap[: total - len(order)]])
        return order[rank:total:world]

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = self.rank_indices(order)
        batches = (tuple(t[idx] for t in self.tensors)
                   for idx in (order[i * self.batch_size:(i + 1) * self.batch_size] for i in range(self.steps())))
        if self.steps_per_item == 1:
            yield from batches
            return
        group = StepGroup()
        for batch in batches:
            group.append(batch)
            if len(group) == self.steps_per_item:
                yield group
                group = StepGroup()
        if group:
            yield group

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class TensorDataModule(L.LightningDataModule):
    """A DataModule over in-memory (x, y) tensors with optional validation/test parts."""

    def __init__(self, train: tuple[torch.Tensor, ...], val: tuple[torch.Tensor, ...] | None = None,
                 test: tuple[torch.Tensor, ...] | None = None, *, batch_size: int, seed: int = 0,
                 shuffle: bool = True):
        super().__init__()
        self.train, self.val, self.test = train, val, test
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        # set by train.fit for modules that take StepGroups (see the module docstring)
        self.steps_per_item: int = 1
        self.limit_train_steps: int | float | None = None
        self._train_batches: TensorBatches | None = None
        self._restored_train_state: dict | None = None
        # Lightning runs a loop for every *_dataloader hook a DataModule has; hide the hooks of
        # the parts we were not given, so it neither warns nor runs an empty loop.
        if val is None:
            self.val_dataloader = None
        if test is None:
            self.test_dataloader = None

    def train_dataloader(self):
        batches = TensorBatches(*self.train, batch_size=self.batch_size, shuffle=self.shuffle, seed=self.seed,
                                steps_per_item=self.steps_per_item, limit_steps=self.limit_train_steps)
        if self._restored_train_state is not None:  # resuming: continue the shuffle stream
            batches.load_state_dict(self._restored_train_state)
            self._restored_train_state = None
        self._train_batches = batches
        return batches

    # Lightning saves these with every checkpoint and restores them before asking for the
    # dataloaders, so a resumed run sees the same batch order as an uninterrupted one.
    def state_dict(self) -> dict:
        return {"train_batches": self._train_batches.state_dict()} if self._train_batches is not None else {}

    def load_state_dict(self, state: dict) -> None:
        self._restored_train_state = state.get("train_batches")

    def val_dataloader(self):
        return TensorBatches(*self.val, batch_size=self.batch_size, shuffle=False)

    def test_dataloader(self):
        return TensorBatches(*self.test, batch_size=self.batch_size, shuffle=False)
