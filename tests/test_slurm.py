"""A real single-host SLURM cluster (munged, slurmctld, two nodes' slurmd on 127.0.0.1, the second
in its own UTS namespace; partitions `cpu` and `gpu`, two fake GPUs per node) runs a small DAG
through the real profile with the command users type:

    snakemake --cores 8 --profile slurm <targets> --config scale=quick skip_datasets=[rps]

from the root of a working copy whose registry is cut down to iris and XOR: one fetch, one
preprocess, one GPU-tagged training job, its evaluation, and the report. The test reads back
from Slurm (`scontrol show job`, finished jobs stay listed for MinJobAge=600 s) which partition
and gres each job had, and stops the cluster it started. A second test runs a two-node DDP
training job through `srun` and compares it with a single process.
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
from conftest import MIRROR, REPO, missing_component, without_scontrol_stub

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
    with without_scontrol_stub():  # the real scontrol: this module's cluster answers it
        yield from _a_cluster()


def _a_cluster():
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


def _nodes() -> list[str]:
    out = subprocess.run(["sinfo", "-h", "-N", "-p", "gpu", "-o", "%N"], capture_output=True, text=True, check=True).stdout
    return sorted(set(out.split()))


def test_a_two_node_job_trains_with_ddp_through_srun_as_one_process_would(cluster, tmp_path):
    """`trainer: {num_nodes: 2}` makes ONE Slurm job of two nodes, whose `srun` starts one
    training process on each (start-cluster.sh runs the second node's slurmd in its own UTS
    namespace); Lightning's SLURM environment gives them their ranks and DDP runs over gloo.

    DDP is checked against a single-process run of the same entry: rank r takes every second
    sample of each epoch's seeded order from position r (batches.TensorBatches), so two ranks'
    batches of 16 are, together, the one process's batch of 32, and the gradient averaged over
    the ranks is that batch's gradient. The two runs must end with the same weights up to
    float rounding, and the same synced epoch metrics."""
    import torch

    nodes = _nodes()
    assert len(nodes) >= 2, f"the test cluster has one node ({nodes}): see start-cluster.sh's log"

    def two_nodes(params):
        iris = params["experiments"]["iris_mlp"]
        iris["quick"]["trainer"]["epochs"] = 30
        iris["variants"] = {"named": {"two_nodes": {"trainer.num_nodes": 2, "trainer.batch_size": 16}}}

    root = workcopy.make_copy(tmp_path / "launchpad", edit=two_nodes, datasets=["iris"], experiments=["iris_mlp"],
                              scale="quick")
    metrics = ["reports/metrics/iris_mlp.json", "reports/metrics/iris_mlp__two_nodes.json"]
    run = workcopy.run(["snakemake", "--cores", "8", "--profile", "slurm", *metrics,
                        "--config", "scale=quick", "skip_datasets=[rps]"], root, timeout=600)
    log = run.stdout + run.stderr
    jobs = _submitted(log)

    multi = _job(jobs["train_iris_mlp__two_nodes"])
    assert multi["JobState"] == "COMPLETED" and multi["Partition"] == "gpu", multi
    assert (multi["NumNodes"], multi["NumTasks"]) == ("2", "2"), multi
    single = _job(jobs["train_iris_mlp"])
    assert (single["NumNodes"], single["NumTasks"]) == ("1", "1"), single

    # Both ranks trained, each on its own node, and rank 0 wrote the outputs.
    train_log = (root / "logs/train/iris_mlp__two_nodes.log").read_text()
    hosts = dict(re.findall(r"rank (\d) of 2 trained on host (\S+)", train_log))
    assert set(hosts) == {"0", "1"} and len(set(hosts.values())) == 2, train_log[-3000:]
    assert set(hosts.values()) <= set(nodes)
    info = json.loads((root / "models/iris_mlp__two_nodes/train.json").read_text())
    assert info["world_size"] == 2 and info["epochs_run"] == 30
    assert json.loads((root / "models/iris_mlp/train.json").read_text())["world_size"] == 1

    def weights(exp):
        return torch.load(root / f"models/{exp}/last.ckpt", map_location="cpu", weights_only=True)["state_dict"]

    one, two = weights("iris_mlp"), weights("iris_mlp__two_nodes")
    assert one.keys() == two.keys()
    gap = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert gap < 1e-5, f"DDP weights differ from the single process's by {gap}"

    m1, m2 = (json.loads((root / m).read_text()) for m in metrics)
    assert m1["test_accuracy"] == m2["test_accuracy"]
    for key in ("test_cross_entropy", "final_train_loss", "final_val_loss", "final_train_accuracy"):
        assert m2[key] == pytest.approx(m1[key], abs=1e-5), key  # epoch means summed over both ranks
