"""Provenance cards (pipeline/provenance.py): the input hashes are DVC's own, the git state is
what git says, and the text `predict` prints names what made the model. The cards the CLI
writes in a real run are checked in tests/test_report.py::test_run_experiment_then_snakemake_report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from dllaunchpad.pipeline import provenance


def test_input_hashes_are_the_ones_dvc_records(tmp_path):
    (tmp_path / "data/sub").mkdir(parents=True)
    (tmp_path / "data/x.txt").write_text("a\n")
    (tmp_path / "data/sub/y.bin").write_bytes(b"b\nc\x00")
    (tmp_path / "one.csv").write_text("t,v\n0,1\n")
    (tmp_path / "data/sub/.snakemake_timestamp").write_text("")  # Snakemake's, in a directory output
    dvc = Path(sys.executable).with_name("dvc")
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    shutil.copy(REPO / ".dvcignore", tmp_path / ".dvcignore")  # the repository's: DVC skips what it names
    subprocess.run([dvc, "add", "-q", "data", "one.csv"], cwd=tmp_path, check=True)
    for name, files in (("data", 2), ("one.csv", 1)):
        recorded = yaml.safe_load((tmp_path / f"{name}.dvc").read_text())["outs"][0]["md5"]
        assert provenance.dvc_md5(tmp_path / name, tmp_path) == (recorded, files)
    assert provenance.dvc_md5(tmp_path / "data")[1] == 3  # without the repository, nothing is skipped
    assert provenance.dvc_md5(tmp_path / "data")[0].endswith(".dir")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_state_names_the_commit_and_the_changed_files(tmp_path):
    assert provenance.git_state(tmp_path)["commit"] is None  # not a checkout: said, not guessed

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("commit", "-qm", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert provenance.git_state(tmp_path) == {"commit": head, "dirty": False, "changed_files": []}
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    git("add", "dvc.yaml")
    git("commit", "-qm", "two")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "dvc.yaml").write_text("stages: {quick: {}}\n")  # generated for the run's mode: not a change
    assert provenance.git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    (tmp_path / "untracked.txt").write_text("outputs and data are not code\n")
    assert provenance.git_state(tmp_path) == {"commit": head, "dirty": True, "changed_files": ["code.py"]}


def test_the_printed_card_names_what_made_the_model():
    card = {"git": {"commit": "0123456789abcdef", "dirty": True}, "hardware": "cpu: AMD EPYC", "device": "cpu",
            "threads": 1, "seed": 0, "scale": "quick", "wall_seconds": 3.5, "peak_memory_mb": 410.0,
            "inputs": [{"path": "data/processed/mnist", "md5": "abc.dir", "files": 4}],
            "packages": {"python": "3.12.3", "torch": "2.13.0"}, "rebuild": {"dvc": "dvc repro train_mnist_mlp"}}
    text = "\n".join(provenance.summary(card, "models/mnist_mlp/card.json"))
    assert "commit 0123456789ab with uncommitted changes" in text
    assert "cpu: AMD EPYC (cpu), 1 thread(s), seed 0, scale quick" in text
    assert "data/processed/mnist abc.dir" in text and "torch 2.13.0" in text
    assert "rebuild: dvc repro train_mnist_mlp" in text
    assert provenance.summary(None, "models/x/card.json")[0].startswith("model card: none at models/x/card.json")


def test_a_broken_card_reads_as_none(tmp_path):
    (tmp_path / "card.json").write_text('{"experiment": "xo')
    assert provenance.read_card(tmp_path / "card.json") is None
    assert provenance.read_card(tmp_path / "missing.json") is None
