"""Benchmark 2: convolutions as fast as the chapter's own Keras code, and what each change bought.

Targets (the chapter's Keras/TensorFlow code, TF-CPU 2.21, 2 threads, on this machine): an epoch
of mnist_cnn in <= 7.9 s, of mnist_denoising_ae in <= 19 s. An epoch here is what Keras times:
the 60k training images plus the validation pass over the 10k test images.

The figures, per model:
- "ours": one epoch through the pipeline's runner (benchmarks/epochs.py:our_epoch), best of
  --repeat: the number to hold against the target.
- an ablation over training steps of a plain loop (ms per step, best of --repeat runs of --steps
  steps each), each row adding one change to the one above, so each row's ratio is what that
  change bought:
  1. the chapter's layer order (Conv -> ReLU -> MaxPool), contiguous NCHW tensors, glibc's
     default allocator: what a first PyTorch translation does;
  2. + devices.tune_cpu_allocator (freed activation memory is reused instead of being unmapped
     and page-faulted back in at every step);
  3. + channels-last memory layout (oneDNN's native layout: no reorders around each conv);
  4. + MaxPool before ReLU (the same numbers; the ReLU runs on a quarter of the values).
Each ablation row runs in a fresh process: the allocator setting cannot be undone in-process.

Kept: fp32 everywhere, the same layers, initialisation and optimizer. Tried and dropped:
torch.compile (inductor's CPU code was 2-3x slower than eager oneDNN here) and bf16 autocast
(the AMX units would be fast, but it changes the numerics).
"""

from __future__ import annotations

import json
import subprocess
import sys

from common import REPO, Row, finish, parser, threads

TARGETS = {"mnist_cnn": 7.9, "mnist_denoising_ae": 19.0}
ABLATION = [  # (label, allocator, channels_last, pool_first)
    ("plain loop: Keras layer order, NCHW, default allocator", False, False, False),
    ("+ allocator keeps freed memory", True, False, False),
    ("+ channels-last layout", True, True, False),
    ("+ MaxPool before ReLU", True, True, True),
]


def _ablation_step(name: str, allocator: bool, channels_last: bool, pool_first: bool, steps: int, repeat: int) -> dict:
    """ms per training step and the step count of an epoch, measured in a fresh process."""
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks');"
        "from epochs import plain_epoch;"
        f"r = [plain_epoch({name!r}, {threads()}, allocator={allocator}, channels_last={channels_last},"
        f" pool_first={pool_first}, steps={steps}, validate=(i == 0)) for i in range({repeat})];"
        "print(json.dumps({'ms': min(x['seconds'] / x['steps'] for x in r) * 1000,"
        " 'steps_per_epoch': r[0]['steps_per_epoch'], 'val_seconds': r[0]['val_seconds']}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(args) -> list[Row]:
    from epochs import our_epoch

    rows: list[Row] = []
    for name, target in TARGETS.items():
        ours = min(our_epoch(name, threads())["seconds"] for _ in range(args.repeat))
        rows.append(Row(f"2 conv: {name}", "ours: one epoch (train + validation)", ours, "s", f"<= {target} s (Keras)",
                        ours <= target, note=f"{ours / target:.2f}x Keras' epoch"))
        first = None
        for label, allocator, channels_last, pool_first in ABLATION:
            r = _ablation_step(name, allocator, channels_last, pool_first, args.steps, args.repeat)
            first = first or r
            epoch = r["ms"] / 1000 * r["steps_per_epoch"] + r["val_seconds"]
            rows.append(Row(f"2 conv: {name}", label, r["ms"], "ms/step",
                            note=f"{first['ms'] / r['ms']:.2f}x faster than row 1; ~{epoch:.1f} s per epoch"))
    return rows


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="timed training steps per ablation run")
    args = p.parse_args()
    finish(main(args), args)
