"""Convolutional classifiers: MNIST (chapter 31.8.4) and rock-paper-scissors (31.5.4).

The chapter's shape: blocks of Conv2D(f, 3x3, ReLU) each optionally followed by MaxPooling2D(2),
then Flatten, Dense layers with ReLU, and a Dense output (softmax for MNIST, logits for RPS: the
same F.cross_entropy on logits here, see classification.py).

Keras translation:
- Conv2D defaults: stride 1, padding 'valid', Glorot-uniform kernel, zero bias (keras_conv2d).
- MaxPooling2D((2, 2)): window 2, stride 2, 'valid' (floor) = nn.MaxPool2d(2).
- Keras is channels-last and flattens (H, W, C); torch is channels-first and flattens (C, H, W).
  The next Dense layer sees the same numbers in another order, and its Glorot initialisation
  does not depend on the order, so the models are the same up to a permutation of weights.
- Inputs are (N, C, H, W) float in [0, 1]; the family converts MNIST (N, 28, 28) and RPS
  (N, H, W, 3) to that layout.

Speed, same numbers (benchmarks/convolutions.py measures each):
- Each pooled block is Conv -> MaxPool -> ReLU rather than Keras' Conv(ReLU) -> MaxPool.
  max and ReLU commute (ReLU is monotone), so the output is identical, and the ReLU then runs
  on a quarter of the values. The layer indices (state_dict keys) are the same either way.
- Weights and activations are channels-last in memory (torch.channels_last; the logical shape
  stays (N, C, H, W)): oneDNN's convolutions and max pooling run without layout reorders.
"""

from __future__ import annotations

import torch
from torch import nn

from dllaunchpad.models.classification import Classifier
from dllaunchpad.models.dense import dense_stack
from dllaunchpad.models.keras_init import keras_conv2d


def feature_size(size: int, n_filters: int, kernel_size: int, pools: list[bool]) -> int:
    """Flattened length after the conv blocks, for a size x size input ('valid' convs)."""
    for pool in pools:
        size = size - kernel_size + 1
        if pool:
            size //= 2
        if size < 1:
            raise ValueError("the conv blocks shrink the image to nothing: use a larger image or fewer blocks")
    return size * size * n_filters


class CNNClassifier(Classifier):
    def __init__(self, in_channels: int, image_size: int, filters: list[int], pool: list[bool],
                 dense: list[int], n_classes: int, optimizer: dict, kernel_size: int = 3,
                 dropout: list[float] | None = None):
        if len(pool) != len(filters):
            raise ValueError(f"pool has {len(pool)} entries for {len(filters)} conv blocks")
        blocks: list[nn.Module] = []
        channels = in_channels
        for f, p in zip(filters, pool):
            # = Keras' Conv2D(activation='relu') + MaxPooling2D: see the module docstring
            blocks += [keras_conv2d(channels, f, kernel_size), nn.MaxPool2d(2), nn.ReLU()] if p else \
                      [keras_conv2d(channels, f, kernel_size), nn.ReLU()]
            channels = f
        flat = feature_size(image_size, filters[-1], kernel_size, pool)
        net = nn.Sequential(*blocks, nn.Flatten(), dense_stack(flat, dense, n_classes, dropout))
        super().__init__(net, optimizer)
        self.net.to(memory_format=torch.channels_last)
        self.in_channels, self.image_size = in_channels, image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))
