"""The training-speed machinery changes no number.

- StepGroups (batches.py): several mini-batches per Lightning batch, in the same order;
  `limit_train_batches` applied in mini-batches.
- SupervisedModule's manual optimization plus EpochLoggingModule's running sums give, bit for
  bit, the history and weights of Lightning's automatic optimization with its own self.log
  bookkeeping, with and without gradient clipping and a step limit.
- The CNNs' MaxPool-before-ReLU order and channels-last layout compute the chapter's
  Conv -> ReLU -> MaxPool.
- The allocator setting is on where glibc offers it, and can be turned off.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import lightning as L
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.training.batches import StepGroup, TensorBatches, TensorDataModule, limited_steps
from dllaunchpad.models.cnn_classifier import CNNClassifier
from dllaunchpad.models.denoising_autoencoder import DenoisingAutoencoder
from dllaunchpad.models.mlp_classifier import MLPClassifier
from dllaunchpad.models.supervised import SupervisedModule
from dllaunchpad.optim import build_optimizer
from dllaunchpad.training.fit import STEPS_PER_LIGHTNING_BATCH, fit

OPTIMIZER = {"name": "rmsprop", "lr": 0.01, "rho": 0.9, "eps": 1e-7}


def test_step_groups_carry_the_same_mini_batches_in_order():
    x = torch.arange(50)
    flat = [b for (b,) in TensorBatches(x, batch_size=4, shuffle=True, seed=1)]
    grouped = list(TensorBatches(x, batch_size=4, shuffle=True, seed=1, steps_per_item=5))
    assert len(flat) == 13 and [len(g) for g in grouped] == [5, 5, 3]
    assert all(isinstance(g, StepGroup) for g in grouped)
    assert all(torch.equal(a, b) for a, (b,) in zip(flat, [mb for g in grouped for mb in g]))
    assert len(TensorBatches(x, batch_size=4, shuffle=True, steps_per_item=5)) == 3


@pytest.mark.parametrize("limit, expected", [(None, 13), (3, 3), (100, 13), (0.5, 6), (1.0, 13), (0.01, 1)])
def test_limit_counts_mini_batches_as_lightning_does(limit, expected):
    assert limited_steps(13, limit) == expected
    b = TensorBatches(torch.arange(50), batch_size=4, shuffle=False, steps_per_item=5, limit_steps=limit)
    assert sum(len(g) for g in b) == expected and len(b) == -(-expected // 5)


class _Steps:
    """A classifier's loss and epoch metrics, logged with or without an explicit batch_size."""

    sized = True

    def _step(self, batch, stage):
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        size = {"batch_size": len(y)} if self.sized else {}
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, **size)
        self.log(f"{stage}_accuracy", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True, **size)
        return loss

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), OPTIMIZER)


class Ours(_Steps, SupervisedModule):
    def __init__(self, net: nn.Module, sized: bool):
        super().__init__()
        self.net, self.sized = net, sized


class AutomaticReference(_Steps, L.LightningModule):
    """The same network, loss, metrics and optimizer through Lightning's automatic optimization
    and Lightning's own epoch-mean logging: what the pipeline did before step groups."""

    def __init__(self, net: nn.Module, sized: bool):
        super().__init__()
        self.net, self.sized = net, sized

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")


@pytest.mark.parametrize("extra, sized", [({}, True), ({}, False), ({"gradient_clip_val": 0.05}, True),
                                          ({"limit_train_batches": 21}, False)])
def test_grouped_manual_steps_equal_lightning_automatic_optimization(extra, sized):
    g = torch.Generator().manual_seed(0)
    # 1010 samples in batches of 20: 51 steps, the last of 10 (it weighs half in the epoch means)
    x, y = torch.randn(1010, 6, generator=g), torch.randint(0, 3, (1010,), generator=g)
    xv, yv = torch.randn(130, 6, generator=g), torch.randint(0, 3, (130,), generator=g)
    torch.manual_seed(0)
    ours = Ours(MLPClassifier(6, [16, 8], 3, OPTIMIZER).net, sized)
    reference = AutomaticReference(copy.deepcopy(ours.net), sized)
    cfg = {"epochs": 3, "batch_size": 20, **extra}
    assert 51 > 3 * STEPS_PER_LIGHTNING_BATCH  # 3 full groups and a short one

    def run(module):
        dm = TensorDataModule((x, y), val=(xv, yv), batch_size=20, seed=7)
        return fit(module, dm, cfg, seed=None, want_gpu=False), dm

    (mine, dm_mine), (theirs, dm_ref) = run(ours), run(reference)
    assert dm_mine.steps_per_item == STEPS_PER_LIGHTNING_BATCH and dm_ref.steps_per_item == 1
    assert mine["history"] == theirs["history"]  # every logged float, bit for bit
    assert {k for k in mine["history"][0]} == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    for a, b in zip(ours.net.state_dict().values(), reference.net.state_dict().values()):
        assert torch.equal(a, b)
    if "gradient_clip_val" in extra:
        assert ours.gradient_clip_val == 0.05


def _keras_order(seq: nn.Sequential) -> nn.Sequential:
    layers = list(seq)
    for i in range(len(layers) - 1):
        if isinstance(layers[i], nn.MaxPool2d) and isinstance(layers[i + 1], nn.ReLU):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    return nn.Sequential(*layers)


def test_cnn_pool_before_relu_and_channels_last_compute_the_chapter_layers():
    torch.manual_seed(0)
    cnn = CNNClassifier(1, 28, [8, 16], [True, False], [12], 10, OPTIMIZER)
    assert [type(m).__name__ for m in cnn.net[:3]] == ["Conv2d", "MaxPool2d", "ReLU"]
    assert cnn.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    keras = _keras_order(copy.deepcopy(cnn.net)).to(memory_format=torch.contiguous_format)
    assert [type(m).__name__ for m in keras[:3]] == ["Conv2d", "ReLU", "MaxPool2d"]
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(cnn(x), keras(x), rtol=1e-5, atol=1e-6)
    dae = DenoisingAutoencoder(OPTIMIZER, filters=4)
    keras_dae = nn.Sequential(_keras_order(copy.deepcopy(dae.encoder)), copy.deepcopy(dae.decoder))
    keras_dae = keras_dae.to(memory_format=torch.contiguous_format)
    torch.testing.assert_close(dae.logits(x), keras_dae(x), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt")
def test_allocator_setting_is_on_with_glibc_and_can_be_turned_off():
    code = "from dllaunchpad.training.devices import tune_cpu_allocator as t; print(t(), t())"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "LAUNCHPAD_MALLOC_TUNING": "0"}).stdout.split()
    import platform

    assert on == (["True", "True"] if platform.libc_ver()[0] == "glibc" else ["False", "False"])
    assert off == ["False", "False"]
