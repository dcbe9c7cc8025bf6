"""Integration: the quick DAG, offline from the shared mirror, in a temporary copy of the
repository. Snakemake runs it, then has nothing left to do; `dvc repro` runs it on the same
copy, and a second `dvc repro` is a no-op."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import MIRROR, REPO

pytestmark = pytest.mark.integration


def _files_to_copy() -> list[str]:
    """What a fresh clone would hold (tracked files), plus new files not yet committed."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [f for f in out.splitlines() if (REPO / f).exists() or (REPO / f).is_symlink()]


def _run(cmd, cwd, env, check=True, timeout=900):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    if not MIRROR.is_dir():
        pytest.skip(f"dataset mirror {MIRROR} not available")
    dst = tmp_path_factory.mktemp("pipeline") / "launchpad"
    for rel in _files_to_copy():
        src, target = REPO / rel, dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    params = (dst / "params.yaml").read_text()
    assert "scale: full" in params and "skip_datasets: []" in params
    # Quick mode, and no RPS: the mirror has no copy of it and there is no network here.
    params = params.replace("scale: full", "scale: quick").replace("skip_datasets: []", "skip_datasets: [rps]")
    (dst / "params.yaml").write_text(params)
    env = {**os.environ, "LAUNCHPAD_MIRROR": str(MIRROR), "CI": "1"}
    _run(["dllaunchpad", "dvc-yaml"], dst, env)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        _run(cmd, dst, env)
    return dst, env


def test_snakemake_runs_the_quick_dag(work):
    dst, env = work
    _run(["snakemake", "--cores", "2"], dst, env)
    assert (dst / "reports/index.html").stat().st_size > 10_000
    for name in ("tensor_products", "linear_regression", "xor"):
        metrics = json.loads((dst / f"reports/metrics/{name}.json").read_text())
        assert metrics, name
    assert json.loads((dst / "reports/metrics/xor.json").read_text())["binary_accuracy"] == 1.0
    for ds in ("mnist", "classical_piano", "sunspots", "boston", "iris"):
        assert (dst / f"data/processed/{ds}/summary.json").exists(), ds
        assert (dst / f"logs/preprocess/{ds}.log").exists(), ds
    assert not (dst / "data/raw/rps").exists()
    assert (dst / "logs/benchmarks/train/xor.tsv").read_text().startswith("s\t")
    summary = json.loads((dst / "data/processed/mnist/summary.json").read_text())
    assert "6000" in json.dumps(summary)  # quick mode subsampled


def test_snakemake_rerun_has_nothing_to_do(work):
    dst, env = work
    proc = _run(["snakemake", "-n", "--cores", "2"], dst, env)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_dvc_repro_then_noop(work):
    dst, env = work
    first = _run(["dvc", "repro"], dst, env)
    assert "Running stage 'report'" in first.stdout
    second = _run(["dvc", "repro"], dst, env)
    assert "Running stage" not in second.stdout, second.stdout
    assert (dst / "dvc.lock").exists()
    status = _run(["dvc", "status"], dst, env)
    assert "up to date" in status.stdout


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
