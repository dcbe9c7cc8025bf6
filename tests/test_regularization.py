"""Norm penalties against hand-computed values."""

import pytest
import torch

from dllaunchpad.regularization import elastic_net_penalty, kernel_weights, l1_penalty, l2_penalty


def test_penalties_by_hand():
    w = [torch.tensor([[1.0, -2.0], [0.5, 0.0]]), torch.tensor([3.0])]
    assert l1_penalty(w, 0.1).item() == pytest.approx(0.1 * 6.5)
    assert l2_penalty(w, 0.1).item() == pytest.approx(0.1 * 0.5 * 14.25)
    assert l2_penalty(w, 0.1, half=False).item() == pytest.approx(0.1 * 14.25)
    assert elastic_net_penalty(w, 0.1, 0.3).item() == pytest.approx(0.3 * 0.65 + 0.7 * 0.1 * 0.5 * 14.25)


def test_kernel_weights_skip_biases():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Conv2d(1, 2, 3))
    shapes = [tuple(w.shape) for w in kernel_weights(net)]
    assert shapes == [(4, 3), (2, 1, 3, 3)]
