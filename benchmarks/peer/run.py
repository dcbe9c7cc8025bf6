"""Ours against the chapter's Keras code, side by side, per experiment (issue: speed ahead of the
chapter's own Keras code on any x86 CPU).

For each experiment: our whole training stage (`dllaunchpad train <exp>`, a fresh process: imports,
data load, training, checkpoint) and the Keras model of benchmarks/peer/keras_models.py (a fresh
process in the peer environment: imports, data load, `model.fit`), alternately, `--pairs` times,
both with the same number of threads. Prints ours/Keras wall and CPU-time ratios (best pair and the
range), peak memory, and the CPU model. Keras's process time is measured around the whole process
too (wall and CPU via os.wait4), so both sides pay their start-up.

    .peer-venv/bin/pip install -r benchmarks/peer/requirements.txt     # once, outside the project
    .venv/bin/python benchmarks/peer/run.py --peer-python .peer-venv/bin/python [--scale quick]

Never run in CI: TensorFlow is not a project dependency.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import REPO, Row, print_table  # noqa: E402
from dllaunchpad.training.devices import cpu_model  # noqa: E402

EXPERIMENTS = ["mnist_mlp", "mnist_early_stopping", "mnist_l1", "mnist_dropout", "mnist_cnn", "mnist_denoising_ae",
               "sunspots_lstm"]


def run_child(cmd: list[str], env: dict) -> dict:
    """Run a child and read its own resource usage (wall, user+sys CPU, peak RSS) via wait4."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: quiet, then exec
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvpe(cmd[0], cmd, env)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(cmd)} exited with {os.waitstatus_to_exitcode(status)}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer-python", required=True, help="python of the environment with tensorflow-cpu")
    p.add_argument("--scale", choices=["full", "quick"], default="full")
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", nargs="*", default=EXPERIMENTS)
    args = p.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TF_NUM_INTEROP_THREADS": "1",
           "TF_NUM_INTRAOP_THREADS": str(args.threads), "TF_CPP_MIN_LOG_LEVEL": "2", "CI": "true"}
    # --threads: our CLI pins a job's threads to params.yaml's `threads` (1), whatever
    # OMP_NUM_THREADS says; both sides must compute on the same count.
    ours_cmd = lambda e: [sys.executable, "-m", "dllaunchpad.cli", "--scale", args.scale,  # noqa: E731
                          "--threads", str(args.threads), "train", e]
    peer_cmd = lambda e: [args.peer_python, str(Path(__file__).with_name("keras_models.py")), e, str(REPO),  # noqa: E731
                          "--scale", args.scale]
    rows = []
    print(f"CPU: {cpu_model()}; {args.threads} threads; scale {args.scale}; {args.pairs} alternating pair(s)")
    for exp in args.only:
        pairs = []
        for _ in range(args.pairs):
            ours = run_child(ours_cmd(exp), {**env})
            keras = run_child(peer_cmd(exp), {**env})
            pairs.append((ours, keras))
        wall = [o["wall"] / k["wall"] for o, k in pairs]
        cpu = [o["cpu"] / k["cpu"] for o, k in pairs]
        best = min(range(len(pairs)), key=lambda i: wall[i])
        o, k = pairs[best]
        rows.append(Row(f"peer: {exp}", "ours/Keras wall, whole process", wall[best], "x", "<= 0.8 x",
                        wall[best] <= 0.8, f"{o['wall']:.1f} s vs {k['wall']:.1f} s; range {min(wall):.2f}-"
                        f"{max(wall):.2f}; CPU ratio {cpu[best]:.2f}; peak {o['peak_mib']:.0f} vs {k['peak_mib']:.0f} MiB"))
    print_table(rows)


if __name__ == "__main__":
    main()
