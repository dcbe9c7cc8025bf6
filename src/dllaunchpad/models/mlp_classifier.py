"""The chapter's dense classifiers: Iris (31.8.2, 4-4-4-3) and MNIST (31.8.4: 784-256-128-10,
and the 400-400-400-200 net of the regularization examples, with dropout or L1).

The network is `dense_stack` (Keras Dense defaults: Glorot-uniform weights, zero biases; ReLU
hidden layers; optional Dropout after each) behind a Flatten, so MNIST images (N, 28, 28) and
Iris rows (N, 4) go in as they are. The L1 penalty covers every hidden layer's kernel, as the
chapter's `kernel_regularizer=regularizers.l1(...)` on each hidden Dense (not the output layer,
never the biases); an L2 penalty (exercise 31.9.6e, `regularizers.l2(...)` in the L1 model's
place) covers the same kernels. Loss, metrics and the optimizer come from `Classifier`.
"""

from __future__ import annotations

import torch
from torch import nn

from dllaunchpad.models.classification import Classifier
from dllaunchpad.models.dense import dense_stack, kernels


class MLPClassifier(Classifier):
    def __init__(self, in_features: int, hidden: list[int], n_classes: int, optimizer: dict,
                 dropout: list[float] | None = None, l1: float = 0.0, l2: float = 0.0):
        net = nn.Sequential(nn.Flatten(), dense_stack(in_features, hidden, n_classes, dropout))
        super().__init__(net, optimizer, l1=l1, l2=l2)

    def penalised(self) -> list[torch.Tensor]:
        return kernels(self.net[1])
