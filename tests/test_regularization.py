"""Norm penalties against hand-computed values."""

import pytest
import torch

from dllaunchpad.models.regularization import elastic_net_penalty, kernel_weights, l1_penalty, l2_penalty


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


def test_penalty_by_spec():
    from dllaunchpad.models.regularization import penalty

    w = [torch.tensor([[1.0, -2.0], [0.5, 0.0]]), torch.tensor([3.0])]
    assert penalty(w, {"kind": "l1", "lam": 0.1}).item() == pytest.approx(0.65)
    assert penalty(w, {"kind": "l2", "lam": 0.1}).item() == pytest.approx(0.1 * 0.5 * 14.25)
    assert penalty(w, {"kind": "elastic_net", "lam": 0.1, "alpha": 1.0}).item() == pytest.approx(0.65)
    assert penalty(w, {"kind": "elastic_net", "lam": 0.1, "alpha": 0.0}).item() == pytest.approx(0.1 * 0.5 * 14.25)
    with pytest.raises(ValueError, match="penalty.kind"):
        penalty(w, {"kind": "l0", "lam": 0.1})
    with pytest.raises(ValueError, match="penalty.alpha"):
        penalty(w, {"kind": "elastic_net", "lam": 0.1})
    with pytest.raises(ValueError, match="penalty.lam"):
        penalty(w, {"kind": "l1"})


def test_penalty_gradient_is_the_chapters():
    """d/dw of lam ||w||_1 is lam sign(w); of lam/2 ||w||^2 is lam w."""
    from dllaunchpad.models.regularization import penalty

    w = torch.tensor([0.5, -2.0, 3.0], requires_grad=True)
    penalty([w], {"kind": "l1", "lam": 0.1}).backward()
    torch.testing.assert_close(w.grad, 0.1 * torch.sign(w.detach()))
    w.grad = None
    penalty([w], {"kind": "l2", "lam": 0.1}).backward()
    torch.testing.assert_close(w.grad, 0.1 * w.detach())
