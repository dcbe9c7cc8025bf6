"""Benchmarks 4 and 5: the quick DAG's time budget, then the pipeline's no-op overhead.

5. In a fresh working copy (common.working_copy: scale quick, the full registry of experiments,
   datasets the mirror lacks left out), the README's `dllaunchpad run --cores <cores>` runs the
   whole DAG, its jobs forked from the warm server (src/dllaunchpad/warm.py). Its wall time, and
   every rule's wall time from Snakemake's `benchmark:` files (logs/benchmarks/quick/<rule>/
   <name>.tsv), make one table; their CPU column is the job's client process only, the job's
   own CPU is spent in a child of the server. Target: <= 2.5 min on 2 cores (issue 18).
   The full-scale times per experiment of this checkout's last full run (logs/benchmarks/full/,
   or models/<exp>/train.json where the benchmark files predate this script) are printed too.
4. In the same copy, now up to date: `snakemake -n`, `dvc status` and a no-op `dvc repro`, best
   of --repeat. Targets: <= 3 s and <= 1 s.
   Snakemake imports every installed executor plugin at start-up, and the SLURM plugin asks
   `scontrol show config` for a default; where the SLURM client is installed but no controller
   answers (this machine, CI), that probe waits ~9 s, on a cluster or a laptop it returns at
   once. The dry run is therefore timed twice: as is, and with `scontrol` answering at once (a
   stub that fails immediately, first on PATH, as on a machine without SLURM).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Row, finish, parser, pipeline_env, working_copy


def rule_times(bench_dir: Path) -> list[tuple[str, float, float, float]]:
    """(rule/name, wall s, cpu s, max RSS MB) from Snakemake benchmark files, slowest first."""
    out = []
    for tsv in sorted(bench_dir.rglob("*.tsv")):
        with open(tsv, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows:
            continue
        r = rows[-1]
        num = lambda k: float(r[k]) if r.get(k) not in (None, "", "NA", "-") else float("nan")  # noqa: E731
        out.append((tsv.relative_to(bench_dir).with_suffix("").as_posix(), num("s"), num("cpu_time"), num("max_rss")))
    return sorted(out, key=lambda t: -t[1])


def print_rule_table(title: str, times) -> None:
    print(f"\n{title}")
    print(f"{'rule/name':46} {'wall s':>8} {'cpu s':>8} {'max RSS MB':>10}")
    for name, wall, cpu, rss in times:
        print(f"{name:46} {wall:8.1f} {cpu:8.1f} {rss:10.0f}")
    print(f"{'sum over jobs':46} {sum(t[1] for t in times):8.1f} {sum(t[2] for t in times if t[2] == t[2]):8.1f}")


def full_scale_times() -> list[tuple[str, float, float, float]]:
    bench = REPO / "logs/benchmarks/full"
    if bench.is_dir():
        return rule_times(bench)
    out = []  # an older full run: its training records
    for info in sorted((REPO / "models").glob("*/train.json")):
        d = json.loads(info.read_text())
        out.append((f"train/{d['experiment']}", d["train_seconds"], float("nan"), float("nan")))
    return sorted(out, key=lambda t: -t[1])


def timed(cmd: list[str], cwd: Path, env: dict, repeat: int, expect: str) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        best = min(best, time.perf_counter() - t0)
        if proc.returncode != 0 or expect not in proc.stdout + proc.stderr:
            raise RuntimeError(f"{' '.join(cmd)}: expected {expect!r}, got rc {proc.returncode}:\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return best


def no_op_rows(root: Path, repeat: int) -> list[Row]:
    env = pipeline_env(root)
    stub = Path(tempfile.mkdtemp(prefix="no-scontrol-"))
    (stub / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (stub / "scontrol").chmod(0o755)
    env_stub = {**env, "PATH": f"{stub}{os.pathsep}{env['PATH']}"}
    import yaml

    n_stages = len(yaml.safe_load((root / "dvc.yaml").read_text())["stages"])
    dry = timed(["snakemake", "-n", "--cores", "1"], root, env, repeat, "Nothing to be done")
    dry_stub = timed(["snakemake", "-n", "--cores", "1"], root, env_stub, repeat, "Nothing to be done")
    status = timed(["dvc", "status"], root, env, repeat, "up to date")
    repro = timed(["dvc", "repro"], root, env, repeat, "up to date")
    return [
        Row("4 no-op", "snakemake -n, up to date (as is)", dry, "s", "<= 3 s", dry <= 3,
            note="includes the SLURM plugin's scontrol probe where no controller answers"),
        Row("4 no-op", "snakemake -n, up to date (scontrol answers at once)", dry_stub, "s", "<= 3 s", dry_stub <= 3),
        Row("4 no-op", f"dvc status, up to date ({n_stages} stages)", status, "s", "<= 1 s", status <= 1),
        Row("4 no-op", "dvc repro, nothing to run", repro, "s", "<= 1 s", repro <= 1),
    ]


def main(args) -> list[Row]:
    cores = args.cores or len(os.sched_getaffinity(0))
    root = Path(args.workdir or tempfile.mkdtemp(prefix="launchpad-quick-dag-")) / "launchpad"
    if not (root / "Snakefile").exists():
        working_copy(root, "quick")
    print(f"quick DAG in {root}, {cores} cores", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(["dllaunchpad", "run", "--cores", str(cores)], cwd=root, env=pipeline_env(root),
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"the quick DAG failed in {root}:\n{proc.stderr[-4000:]}")
    times = rule_times(root / "logs/benchmarks/quick")
    print_rule_table(f"quick DAG, per job ({len(times)} jobs, {cores} cores)", times)
    full = full_scale_times()
    if full:
        print_rule_table("full scale, per job (this checkout's last full run)", full)
    print()
    slowest = times[0]
    rows = [Row("5 quick DAG", f"dllaunchpad run --cores {cores}, whole DAG", wall / 60, "min", "<= 2.5 min",
                wall <= 150,
                note=f"{len(times)} jobs, {sum(t[1] for t in times) / 60:.1f} job-min; slowest {slowest[0]} "
                     f"{slowest[1]:.0f} s")]
    return rows + no_op_rows(root, args.repeat)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--cores", type=int, help="Snakemake --cores (default: every core)")
    p.add_argument("--workdir", help="make (or reuse) the working copy here instead of a temporary folder")
    args = p.parse_args()
    finish(main(args), args)
