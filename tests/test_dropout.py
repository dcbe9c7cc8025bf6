"""models/dropout.py: the faster CPU mask must be torch's own, bit for bit.

If it were not, every dropout experiment's numbers would move with the speed-up. Each check seeds
the global generator, runs nn.Dropout and ours from the same state, and compares outputs,
gradients and the generator's state afterwards (a later draw must not notice the change).
"""

import pytest
import torch
from torch import nn

import dllaunchpad.models.dense as dense
from dllaunchpad.models.dense import dense_stack
from dllaunchpad.models.dropout import Dropout


def _both(x: torch.Tensor, p: float, train: bool = True):
    out = []
    for layer in (nn.Dropout(p), Dropout(p)):
        layer.train(train)
        torch.manual_seed(7)
        xi = x.detach().clone().requires_grad_(x.is_floating_point())
        y = layer(xi)
        if xi.requires_grad:
            (y * torch.arange(y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        out.append((y.detach(), xi.grad, torch.get_rng_state()))
    return out


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.8, 1 / 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_the_mask_outputs_gradients_and_generator_state_are_torchs(p, dtype):
    x = torch.randn(37, 53, generator=torch.Generator().manual_seed(0)).to(dtype)
    (y0, g0, s0), (y1, g1, s1) = _both(x, p)
    assert torch.equal(y0, y1)
    assert torch.equal(g0, g1)
    assert torch.equal(s0, s1)
    dropped = (y1 == 0).float().mean().item()
    assert abs(dropped - p) < 0.05          # 1961 elements: the share dropped is near p
    kept = y1 != 0
    # kept units are scaled by 1/(1-p), itself rounded to the dtype (bfloat16: 8 bits)
    assert torch.allclose(y1[kept].double(), x[kept].double() / (1 - p), rtol=1e-2 if dtype == torch.bfloat16 else 1e-6)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_the_special_cases_match_too(p):
    x = torch.randn(8, 5)
    (y0, g0, s0), (y1, g1, s1) = _both(x, p)
    assert torch.equal(y0, y1) and torch.equal(g0, g1) and torch.equal(s0, s1)


def test_evaluation_mode_is_the_identity_and_draws_nothing():
    x = torch.randn(8, 5)
    torch.manual_seed(1)
    before = torch.get_rng_state()
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_dropout_mlp_trains_to_the_same_weights_as_with_torchs_dropout(monkeypatch):
    """Ten SGD steps of the chapter's dropout MLP shape (smaller), on two threads: the weights
    with our Dropout equal those with nn.Dropout swapped back in, and differ from no dropout."""
    x = torch.randn(64, 30, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 4, (64,), generator=torch.Generator().manual_seed(2))

    def train(rates) -> list[torch.Tensor]:
        torch.manual_seed(0)
        net = dense_stack(30, [40, 40, 20], 4, dropout=rates)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(10):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        return [p.detach().clone() for p in net.parameters()]

    def layers(cls) -> int:
        return sum(type(m) is cls for m in dense_stack(30, [40, 40], 4, dropout=[0.5, 0.5]))

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert layers(Dropout) == 2
        ours = train([0.5, 0.5, 0.0])
        without = train(None)
        monkeypatch.setattr(dense, "Dropout", nn.Dropout)
        assert layers(nn.Dropout) == 2
        theirs = train([0.5, 0.5, 0.0])
    finally:
        torch.set_num_threads(threads)
    assert len(ours) == len(theirs) == 8
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert not torch.equal(ours[2], without[2])   # the masks did change the training
