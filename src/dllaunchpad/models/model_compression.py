"""A small MNIST CNN and its tensor-factorised versions (beyond chapter 31.1.2: "decomposing
the weights compresses the model").

The CNN: conv 3x3 (c1) - ReLU - max-pool 2 - conv 3x3 (c2) - ReLU - max-pool 2 - dense (hidden)
- ReLU - dense 10. The first dense layer reads the (c2, 7, 7) feature map; we write it as a 7x7
convolution without padding (same weights, same outputs as Flatten + Linear), so that its weight
is a 4-way tensor (hidden, c2, 7, 7) like the convolutions' and the same factorisations apply.

A convolution weight W (O, I, kh, kw) is replaced by a chain of smaller convolutions:

- CP (Lebedev et al. 2015): W = sum_r w_r a_O[:, r] o a_I[:, r] o a_h[:, r] o a_w[:, r] becomes
  1x1 conv I->R, depthwise kh x 1 conv, depthwise 1 x kw conv, 1x1 conv R->O (+ the old bias);
- Tucker-2 (Kim et al. 2016): W = C x_1 U_O x_2 U_I (spatial modes kept) becomes
  1x1 conv I->R_I, kh x kw conv R_I->R_O (the core), 1x1 conv R_O->O (+ bias).

Both chains compute exactly the convolution with the rebuilt weight (tests check it), so the
accuracy lost is only what the low-rank approximation loses. A layer whose factorised form
would hold more numbers than the layer itself is kept as it is.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from dllaunchpad.optim import build_optimizer
from dllaunchpad.tensors import decompositions as D
from dllaunchpad.models.epoch_logging import EpochLoggingModule


class SmallCNN(nn.Module):
    def __init__(self, filters: tuple[int, int] = (32, 64), hidden: int = 128, classes: int = 10):
        super().__init__()
        c1, c2 = filters
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.dense1 = nn.Conv2d(c2, hidden, 7)  # = Flatten + Linear(c2*7*7, hidden), see the docstring
        self.classifier = nn.Linear(hidden, classes)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.relu(self.dense1(x)).flatten(1)
        return self.classifier(x)


FACTORISED_LAYERS = ("conv1", "conv2", "dense1")


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _conv(c_in, c_out, kernel, *, stride=1, padding=0, groups=1, weight, bias=None) -> nn.Conv2d:
    layer = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, groups=groups, bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype).reshape(layer.weight.shape))
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def cp_conv(conv: nn.Conv2d, rank: int, *, seed: int = 0, n_iter_max: int = 100) -> nn.Sequential:
    """The CP chain that replaces `conv` (groups=1, dilation 1)."""
    o, i, kh, kw = conv.weight.shape
    (sh, sw), (ph, pw) = _pair(conv.stride), _pair(conv.padding)
    weights, (a_o, a_i, a_h, a_w) = D.cp(conv.weight.detach().double().numpy(), rank, seed=seed,
                                         n_iter_max=n_iter_max)
    a_o = a_o * weights[None, :]  # fold the CP weights into the last factor
    bias = conv.bias.detach().clone() if conv.bias is not None else None
    return nn.Sequential(
        _conv(i, rank, 1, weight=a_i.T),
        _conv(rank, rank, (kh, 1), stride=(sh, 1), padding=(ph, 0), groups=rank, weight=a_h.T),
        _conv(rank, rank, (1, kw), stride=(1, sw), padding=(0, pw), groups=rank, weight=a_w.T),
        _conv(rank, o, 1, weight=a_o, bias=bias),
    )


def tucker2_conv(conv: nn.Conv2d, rank_out: int, rank_in: int, *, seed: int = 0,
                 n_iter_max: int = 100) -> nn.Sequential:
    """The Tucker-2 chain that replaces `conv`: output and input channel modes compressed,
    the spatial modes kept at full rank (their orthogonal factors are folded into the core)."""
    o, i, kh, kw = conv.weight.shape
    core, (u_o, u_i, u_h, u_w) = D.tucker(conv.weight.detach().double().numpy(), [rank_out, rank_in, kh, kw],
                                          seed=seed, n_iter_max=n_iter_max)
    core = np.einsum("abhw,yh,xw->abyx", core, u_h, u_w)
    bias = conv.bias.detach().clone() if conv.bias is not None else None
    return nn.Sequential(
        _conv(i, rank_in, 1, weight=u_i.T),
        _conv(rank_in, rank_out, (kh, kw), stride=conv.stride, padding=conv.padding, weight=core),
        _conv(rank_out, o, 1, weight=u_o, bias=bias),
    )


def layer_ranks(conv: nn.Conv2d, method: str, fraction: float) -> tuple[int, ...]:
    """The ranks a rank fraction means for one layer.

    CP: R = fraction x the rank of the layer's (O, I*kh*kw) matricisation (at most min(O, I*kh*kw)).
    Tucker-2: (R_O, R_I) = fraction x (O, I), each at least 1."""
    o, i, kh, kw = conv.weight.shape
    if not 0 < fraction <= 1:
        raise ValueError(f"rank fraction must be in (0, 1], got {fraction}")
    if method == "cp":
        return (max(1, round(fraction * min(o, i * kh * kw))),)
    if method == "tucker":
        return max(1, round(fraction * o)), max(1, round(fraction * i))
    raise ValueError(f"unknown factorisation {method!r} (known: cp, tucker)")


def factorised_size(conv: nn.Conv2d, method: str, ranks: tuple[int, ...]) -> int:
    o, i, kh, kw = conv.weight.shape
    bias = o if conv.bias is not None else 0
    if method == "cp":
        (r,) = ranks
        return r * (i + kh + kw + o) + bias
    r_o, r_i = ranks
    return i * r_i + r_i * r_o * kh * kw + r_o * o + bias


def factorise(model: SmallCNN, method: str, fraction: float, *, seed: int = 0,
              n_iter_max: int = 100) -> tuple[SmallCNN, dict[str, tuple[int, ...] | None]]:
    """A copy of `model` whose conv and dense layers are factorised at `fraction`; also the ranks
    used per layer (None: the layer was kept, its factorised form would not be smaller)."""
    out = copy.deepcopy(model)
    used: dict[str, tuple[int, ...] | None] = {}
    for name in FACTORISED_LAYERS:
        conv = getattr(out, name)
        ranks = layer_ranks(conv, method, fraction)
        if factorised_size(conv, method, ranks) >= parameter_count(conv):
            used[name] = None
            continue
        chain = (cp_conv(conv, *ranks, seed=seed, n_iter_max=n_iter_max) if method == "cp"
                 else tucker2_conv(conv, *ranks, seed=seed, n_iter_max=n_iter_max))
        setattr(out, name, chain)
        used[name] = ranks
    return out, used


class ClassifierModule(EpochLoggingModule):
    """Cross-entropy training of a network (the CNN, or a factorised one being fine-tuned)."""

    def __init__(self, net: nn.Module, optimizer: dict):
        super().__init__()
        self.net = net
        self.optimizer_spec = optimizer

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        self.log("train_accuracy", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_spec)


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    net.eval()
    correct = sum(int((net(x[k:k + batch_size]).argmax(1) == y[k:k + batch_size]).sum())
                  for k in range(0, len(x), batch_size))
    return correct / len(x)


@torch.no_grad()
def inference_ms(net: nn.Module, x: torch.Tensor, repeats: int, batch_size: int = 1000) -> float:
    """Best-of-`repeats` wall time (ms) of one pass over `x`, on one CPU thread so that numbers
    from a shared machine compare (the minimum is the least disturbed run)."""
    import time

    net.eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            for k in range(0, len(x), batch_size):
                net(x[k:k + batch_size])
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return 1000 * best
