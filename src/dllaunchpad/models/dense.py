"""A stack of Keras-style Dense + ReLU layers, shared by the chapter's MLPs (Iris, Boston, MNIST).

Each hidden layer is `keras_dense` (Glorot-uniform weights, zero bias: Keras' Dense defaults,
not torch's Kaiming-uniform) followed by ReLU and, where asked, Dropout. Keras' `Dropout(rate)`
and torch's `nn.Dropout(p)` are the same inverted dropout (scale kept units by 1/(1-p) while
training, identity in evaluation); models/dropout.py draws torch's mask faster on the CPU.
"""

from __future__ import annotations

from torch import nn

from dllaunchpad.models.dropout import Dropout
from dllaunchpad.models.keras_init import keras_dense


def dense_stack(in_features: int, hidden: list[int], out_features: int,
                dropout: list[float] | None = None) -> nn.Sequential:
    """in -> hidden[0] -> ... -> hidden[-1] -> out. ReLU after every hidden layer; dropout[i]
    (if > 0) after hidden layer i's ReLU; no activation on the output layer (the loss adds
    softmax/sigmoid where the chapter has one, see the modules using this)."""
    dropout = list(dropout) if dropout is not None else [0.0] * len(hidden)
    if len(dropout) != len(hidden):
        raise ValueError(f"dropout has {len(dropout)} rates for {len(hidden)} hidden layers")
    layers: list[nn.Module] = []
    width = in_features
    for units, rate in zip(hidden, dropout):
        layers += [keras_dense(width, units), nn.ReLU()]
        if rate > 0:
            layers.append(Dropout(rate))
        width = units
    layers.append(keras_dense(width, out_features))
    return nn.Sequential(*layers)


def kernels(net: nn.Sequential, include_output: bool = False) -> list:
    """The weight matrices of the stack's Linear layers (hidden only unless include_output):
    what Keras' per-layer `kernel_regularizer` penalises (never the biases)."""
    linear = [m for m in net if isinstance(m, nn.Linear)]
    return [m.weight for m in (linear if include_output else linear[:-1])]
