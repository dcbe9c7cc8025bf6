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


def keras_conv2d(in_channels: int, out_channels: int, kernel_size: int, padding: str = "valid") -> nn.Conv2d:
    """Keras `Conv2D` defaults: stride 1, padding 'valid' (torch: padding=0; 'same' for odd
    kernels is padding=k//2), Glorot-uniform kernel and zero bias. torch's xavier_uniform_ on a
    (out, in, kh, kw) weight uses fan_in = in*kh*kw and fan_out = out*kh*kw, exactly Keras'
    Glorot fans for a (kh, kw, in, out) kernel."""
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, padding=0 if padding == "valid" else "same")
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer
