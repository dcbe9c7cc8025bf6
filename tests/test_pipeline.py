"""Integration: the quick DAG, offline from the shared mirror, in a temporary copy of the
repository. Snakemake runs it and then has nothing left to do; DVC agrees: the run was recorded
in dvc.lock (the Snakefile's onsuccess handler), so `dvc status` is clean and `dvc repro`
reruns nothing. (tests/test_dvc.py checks the other direction and `dvc repro` doing work, on a
small DAG.)"""

from __future__ import annotations

import json

import pytest

import workcopy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    dst = tmp_path_factory.mktemp("pipeline") / "launchpad"
    workcopy.make_copy(dst)
    params = (dst / "params.yaml").read_text()
    assert "scale: full" in params and "skip_datasets: []" in params
    # Quick mode, and no RPS: the mirror has no copy of it and there is no network here.
    params = params.replace("scale: full", "scale: quick").replace("skip_datasets: []", "skip_datasets: [rps]")
    (dst / "params.yaml").write_text(params)
    workcopy.run(["dllaunchpad", "dvc-yaml"], dst)
    return dst, workcopy.env(dst)


def _run(cmd, cwd, env, check=True, timeout=1500):
    return workcopy.run(cmd, cwd, check=check, timeout=timeout, env=env)


def test_snakemake_runs_the_quick_dag(work):
    dst, env = work
    run = _run(["snakemake", "--cores", "2"], dst, env)
    assert "stage(s) in dvc.lock: dvc commit --force" in run.stderr  # recorded for DVC
    assert (dst / "reports/index.html").stat().st_size > 10_000
    for name in ("tensor_products", "linear_regression", "xor"):
        metrics = json.loads((dst / f"reports/metrics/{name}.json").read_text())
        assert metrics, name
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
    assert "6000" in json.dumps(summary)  # quick mode subsampled


def test_snakemake_rerun_has_nothing_to_do(work):
    dst, env = work
    proc = _run(["snakemake", "-n", "--cores", "2"], dst, env)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_dvc_agrees_nothing_is_left_to_reproduce(work):
    dst, env = work
    assert (dst / "dvc.lock").exists()
    status = _run(["dvc", "status"], dst, env)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout[-3000:]
    repro = _run(["dvc", "repro"], dst, env)
    assert "Running stage" not in repro.stdout, repro.stdout[-3000:]


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
