"""Integration: the README's quick command, offline from the shared mirror, in a fresh copy of
the repository, with params.yaml as committed:

    LAUNCHPAD_MIRROR=../shared/mirror dllaunchpad --scale quick run

It leaves RPS out (the mirror has no copy), runs the quick DAG through Snakemake, and records it
in dvc.lock: `dvc status` is clean and `dvc repro` reruns nothing. Then a second copy holding the
files a user would commit after that run (params.yaml, the dvc.yaml the run wrote for its mode)
runs `dvc repro` alone, one stage at a time, and every metrics file of the quick DAG comes out
byte-identical to the Snakemake run's on 2 cores. (tests/test_dvc.py checks the other direction
on a small DAG.)"""

from __future__ import annotations

import json
import shutil

import pytest

import workcopy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    dst = tmp_path_factory.mktemp("pipeline") / "launchpad"
    workcopy.make_copy(dst)
    params = (dst / "params.yaml").read_text()
    assert "scale: full" in params and "skip_datasets: []" in params  # as committed: nothing edited
    return dst, workcopy.env(dst)


def _run(cmd, cwd, env, check=True, timeout=1800):
    return workcopy.run(cmd, cwd, check=check, timeout=timeout, env=env)


def _metrics(root) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "reports/metrics").glob("*.json"))}


def test_the_readme_quick_command_runs_the_quick_dag(work):
    dst, env = work
    run = _run(["dllaunchpad", "--scale", "quick", "run", "--cores", "2"], dst, env)
    assert "leaving it out" in run.stderr and "rps" in run.stderr
    assert "stage(s) in dvc.lock: dvc commit --force" in run.stderr  # recorded for DVC
    assert (dst / "reports/index.html").stat().st_size > 10_000
    assert json.loads((dst / "reports/metrics/xor.json").read_text())["binary_accuracy"] == 1.0
    for ds in ("mnist", "classical_piano", "sunspots", "boston", "iris"):
        assert (dst / f"data/processed/{ds}/summary.json").exists(), ds
        assert (dst / f"logs/preprocess/{ds}.log").exists(), ds
    assert not (dst / "data/raw/rps").exists()
    # every job timed (benchmarks/quick_dag.py sums these)
    timed = {p.relative_to(dst / "logs/benchmarks/quick").as_posix() for p in (dst / "logs/benchmarks/quick").rglob("*.tsv")}
    assert {"train/xor.tsv", "evaluate/xor.tsv", "fetch/mnist.tsv", "preprocess/mnist.tsv",
            "report/report.tsv"} <= timed, sorted(timed)
    assert (dst / "logs/benchmarks/quick/train/xor.tsv").read_text().startswith("s\t")
    summary = json.loads((dst / "data/processed/mnist/summary.json").read_text())
    assert (summary["params"]["train_samples"], summary["params"]["test_samples"]) == (6000, 1000)  # quick mode


def test_snakemake_rerun_has_nothing_to_do(work):
    dst, env = work
    proc = _run(["snakemake", "-n", "--cores", "2", "--config", "scale=quick", "skip_datasets=[rps]"], dst, env)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_dvc_agrees_nothing_is_left_to_reproduce(work):
    dst, env = work
    assert (dst / "dvc.lock").exists()
    status = _run(["dvc", "status"], dst, env)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout[-3000:]
    repro = _run(["dvc", "repro"], dst, env)
    assert "Running stage" not in repro.stdout, repro.stdout[-3000:]


def test_dvc_repro_alone_in_a_second_copy_gives_the_same_metrics(work, tmp_path):
    dst, env = work
    second = tmp_path / "second"
    skip = shutil.ignore_patterns("data", "models", "reports", "logs", ".snakemake", "cache", "tmp", "dvc.lock")
    shutil.copytree(dst, second, symlinks=True, ignore=skip)
    repro = _run(["dvc", "repro"], second, workcopy.env(second))
    assert "Running stage 'train_xor'" in repro.stdout
    first, again = _metrics(dst), _metrics(second)
    assert len(first) >= 28 and first.keys() == again.keys()
    differing = [name for name in first if first[name] != again[name]]
    assert not differing, f"metrics that differ between Snakemake --cores 2 and dvc repro: {differing}"


def test_bad_params_stop_snakemake_before_any_job(work, tmp_path):
    dst, env = work
    original = (dst / "params.yaml").read_text()
    try:
        (dst / "params.yaml").write_text(original.replace("epochs: 2000", "epochs: lots", 1))
        proc = _run(["snakemake", "-n", "--cores", "1"], dst, env, check=False)
        assert proc.returncode != 0
        assert "experiments.xor.trainer.epochs" in proc.stdout + proc.stderr
    finally:
        (dst / "params.yaml").write_text(original)
