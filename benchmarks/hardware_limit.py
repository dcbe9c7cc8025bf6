"""Benchmark 6: how far training is from this CPU's arithmetic limit.

For mnist_mlp and mnist_cnn: FLOPs per sample counted from the layer shapes (Conv2d and Linear
multiply-adds x 2; a training step ~ 3x the forward pass, forward + the two backward products),
times the samples of one epoch (60k trained, 10k validated), over the epoch time of the
pipeline's runner, against the fp32 peak of a large `torch.matmul` measured in the same process
with the same threads. The ratio says how much of the machine the training uses; the rest goes
to memory-bound layers (ReLU, pooling, the optimizer) and to small matrices.
"""

from __future__ import annotations

import time

import torch

from common import Row, finish, parser, threads
from epochs import forward_flops, our_epoch


def matmul_peak(n: int, repeat: int) -> float:
    """Best fp32 GFLOP/s of an n x n x n matrix product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeat * 3):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def main(args) -> list[Row]:
    n = threads()
    torch.set_num_threads(n)
    peak = matmul_peak(2048, args.repeat)
    rows = [Row("6 hardware", f"fp32 matmul peak (2048^3, {n} threads)", peak, "GFLOP/s")]
    for name in ("mnist_mlp", "mnist_cnn"):
        runs = [our_epoch(name, n) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        module = best["module"]
        net = getattr(module, "net", module)
        sample = torch.zeros(1, 1, 28, 28) if name == "mnist_cnn" else torch.zeros(1, 28, 28)
        fwd = forward_flops(net, sample)
        work = 3 * fwd * 60_000 + fwd * 10_000
        achieved = work / best["seconds"] / 1e9
        rows.append(Row("6 hardware", f"{name}: training epoch", achieved, "GFLOP/s",
                        note=f"{achieved / peak:.0%} of the matmul peak; {fwd / 1e6:.2f} MFLOP forward per sample, "
                             f"epoch {best['seconds']:.2f} s"))
    return rows


if __name__ == "__main__":
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    finish(main(args), args)
