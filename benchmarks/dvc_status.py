"""Benchmark 4 on the full registry: a no-op `dvc status` and `dvc repro`, without running the DAG.

quick_dag.py times them after a real quick DAG (minutes). This script builds the same no-op
state in seconds: a working copy at full scale (common.working_copy: every entry of params.yaml,
datasets the mirror lacks left out), a small placeholder file in every output of every stage,
the params slices and code manifests (`dllaunchpad stage-inputs`), then `dvc commit --force` of everything. DVC then
holds a hash for every dependency, param and output, as after a complete run, and a no-op
`dvc status` does exactly the work it does there (parse dvc.yaml and dvc.lock, read each stage's
params, look up each dependency's hash in DVC's state database). Target: <= 1 s (issue 18).

It also prints what that state costs: the `dvc commit` of every stage (what Snakemake's
onsuccess handler runs after a whole-DAG run) and the sizes of dvc.yaml and dvc.lock.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from common import Row, finish, parser, pipeline_env, working_copy
from quick_dag import timed


def placeholder_outputs(root: Path) -> int:
    """A one-line file for each output file, a folder holding one for each output folder."""
    stages = yaml.load((root / "dvc.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["stages"]
    n = 0
    for name, stage in stages.items():
        if name == "stage_inputs":  # its outputs are the real slices and manifests
            continue
        for entry in [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]:
            path = root / (next(iter(entry)) if isinstance(entry, dict) else entry)
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{name}\n")
            else:
                path.mkdir(parents=True, exist_ok=True)
                (path / "placeholder.txt").write_text(f"{name}\n")
            n += 1
    return n


def main(args) -> list[Row]:
    root = working_copy(Path(tempfile.mkdtemp(prefix="launchpad-dvc-status-")) / "launchpad", "full")
    env = pipeline_env(root)
    n_outs = placeholder_outputs(root)
    subprocess.run(["dllaunchpad", "stage-inputs"], cwd=root, env=env, check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run(["dvc", "commit", "--force", "--quiet"], cwd=root, env=env, check=True, capture_output=True)
    commit = time.perf_counter() - t0
    n_stages = len(yaml.load((root / "dvc.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["stages"])
    sizes = {f: (root / f).stat().st_size / 1e6 for f in ("dvc.yaml", "dvc.lock", "params.yaml")}
    print(f"{root}: {n_stages} stages, {n_outs} outputs; " + ", ".join(f"{f} {mb:.2f} MB" for f, mb in sizes.items()),
          file=sys.stderr)
    status = timed(["dvc", "status"], root, env, args.repeat, "up to date")
    repro = timed(["dvc", "repro"], root, env, args.repeat, "up to date")
    shape = f"{n_stages} stages, dvc.yaml {sizes['dvc.yaml']:.1f} MB, dvc.lock {sizes['dvc.lock']:.1f} MB"
    return [
        Row("4 no-op (full registry)", "dvc status, up to date", status, "s", "<= 1 s", status <= 1, note=shape),
        Row("4 no-op (full registry)", "dvc repro, nothing to run", repro, "s", "<= 1 s", repro <= 1, note=shape),
        Row("4 no-op (full registry)", "dvc commit --force, every stage", commit, "s",
            note="what recording a whole-DAG Snakemake run in dvc.lock costs"),
    ]


if __name__ == "__main__":
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    finish(main(args), args)
