"""The dllaunchpad command line: help without arguments, clear errors naming the bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO, SCONTROL_STUB


def _cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "dllaunchpad.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_no_arguments_prints_help():
    proc = _cli()
    assert proc.returncode == 0
    assert "usage: dllaunchpad" in proc.stdout and "train" in proc.stdout


def test_unknown_experiment_is_named():
    proc = _cli("train", "resnet")
    assert proc.returncode == 1
    assert "unknown or skipped experiment 'resnet'" in proc.stderr


def test_list_shows_the_registry():
    proc = _cli("--scale", "quick", "list")
    assert proc.returncode == 0
    assert "scale: quick" in proc.stdout
    for name in ("mnist", "rps", "tensor_products", "xor", "linear_regression"):
        assert name in proc.stdout


def test_dvc_yaml_check_passes_on_the_committed_file():
    proc = _cli("dvc-yaml", "--check")
    assert proc.returncode == 0, proc.stderr


def test_missing_params_file_is_named(tmp_path):
    proc = _cli("validate", cwd=tmp_path)
    assert proc.returncode == 2
    assert "params.yaml: not found" in proc.stderr


def test_tampered_mirror_fails_the_fetch_and_leaves_nothing(tmp_path, mirror):
    """Done-when of the skeleton: one changed byte in a mirror file stops the fetch with the
    file named, both digests shown, and nothing left in data/."""
    import shutil

    bad = tmp_path / "mirror" / "iris"
    bad.mkdir(parents=True)
    data = (mirror("iris") / "iris.csv").read_bytes()
    (bad / "iris.csv").write_bytes(data.replace(b"5.1", b"5.2", 1))
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "params.yaml", work / "params.yaml")
    env = {**os.environ, "LAUNCHPAD_MIRROR": str(tmp_path / "mirror")}
    proc = subprocess.run([sys.executable, "-m", "dllaunchpad.cli", "fetch", "iris"], cwd=work, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "checksum mismatch for iris.csv" in proc.stderr
    assert "9cc1c345c71bcc9b486b74cbf6063fa66f4bb5e0f603a4b3c3471ec2e5e8e355" in proc.stderr
    leftovers = [p for p in (work / "data").rglob("*") if p.is_file()] if (work / "data").exists() else []
    assert leftovers == []


def test_commands_that_do_not_train_do_not_load_torch(tmp_path, mirror):
    """Each Snakemake job is a fresh process: torch + Lightning cost ~3 s to import, which a
    fetch (0.3 s otherwise) once paid because of a stray import (benchmarks/imports.py)."""
    code = ("import sys; from dllaunchpad.cli import main; rc = main(sys.argv[1:]);"
            "print('RC', rc, 'HEAVY', sorted(m for m in ('torch', 'lightning', 'matplotlib') if m in sys.modules))")
    params = str(REPO / "params.yaml")
    env = {**os.environ, "LAUNCHPAD_MIRROR": str(mirror("iris").parent)}
    for argv in (["validate"], ["list"], ["fetch", "iris"]):
        proc = subprocess.run([sys.executable, "-c", code, "--params", params, *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert "RC 0 HEAVY []" in proc.stdout, (argv, proc.stdout[-500:], proc.stderr[-1500:])
    assert (tmp_path / "data/raw/iris").is_dir()  # the fetch did run


def test_a_job_computes_on_the_thread_count_it_is_given(tmp_path):
    """Whatever OMP_NUM_THREADS the launcher set (Snakemake: the job's threads; `dvc repro`:
    none, so every core), a job computes on params.yaml's `threads` or `--threads`: the last
    float bits of a result depend on it. run.json records the count the job used."""
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    params = str(REPO / "params.yaml")
    run_json = tmp_path / "reports/figures/tensor_products/run.json"
    for flags, want in (([], 1), (["--threads", "3"], 3)):
        proc = subprocess.run([sys.executable, "-m", "dllaunchpad.cli", "--params", params, "--scale", "quick",
                               *flags, "evaluate", "tensor_products"], cwd=tmp_path, env=env, capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert json.loads(run_json.read_text())["threads"] == want, flags


def test_pinning_reaches_libraries_already_loaded():
    """In a warm server's child torch and numpy loaded before the job began, so the variables
    alone would not reach them (cli.pin_threads also calls torch and threadpoolctl)."""
    code = ("import numpy, torch, threadpoolctl; from dllaunchpad.cli import pin_threads; pin_threads(1);"
            "print(torch.get_num_threads(), sorted({i['num_threads'] for i in threadpoolctl.threadpool_info()}))")
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.stdout.split() == ["1", "[1]"], (proc.stdout, proc.stderr[-1500:])


def test_run_works_without_an_activated_venv():
    """The README runs `.venv/bin/dllaunchpad run` with the venv not on PATH: snakemake, and
    the `dllaunchpad` and `dvc` its jobs call, must still be found beside the interpreter."""
    env = {**os.environ, "PATH": f"{SCONTROL_STUB}:/usr/bin:/bin"}  # the stub: conftest.py
    proc = subprocess.run([sys.executable, "-m", "dllaunchpad.cli", "--scale", "quick", "run", "-n"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"+ {os.path.dirname(sys.executable)}/snakemake" in proc.stdout


def test_list_shows_the_scale_of_the_outputs_on_disk(tmp_path):
    """`list` at one scale over outputs another scale made: the `made` column says which, with a
    `!`, and a closing line names them. The scale is what evaluate (run.json) and training
    (train.json) recorded."""
    import json
    import re
    import shutil

    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")

    def write(rel, data):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(json.dumps(data))

    write("reports/metrics/xor.json", {"binary_accuracy": 1.0, "chapter_section": "31.8.1"})  # a quick run's
    write("reports/figures/xor/run.json", {"scale": "quick", "evaluate_seconds": 0.1})
    write("models/xor/train.json", {"scale": "quick", "epochs_run": 2000})
    write("models/linear_regression/train.json", {"scale": "full", "epochs_run": 100})  # trained, not evaluated
    write("models/iris_mlp/train.json", {"epochs_run": 500})  # made before the scale was recorded

    def line(out, name):
        return re.search(rf"^  {name} .*$", out, re.M).group(0).split()

    full = _cli("list", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    assert line(full.stdout, "xor")[:5] == ["xor", "done", "31.8.1", "quick!", "binary_accuracy=1"]
    assert line(full.stdout, "linear_regression")[:6] == ["linear_regression", "trained,", "not", "evaluated",
                                                          "31.2.1", "full"]
    assert line(full.stdout, "iris_mlp")[5] == "?"
    assert "! 1 experiment(s) on disk were made at another scale than full: xor;" in full.stdout

    quick = _cli("--scale", "quick", "list", cwd=tmp_path)
    assert line(quick.stdout, "xor")[3] == "quick"
    assert line(quick.stdout, "linear_regression")[5] == "full!"
    assert "! 1 experiment(s) on disk were made at another scale than quick: linear_regression;" in quick.stdout


def test_list_reads_the_scale_that_evaluate_recorded(tmp_path, raw_params):
    import json
    import re
    import shutil

    from dllaunchpad.pipeline.config import load_params
    from dllaunchpad.pipeline.registry import Registry
    from dllaunchpad.runners.evaluate import evaluate

    exp = Registry.from_params(load_params(raw_params, scale="quick")).experiment("tensor_products")
    evaluate(exp.at(tmp_path))
    assert json.loads((tmp_path / exp.run_file).read_text())["scale"] == "quick"
    assert "scale" not in json.loads((tmp_path / exp.metrics).read_text())  # a run fact, not a result
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    out = _cli("--scale", "full", "list", cwd=tmp_path).stdout
    assert re.search(r"^  tensor_products +done +31\.1\.3 +quick! ", out, re.M), out
