"""Snakemake and DVC agree on what is up to date.

Both tools run the same stages under the same names (fetch_<dataset>, preprocess_<dataset>,
train_<experiment>, ..., report): the Snakefile's rules and dvc.yaml are generated from one
registry. What each tool remembers about a finished stage differs, though: DVC keeps hashes in
dvc.lock, Snakemake compares file times and keeps its own records in .snakemake/metadata. Two
bridges keep them in step:

Snakemake -> DVC
    After a successful run, the Snakefile's ``onsuccess`` handler (workflow/rules/dvc.smk) calls
    :func:`record_snakemake_run`: ``dvc commit --force`` for the stages of the run's DAG, i.e.
    the jobs that ran and those Snakemake found up to date (an earlier, interrupted run may have
    made them). dvc.lock then describes the outputs Snakemake vouches for, so ``dvc status`` is
    clean and ``dvc repro`` reruns nothing. Stages outside the run's targets are left alone. It refuses (and says why) when the run's ``--config`` differed
    from params.yaml, which is what DVC reads: recording quick outputs under ``scale: full``
    would be a lie.

DVC -> Snakemake
    ``dvc pull``/``dvc checkout`` write outputs with new file times in no particular order (a
    model may come out newer than its metrics), and ``dvc repro`` leaves Snakemake's records of
    the old params behind; either makes Snakemake rerun work DVC vouches for.
    ``dllaunchpad dvc-sync`` (:func:`sync_snakemake`) asks DVC which stages are up to date and
    has Snakemake mark exactly those jobs done: ``snakemake --touch --forcerun <stages>
    --allowed-rules <stages>`` sets their outputs' times in DAG order and records fresh
    metadata for every one of them (so that a later params change is noticed even in a fresh
    clone, where Snakemake had no records). The outputs of stages DVC does not vouch for get a
    file time of 1 s after the epoch, older than any input, so Snakemake reruns them even
    without records.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Mapping

from dllaunchpad.io import load_yaml


def _say(msg: str) -> None:
    print(f"launchpad: {msg}", file=sys.stderr, flush=True)


def dvc_stage_names(root: Path | str = ".") -> list[str]:
    """Stage names of dvc.yaml, in file order ([] when there is none)."""
    path = Path(root) / "dvc.yaml"
    if not path.exists():
        return []
    return list((load_yaml(path.read_text()) or {}).get("stages", {}))


def config_overrides(config: Mapping, root: Path | str = ".") -> list[str]:
    """Top-level keys whose value in Snakemake's config differs from params.yaml's."""
    from dllaunchpad.pipeline.config import read_params

    on_disk = read_params(Path(root) / "params.yaml")
    return sorted(k for k in set(config) | set(on_disk) if config.get(k) != on_disk.get(k))


def _dvc_ready(root: Path) -> bool:
    return (root / ".dvc").is_dir() and shutil.which("dvc") is not None


def record_snakemake_run(rules: Iterable[str], config: Mapping, root: Path | str = ".") -> list[str]:
    """``dvc commit --force`` the DVC stages among `rules` (the rule names of a successful run's
    jobs; a stage and its rule have the same name).

    Returns the stages committed ([] when there was nothing to record or it was refused).
    """
    root = Path(root)
    if not _dvc_ready(root):
        return []
    wanted = set(rules)
    every_stage = dvc_stage_names(root)
    stages = [s for s in every_stage if s in wanted]
    if not stages:
        return []
    from dllaunchpad.pipeline.config import read_params
    from dllaunchpad.pipeline.dvc_yaml import MODE_KEYS, mode_of, render

    differing = [k for k in config_overrides(config, root) if k not in MODE_KEYS]
    if differing:
        _say(f"not recording this run in DVC: its config differs from params.yaml in {differing} "
             "(--config), and dvc.lock must describe params.yaml. Run without those --config overrides, "
             "or edit params.yaml, to keep DVC in step.")
        return []
    mode = mode_of(dict(config), read_params(root / "params.yaml"))
    if (root / "dvc.yaml").read_text() != render(read_params(root / "params.yaml"), mode=mode):
        _say("not recording this run in DVC: dvc.yaml is out of date with params.yaml; run "
             "`dllaunchpad dvc-yaml`, then `dvc commit` or rerun.")
        return []
    # DVC's stages read slices of params.yaml and code manifests (pipeline/stage_inputs.py),
    # which this run did not write (Snakemake reads params.yaml and the sources): write them,
    # and record the stage that makes them.
    from dllaunchpad.pipeline.dvc_yaml import write_stage_inputs
    from dllaunchpad.pipeline.stage_inputs import STAGE as INPUTS_STAGE

    write_stage_inputs(root)
    if INPUTS_STAGE in every_stage and INPUTS_STAGE not in stages:
        stages.insert(0, INPUTS_STAGE)
    _say(f"recording {len(stages)} stage(s) in dvc.lock: dvc commit --force {' '.join(stages)}")
    # `dvc commit` with targets commits them one at a time and rewrites dvc.lock after each: for
    # the ~200 stages of the quick DAG that took over 10 minutes. A run of every stage commits
    # them without targets, in one pass and one write.
    targets = [] if len(stages) == len(every_stage) else stages
    proc = subprocess.run(["dvc", "commit", "--force", "--quiet", *targets], cwd=root,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        # The outputs are fine; only DVC's record is behind. Say so loudly, do not fail the run.
        _say(f"dvc commit failed ({proc.returncode}); DVC does not know about this run's outputs:\n"
             f"{proc.stdout}{proc.stderr}")
        return []
    return stages


def dvc_stale_stages(root: Path | str = ".") -> set[str]:
    """Stages `dvc status` reports as changed (deps, params, outs, or missing from dvc.lock)."""
    proc = subprocess.run(["dvc", "status", "--json"], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dvc status failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    report = json.loads(proc.stdout or "{}")
    return {name.rsplit(":", 1)[-1] for name in report}


def stage_outputs(root: Path | str = ".") -> dict[str, list[str]]:
    """Every stage's output paths (outs, metrics, plots) from dvc.yaml."""
    spec = load_yaml((Path(root) / "dvc.yaml").read_text()) or {}
    out = {}
    for name, stage in spec.get("stages", {}).items():
        entries = [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]
        out[name] = [next(iter(e)) if isinstance(e, dict) else e for e in entries]
    return out


