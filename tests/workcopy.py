"""Working copies of the repository for the integration tests (pipeline, DVC, SLURM, resume).

A copy holds what a fresh clone would: every file the repository's .gitignore does not exclude
(committed or not yet), symlinks kept as links (./slurm -> workflow/profiles/slurm). It never
touches the repository's own git state. DVC runs in the copy without git (core.no_scm).

`trim_params` cuts params.yaml's registry down to a few datasets and experiments, so that a test
can run a real DAG end to end, report included, in seconds: the report depends on every enabled
experiment, and a trimmed registry is the honest way to have a small one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pathspec
import pytest
import yaml

from conftest import MIRROR, REPO

# Never copied, whatever .gitignore says: git's and DVC's own state.
# dvc.lock records this checkout's own runs: a copy starts without one, as a fresh clone does.
ALWAYS_SKIP = {".git", ".dvc/cache", ".dvc/tmp", ".dvc/config.local", "dvc.lock"}


def _ignored() -> pathspec.PathSpec:
    lines = (REPO / ".gitignore").read_text().splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines)


def copy_repo(dst: Path) -> Path:
    """Copy the repository's source files (not its outputs) to `dst`."""
    spec = _ignored()
    for dirpath, dirnames, filenames in os.walk(REPO):
        rel_dir = Path(dirpath).relative_to(REPO)
        keep = []
        for d in dirnames:
            rel = (rel_dir / d).as_posix()
            if rel in ALWAYS_SKIP or spec.match_file(rel + "/"):
                continue
            if (REPO / rel).is_symlink():  # a link to a folder: copy the link itself
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                (dst / rel).symlink_to(os.readlink(REPO / rel))
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            rel = (rel_dir / f).as_posix()
            if rel in ALWAYS_SKIP or spec.match_file(rel):
                continue
            src, target = REPO / rel, dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                target.symlink_to(os.readlink(src))
            else:
                shutil.copy2(src, target)
    return dst


def env(root: Path | None = None) -> dict:
    """The environment the pipeline runs in: the offline mirror, CI mode, and (with `root`) the
    copy's own package first on the path, so that the copy runs its own code even where the
    project is installed in editable mode from elsewhere."""
    out = {**os.environ, "LAUNCHPAD_MIRROR": str(MIRROR), "CI": "1"}
    if root is not None and (Path(root) / "src/dllaunchpad").is_dir():
        out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(root) / "src"), os.environ.get("PYTHONPATH")]))
    return out


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=kw.pop("env", None) or env(cwd), capture_output=True, text=True,
                          timeout=timeout, **kw)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def read_params(root: Path) -> dict:
    return yaml.safe_load((root / "params.yaml").read_text())


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, width=100))


def trim_params(root: Path, *, datasets: list[str], experiments: list[str], **top) -> dict:
    """Keep only the named datasets (plus rps, which stays listed and skipped: the mirror has no
    copy) and experiments; `top` sets top-level keys (scale=..., cluster=...). Regenerates dvc.yaml."""
    params = read_params(root)
    missing = [e for e in experiments if e not in params["experiments"]]
    if missing:
        raise KeyError(f"experiments {missing} are not in params.yaml")
    params["datasets"] = {k: v for k, v in params["datasets"].items() if k in {*datasets, "rps"}}
    params["experiments"] = {k: v for k, v in params["experiments"].items() if k in experiments}
    params["skip_datasets"] = ["rps"]
    params.update(top)
    write_params(root, params)
    run(["dllaunchpad", "dvc-yaml"], root)
    return params


def init_dvc(root: Path, git: bool = False) -> None:
    """DVC without git in the copy (the repository's .dvc/config comes with it), or with a fresh
    git repository holding one commit (DVC experiments need git)."""
    if not git:
        run(["dvc", "config", "--local", "core.no_scm", "true"], root)
        return
    run(["git", "init", "-q", "-b", "main"], root)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], root)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], root)
    run(["git", "config", "user.name", "launchpad tests"], root)
    run(["git", "config", "user.email", "tests@localhost"], root)


def make_copy(dst: Path, edit=None, git: bool = False, **trim) -> Path:
    """A working copy with a trimmed registry (see trim_params) and DVC ready. `edit(params)`
    may change params.yaml's content before it is trimmed."""
    if not MIRROR.is_dir():
        pytest.skip(f"dataset mirror {MIRROR} not available")
    copy_repo(dst)
    if edit is not None:
        params = read_params(dst)
        edit(params)
        write_params(dst, params)
    if trim:
        trim_params(dst, **trim)
    init_dvc(dst, git=git)
    return dst


def ran_rules(snakemake_output: str) -> list[str]:
    """Rule names of the jobs a Snakemake run (or dry run) lists, sorted."""
    names = []
    for line in snakemake_output.splitlines():
        line = line.strip()
        if line.startswith(("rule ", "localrule ")) and line.endswith(":"):
            names.append(line.split()[1].rstrip(":"))
    return sorted(set(names) - {"all"})


def dvc_ran_stages(dvc_output: str) -> list[str]:
    """Stage names `dvc repro` ran, sorted."""
    return sorted(line.split("'")[1] for line in dvc_output.splitlines() if line.startswith("Running stage '"))


def dvc_stages(root: Path) -> dict:
    """dvc.yaml's stages in the working copy."""
    return yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
