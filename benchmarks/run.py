"""Run the benchmarks one after another and print one table: `python benchmarks/run.py`.

Each script runs in its own process (threads, allocator settings and imported modules do not
carry over), back to back on the same machine, so that their ratios hold on a noisy machine.
About 25 minutes on 2 cores, most of it the quick DAG and the test suite; `--only NAME ...`
runs a subset, `--json FILE` keeps the rows. The GPU script (benchmarks/gpu.py) is separate: it needs a GPU.

    1 training_overhead   Lightning runner vs a plain loop, mnist_mlp epoch    <= 1.15x
    2 convolutions        mnist_cnn / denoising AE epoch vs Keras              <= 7.9 s / 19 s
    3 data_path           MNIST load; MIDI windows served per second           <= 3 s
    4 imports             import time and heavy modules per entry point
    5 quick_dag           quick DAG wall time (`dllaunchpad run`) and per-rule
                          times, then no-op snakemake -n / dvc status / repro  <= 2.5 min, 3 s, 1 s
    6 hardware_limit      training GFLOP/s against the fp32 matmul peak
    7 job_start           fixed cost of a train/evaluate job, cold and warm    <= 1.5 s
    8 dvc_status          no-op dvc status / repro on the full registry, from   <= 1 s
                          placeholder outputs (no DAG run); dvc commit of all
    9 test_command        the README's test command, whole suite                <= 8 min
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Row, print_table

SCRIPTS = ["training_overhead", "convolutions", "data_path", "imports", "hardware_limit", "job_start", "dvc_status",
           "quick_dag", "test_command"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", choices=SCRIPTS, help="run these scripts only")
    p.add_argument("--json", type=Path, help="write all rows to this JSON file")
    args = p.parse_args()
    rows: list[Row] = []
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or SCRIPTS:
            print(f"== {name}", file=sys.stderr, flush=True)
            out = Path(tmp) / f"{name}.json"
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--json", str(out)],
                                  cwd=REPO / "benchmarks", stdout=sys.stderr)
            print(f"== {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            if proc.returncode != 0 or not out.exists():
                failed.append(name)
                continue
            rows += [Row(**r) for r in json.loads(out.read_text())]
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    if failed:
        print(f"\nfailed: {', '.join(failed)} (their output is above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
