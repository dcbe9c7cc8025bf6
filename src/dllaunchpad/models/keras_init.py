"""Keras' default initialisation, for experiments that translate Keras code.

Keras `Dense` starts with Glorot-uniform weights and zero biases; torch's `nn.Linear` uses
Kaiming-uniform(a=sqrt(5)) and a uniform bias. Results such as the chapter's XOR run depend on
this, so translated models call `keras_dense` instead of `nn.Linear`.
"""

from __future__ import annotations

from torch import nn


def keras_dense(in_features: int, out_features: int) -> nn.Linear:
    layer = nn.Linear(in_features, out_features)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer
