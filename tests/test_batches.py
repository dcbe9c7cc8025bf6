"""TensorBatches under DDP (each rank its own shard of every epoch) and as resumable state,
checked on the CPU by giving rank/world_size explicitly, without starting DDP."""

from __future__ import annotations

import pytest
import torch

from dllaunchpad.training.batches import TensorBatches, TensorDataModule


def _epoch(batches: TensorBatches) -> torch.Tensor:
    return torch.cat([x for (x,) in batches])


def test_one_process_sees_everything_once_per_epoch():
    x = torch.arange(10)
    b = TensorBatches(x, batch_size=3, shuffle=True, seed=5)
    assert b.shard() == (0, 1) and len(b) == 4
    first, second = _epoch(b), _epoch(b)
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert not torch.equal(first, second)  # reshuffled each pass


@pytest.mark.parametrize("n, world", [(10, 2), (10, 3), (7, 4), (2, 4)])
def test_ranks_split_each_epoch_into_equal_disjoint_shards(n, world):
    x = torch.arange(n)
    ranks = [TensorBatches(x, batch_size=2, shuffle=True, seed=3, rank=r, world_size=world) for r in range(world)]
    per_rank = -(-n // world)  # ceil: shards are padded to the same size, as DistributedSampler
    assert {len(b) for b in ranks} == {-(-per_rank // 2)}  # every rank runs the same number of steps
    for _ in range(2):  # two epochs: the ranks stay in step (same seeded permutation)
        shards = [_epoch(b) for b in ranks]
        assert all(len(s) == per_rank for s in shards)
        together = torch.cat(shards)
        assert set(together.tolist()) == set(range(n))          # every sample is seen ...
        assert len(together) - len(set(together.tolist())) == per_rank * world - n  # ... padding only repeats


def test_shards_follow_the_one_process_order():
    x = torch.arange(12)
    whole = _epoch(TensorBatches(x, batch_size=12, shuffle=True, seed=9))
    shards = [_epoch(TensorBatches(x, batch_size=12, shuffle=True, seed=9, rank=r, world_size=3)) for r in range(3)]
    for r in range(3):
        assert torch.equal(shards[r], whole[r::3])


def test_bad_shard_arguments_are_refused():
    x = torch.arange(4)
    with pytest.raises(ValueError, match="rank 2 is not in"):
        TensorBatches(x, batch_size=2, shuffle=False, rank=2, world_size=2)
    with pytest.raises(ValueError, match="both rank and world_size"):
        TensorBatches(x, batch_size=2, shuffle=False, rank=0)


def test_generator_state_continues_the_shuffle_stream():
    x = torch.arange(20)
    uninterrupted = TensorBatches(x, batch_size=4, shuffle=True, seed=1)
    _epoch(uninterrupted)
    saved = uninterrupted.state_dict()
    expected = _epoch(uninterrupted)
    resumed = TensorBatches(x, batch_size=4, shuffle=True, seed=1)
    resumed.load_state_dict(saved)
    assert torch.equal(_epoch(resumed), expected)


def test_datamodule_state_reaches_the_next_train_dataloader():
    x, y = torch.arange(16).float(), torch.arange(16)
    dm = TensorDataModule((x, y), batch_size=4, seed=2)
    loader = dm.train_dataloader()
    [b for b in loader]
    state = dm.state_dict()
    expected = [b[1] for b in loader]
    dm2 = TensorDataModule((x, y), batch_size=4, seed=2)
    assert dm2.state_dict() == {}  # nothing to save before training asked for batches
    dm2.load_state_dict(state)
    assert all(torch.equal(a[1], b) for a, b in zip(dm2.train_dataloader(), expected))
