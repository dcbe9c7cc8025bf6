"""Benchmark 1: what Lightning and the pipeline's runner cost over a plain PyTorch loop.

mnist_mlp (784-256-128-10, RMSprop, batch 100, 600 steps) for one epoch over the full 60k
training set, with the validation pass over the 10k test images that every epoch of the chapter
makes, against `epochs.plain_epoch`: the same network, optimizer and in-memory tensors. Target:
<= 1.15x. Both run with the same threads and the pipeline's allocator setting, in this process,
alternating, best of --repeat.

Why ours is close to the plain loop (see batches.py and models/classification.py): batches are
tensor indexing (no per-sample Dataset.__getitem__ + collate), metrics are logged per epoch
(on_step=False: no per-step sync or logger call), and there is no progress bar under CI.
"""

from __future__ import annotations

from common import Row, finish, parser, threads
from epochs import our_epoch, plain_epoch


def main(args) -> list[Row]:
    n = threads()
    ours, plain = [], []
    for _ in range(args.repeat):
        p = plain_epoch("mnist_mlp", n, allocator=True)
        plain.append(p["seconds"] + p["val_seconds"])
        ours.append(our_epoch("mnist_mlp", n)["seconds"])
    steps = p["steps_per_epoch"]
    ratio = min(ours) / min(plain)
    extra_ms = (min(ours) - min(plain)) / steps * 1000
    return [
        Row("1 overhead", "plain PyTorch loop, mnist_mlp epoch + validation", min(plain), "s",
            note=f"{steps} steps of 100, {n} threads"),
        Row("1 overhead", "ours (Lightning runner), same epoch", min(ours), "s", "<= 1.15x plain", ratio <= 1.15,
            note=f"{ratio:.2f}x plain, {extra_ms:+.2f} ms per step"),
    ]


if __name__ == "__main__":
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    finish(main(args), args)
