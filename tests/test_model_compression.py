"""Factorised layers (CP and Tucker-2 convolution chains) for model compression: each chain
computes the convolution with the rebuilt weight, its parameter count is the formula's, and
factorising the CNN keeps its interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dllaunchpad.models import model_compression as M


def _conv_with_cp_rank(o, i, k, rank, padding=1, seed=0):
    """A conv whose weight is exactly a rank-`rank` CP tensor."""
    g = torch.Generator().manual_seed(seed)
    factors = [torch.randn(n, rank, generator=g) for n in (o, i, k, k)]
    conv = nn.Conv2d(i, o, k, padding=padding)
    with torch.no_grad():
        conv.weight.copy_(torch.einsum("or,ir,hr,wr->oihw", *factors))
    return conv


def test_cp_chain_equals_the_low_rank_convolution():
    torch.manual_seed(0)
    conv = _conv_with_cp_rank(8, 6, 3, rank=3)
    chain = M.cp_conv(conv, 3, n_iter_max=500)
    x = torch.randn(2, 6, 9, 9)
    assert torch.allclose(chain(x), conv(x), atol=1e-3 * float(conv(x).abs().max()))
    assert M.parameter_count(chain) == M.factorised_size(conv, "cp", (3,)) == 3 * (6 + 3 + 3 + 8) + 8


def test_tucker2_chain_equals_the_convolution_at_full_channel_rank():
    torch.manual_seed(0)
    conv = nn.Conv2d(5, 7, 3, padding=1)
    chain = M.tucker2_conv(conv, 7, 5)
    x = torch.randn(2, 5, 8, 8)
    assert torch.allclose(chain(x), conv(x), atol=1e-5)
    small = M.tucker2_conv(conv, 3, 2)
    assert M.parameter_count(small) == M.factorised_size(conv, "tucker", (3, 2)) == 5 * 2 + 2 * 3 * 9 + 3 * 7 + 7


def test_dense_layer_as_a_7x7_convolution_is_flatten_plus_linear():
    net = M.SmallCNN((4, 6), 10)
    fmap = torch.randn(3, 6, 7, 7)
    as_linear = fmap.flatten(1) @ net.dense1.weight.reshape(10, -1).T + net.dense1.bias
    assert torch.allclose(net.dense1(fmap).flatten(1), as_linear, atol=1e-5)


def test_layer_ranks():
    net = M.SmallCNN((16, 32), 64)
    assert M.layer_ranks(net.conv1, "cp", 0.5) == (4,)          # 0.5 * min(16, 1*3*3) = 4.5 -> 4
    assert M.layer_ranks(net.dense1, "cp", 0.25) == (16,)       # 0.25 * min(64, 32*49)
    assert M.layer_ranks(net.conv2, "tucker", 0.25) == (8, 4)
    with pytest.raises(ValueError, match="rank fraction"):
        M.layer_ranks(net.conv1, "cp", 1.5)


def test_factorise_shrinks_the_cnn_and_keeps_its_interface():
    torch.manual_seed(0)
    net = M.SmallCNN((16, 32), 64)
    x = torch.rand(5, 28, 28)
    for method in ("cp", "tucker"):
        small, ranks = M.factorise(net, method, 0.25, n_iter_max=20)
        assert small(x).shape == (5, 10)
        assert M.parameter_count(small) < M.parameter_count(net) / 5
        assert set(ranks) == {"conv1", "conv2", "dense1"}
    assert M.parameter_count(net) == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 64 * 32 * 49 + 64 + 64 * 10 + 10
    # a rank that would not save parameters keeps the layer as it is
    _, ranks = M.factorise(net, "tucker", 1.0, n_iter_max=5)
    assert ranks["conv1"] is None


def test_full_rank_tucker_reproduces_the_cnn():
    torch.manual_seed(0)
    net = M.SmallCNN((4, 6), 8).eval()
    x = torch.rand(4, 28, 28)
    small, _ = M.factorise(net, "tucker", 1.0)
    # every layer either kept or factorised at full channel rank: same function
    assert np.allclose(small(x).detach().numpy(), net(x).detach().numpy(), atol=1e-4)
