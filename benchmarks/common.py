"""What every benchmark script shares: the repository, prepared data, timing, and the table.

Each script has `main(args) -> list[Row]` and runs on its own (`python benchmarks/<name>.py`)
or through `python benchmarks/run.py`, which runs them one after another, in separate
processes (so that one's threads, allocator settings and imports do not colour the next), and
prints one table. Speed figures belong here, never in tests: a timed assertion fails on a busy
machine for reasons that have nothing to do with the code.

Figures are best-of-N wall-clock times unless a row says otherwise: on a shared machine the
minimum is the run least disturbed by others, and ratios are taken between runs made back to back
in the same process or the same script.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "mirror"   # where CI and this machine keep the offline copies


@dataclass
class Row:
    benchmark: str            # which script and what it measures, e.g. "overhead: mnist_mlp epoch"
    figure: str               # what the value is
    value: float
    unit: str                 # "s", "ms", "GFLOP/s", "x", ...
    target: str = ""          # the target, as text ("<= 7.9 s"), or "" where there is none
    met: bool | None = None   # whether the value meets the target (None: no target)
    note: str = ""            # the baseline and the ratio, or what the figure includes

    def as_text(self) -> list[str]:
        v = f"{self.value:.3g}" if abs(self.value) < 1000 else f"{self.value:.0f}"
        verdict = "" if self.met is None else ("yes" if self.met else "NO")
        return [self.benchmark, self.figure, f"{v} {self.unit}", self.target, verdict, self.note]


def print_table(rows: list[Row], out=None) -> None:
    """The rows as a table, under the CPU they were measured on (these machines are Intel one
    session and AMD the next)."""
    from dllaunchpad.training.devices import cpu_model

    out = out or sys.stdout
    print(f"CPU: {cpu_model()}, {threads()} cores usable", file=out)
    header = ["benchmark", "figure", "value", "target", "met", "note"]
    cells = [header] + [r.as_text() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    for n, c in enumerate(cells):
        print("  ".join(x.ljust(w) for x, w in zip(c, widths)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    out.flush()


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions per figure (best is kept)")
    return p


def finish(rows: list[Row], args) -> None:
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))


def best_of(fn, repeat: int) -> float:
    """The smallest wall time of `repeat` calls of fn() (seconds)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def threads() -> int:
    """Intra-op threads for the training benchmarks: every core this process may use (the
    chapter's Keras figures were taken with 2 threads on this 2-core machine)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def mirror_env() -> dict:
    """The environment for fetch steps: the offline mirror when no other source is set."""
    env = dict(os.environ)
    if "LAUNCHPAD_MIRROR" not in env and MIRROR.is_dir():
        env["LAUNCHPAD_MIRROR"] = str(MIRROR)
    return env


def ensure_prepared(dataset: str, scale: str = "full") -> Path:
    """data/processed/<dataset>/ of the repository, fetched and prepared first when missing
    (the full-scale data: the benchmarks time the chapter's settings)."""
    from dllaunchpad.pipeline.config import load_params

    processed = REPO / "data" / "processed" / dataset
    summary = processed / "summary.json"
    wanted = load_params(path=REPO / "params.yaml", scale=scale)["datasets"][dataset]["preprocess"]
    if summary.is_file():
        made_with = json.loads(summary.read_text()).get("params", {})
        if all(made_with.get(k) == v for k, v in wanted.items()):  # not a quick-scale preparation
            return processed
    cli = [str(Path(sys.executable).with_name("dllaunchpad")), "--scale", scale]
    for step in ("fetch", "prepare"):
        subprocess.run([*cli, step, dataset], cwd=REPO, env=mirror_env(), check=True)
    return processed


def experiment(name: str, scale: str = "full"):
    """The resolved experiment `name` of the repository's params.yaml at `scale`, run in the
    repository (its data/processed/<dataset>)."""
    from dllaunchpad.pipeline.config import load_params
    from dllaunchpad.pipeline.registry import Registry

    params = load_params(path=REPO / "params.yaml", scale=scale)
    return Registry.from_params(params, root=REPO).experiment(name)


def working_copy(dst: Path, scale: str = "quick") -> Path:
    """A fresh working copy of the repository in `dst`: what a clone would hold (tracked files
    and new files git does not ignore, as they are now in this checkout), none of the outputs,
    params.yaml set to `scale` with the datasets the mirror lacks left out (as `dllaunchpad
    run` does), dvc.yaml regenerated, DVC working without git."""
    import shutil

    import yaml

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src, target = REPO / rel, dst / rel
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the checkout, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    from dllaunchpad.datasets.fetch import datasets_missing_from_mirror

    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["scale"] = scale
    missing = datasets_missing_from_mirror(params["datasets"], mirror_env().get("LAUNCHPAD_MIRROR"))
    params["skip_datasets"] = sorted(set(params["skip_datasets"]) | set(missing))
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, width=100))
    bindir = Path(sys.executable).parent
    subprocess.run([str(bindir / "dllaunchpad"), "dvc-yaml"], cwd=dst, check=True, capture_output=True)
    subprocess.run([str(bindir / "dvc"), "config", "--local", "core.no_scm", "true"], cwd=dst, check=True)
    return dst


def pipeline_env(root: Path) -> dict:
    """The environment a pipeline run in a working copy gets: the mirror, no progress bars, the
    copy's own code first on the path, the venv's tools on PATH."""
    env = mirror_env()
    env["CI"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "src"), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
