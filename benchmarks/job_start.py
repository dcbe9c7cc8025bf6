"""Benchmark 7: the fixed cost of one train or evaluate job, cold and warm (issue 18: <= 1.5 s).

A job is a whole `dllaunchpad --scale quick <step> <experiment>` process, as Snakemake runs it.
Cold: a fresh interpreter imports torch, Lightning and the family, then works. Warm: the job's
process hands itself to the warm server `dllaunchpad run` starts (src/dllaunchpad/warm.py), which
forks a child that has imported everything already. The jobs are chosen to compute almost
nothing, so their wall time is the fixed cost: loading the registry, data and checkpoint, a
Lightning Trainer where the family uses one, writing the outputs.

    evaluate xor                 four inputs through a 2-6-1 net, after its training job
    train linear_regression      a few hundred points, a few epochs (quick settings)

Best of --repeat, in one fresh working copy (common.working_copy), with the CPU model printed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Row, finish, parser, pipeline_env, working_copy

JOBS = [("evaluate", "xor"), ("train", "linear_regression")]


def timed_job(step: str, name: str, root: Path, env: dict, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(["dllaunchpad", "--scale", "quick", step, name], cwd=root, env=env,
                              capture_output=True, text=True)
        best = min(best, time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"{step} {name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return best


def main(args) -> list[Row]:
    from dllaunchpad import warm
    from dllaunchpad.cli import warm_server_command
    from dllaunchpad.training.devices import cpu_model

    root = Path(tempfile.mkdtemp(prefix="launchpad-job-start-")) / "launchpad"
    working_copy(root, "quick")
    env = {k: v for k, v in pipeline_env(root).items() if k != warm.ENV}
    subprocess.run(["dllaunchpad", "--scale", "quick", "train", "xor"], cwd=root, env=env, check=True,
                   capture_output=True)  # the checkpoint `evaluate xor` loads
    print(f"CPU: {cpu_model()}", file=sys.stderr)
    rows = []
    server = warm_server_command()
    with warm.started(server, env, root / "logs" / "warm-server.log") as path:
        if path is None:
            raise RuntimeError(f"the warm server did not start: {(root / 'logs/warm-server.log').read_text()}")
        for step, name in JOBS:
            cold = timed_job(step, name, root, env, args.repeat)
            hot = timed_job(step, name, root, {**env, warm.ENV: path}, args.repeat)
            rows.append(Row("7 job start", f"{step} {name}, cold (fresh interpreter)", cold, "s",
                            note=cpu_model()))
            rows.append(Row("7 job start", f"{step} {name}, warm (forked from the server)", hot, "s", "<= 1.5 s",
                            hot <= 1.5, note=f"{cold / hot:.1f}x faster than cold"))
    return rows


if __name__ == "__main__":
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    finish(main(args), args)
