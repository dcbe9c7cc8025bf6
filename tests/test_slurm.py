"""A real single-host SLURM cluster (munged, slurmctld, slurmd on 127.0.0.1, partitions `cpu`
and `gpu`, two fake GPUs) runs a small DAG through the real profile with the command users type:

    snakemake --cores 8 --profile slurm <targets> --config scale=quick skip_datasets=[rps]

from the root of a working copy whose registry is cut down to iris and XOR: one fetch, one
preprocess, one GPU-tagged training job, its evaluation, and the report. The test reads back
from Slurm (`scontrol show job`, finished jobs stay listed for MinJobAge=600 s) which partition
and gres each job had, and stops the cluster it started.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import workcopy
from conftest import MIRROR, REPO, missing_component

# A real SLURM cluster is a real component: on a machine without it (or without root) the test
# skips; under CI=true, where .ci/run installs slurmctld, slurmd and munge, it fails instead.
pytestmark = [pytest.mark.integration, pytest.mark.real_component]

SCRIPTS = REPO / "workflow/scripts/slurm"
SLURM_BINARIES = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scontrol")


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root: it starts munged, slurmctld and slurmd"
    missing = [b for b in SLURM_BINARIES if not (shutil.which(b) or Path("/usr/sbin", b).exists())]
    if missing:
        return f"SLURM is not installed ({', '.join(missing)} missing): apt-get install slurmctld slurmd slurm-client munge"
    if not MIRROR.is_dir():
        return f"dataset mirror {MIRROR} not available"
    return None


def _cluster_up() -> bool:
    proc = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return proc.returncode == 0 and "is UP" in proc.stdout


@pytest.fixture(scope="module")
def cluster():
    reason = _why_not()
    if reason:
        missing_component(reason)
    started_here = not _cluster_up()
    try:
        start = subprocess.run(["bash", str(SCRIPTS / "start-cluster.sh")], capture_output=True, text=True, timeout=300)
        if start.returncode != 0:
            pytest.fail(f"start-cluster.sh failed:\n{start.stdout[-3000:]}\n{start.stderr[-3000:]}")
        yield
    finally:
        if started_here:  # leave a cluster someone else started alone
            subprocess.run(["bash", str(SCRIPTS / "stop-cluster.sh")], capture_output=True, text=True, timeout=120)
    assert not started_here or not _cluster_up()


def _submitted(snakemake_output: str) -> dict[str, str]:
    """rule name -> Slurm job id, from the plugin's log paths (.snakemake/slurm_logs/rule_<rule>/<id>.log)."""
    jobs = re.findall(r"slurm_logs/rule_([A-Za-z0-9_]+?)/(?:[^/\s]*/)?(\d+)\.log", snakemake_output)
    return {rule: job for rule, job in jobs}


def _job(job_id: str) -> dict[str, str]:
    text = subprocess.run(["scontrol", "show", "job", "--oneliner", job_id], capture_output=True,
                          text=True, check=True).stdout
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


def test_profile_slurm_puts_training_on_the_gpu_partition(cluster, tmp_path):
    def shorter(params):  # XOR's quick 2000 epochs are not what this test is about
        params["experiments"]["xor"]["quick"]["trainer"]["epochs"] = 300

    root = workcopy.make_copy(tmp_path / "launchpad", edit=shorter, datasets=["iris"], experiments=["xor"],
                              scale="quick")
    assert (root / "slurm/config.yaml").is_file()  # what a bare `--profile slurm` finds
    run = workcopy.run(["snakemake", "--cores", "8", "--profile", "slurm", "all",
                        "--config", "scale=quick", "skip_datasets=[rps]"], root, timeout=600)
    log = run.stdout + run.stderr
    jobs = _submitted(log)
    assert set(jobs) == {"fetch_iris", "preprocess_iris", "train_xor", "evaluate_xor"}, log[-4000:]

    train = _job(jobs["train_xor"])
    assert train["Partition"] == "gpu" and train["JobState"] == "COMPLETED"
    assert "gpu:1" in train.get("TresPerNode", "") + train.get("Gres", ""), train
    for rule in ("fetch_iris", "preprocess_iris", "evaluate_xor"):
        job = _job(jobs[rule])
        assert job["Partition"] == "cpu" and job["JobState"] == "COMPLETED", (rule, job)
        assert "gpu" not in job.get("TresPerNode", ""), (rule, job)

    # Inside its job, training saw the gres (CUDA_VISIBLE_DEVICES set, no real device) and
    # fell back to the CPU with a log line instead of crashing.
    assert "no usable GPU (CUDA_VISIBLE_DEVICES=0)" in (root / "logs/train/xor.log").read_text()
    assert json.loads((root / "models/xor/train.json").read_text())["device"] == "cpu"
    assert json.loads((root / "reports/metrics/xor.json").read_text())["epochs_run"] == 300
    assert (root / "reports/index.html").stat().st_size > 1000  # the report ran on the submit host
    assert (root / "data/processed/iris/summary.json").exists()
