"""The dllaunchpad command line: help without arguments, clear errors naming the bad input."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


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