def mark_outdated(paths: Iterable[Path]) -> None:
    """File time 1 s after the epoch (also for Snakemake's time carrier inside a folder): older
    than any input, so Snakemake reruns the job that makes them. Not 0: Snakemake reads an
    output time of 0 as "unknown" and skips the comparison."""
    import os

    for path in paths:
        for p in (path, path / ".snakemake_timestamp"):
            if p.exists() and not p.is_symlink():
                os.utime(p, (1, 1))


def sync_snakemake(root: Path | str = ".", snakemake_args: Iterable[str] = ()) -> list[str]:
    """Make Snakemake agree with DVC (see the module docstring). Returns the stages DVC vouched
    for, which Snakemake now takes as done."""
    root = Path(root)
    if not _dvc_ready(root):
        raise RuntimeError(f"{root.resolve()}: no DVC repository (.dvc/) or no `dvc` on PATH")
    # Stage inputs first: after an edit of params.yaml or of the code, data/params/ and data/code/
    # still hold the old ones, and DVC would vouch for every stage but stage_inputs
    # (pipeline/stage_inputs.py).
    from dllaunchpad.pipeline.dvc_yaml import write_stage_inputs

    write_stage_inputs(root)
    stale = dvc_stale_stages(root)
    vouched = [s for s in dvc_stage_names(root) if s not in stale]
    if stale:
        _say(f"DVC does not vouch for {len(stale)} stage(s), Snakemake will rerun them: {' '.join(sorted(stale))}")
        outputs = stage_outputs(root)
        mark_outdated(root / p for s in stale for p in outputs.get(s, []))
    if not vouched:
        return []
    exe = shutil.which("snakemake")
    if exe is None:
        raise FileNotFoundError("snakemake is not on PATH; install the project (see README)")
    # --touch: set output times in DAG order and record metadata, running nothing; --forcerun:
    # all of them, not only those Snakemake would rerun; --allowed-rules: no other job is
    # touched; --no-hooks: no onsuccess commit (DVC already has all this).
    from dllaunchpad.pipeline.dvc_yaml import KEEP_ENV, config_args, mode_in

    mode = config_args(mode_in(root / "dvc.yaml"))  # the run dvc.yaml was written for (quick, no RPS)
    cmd = [exe, "--touch", "--cores", "1", "--no-hooks", *snakemake_args,
           "--forcerun", *vouched, "--allowed-rules", *vouched, *(["--config", *mode] if mode else [])]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env={**os.environ, KEEP_ENV: "keep"})
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return vouched
