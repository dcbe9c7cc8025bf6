"""Shared pytest fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Subprocess tests run `snakemake`, `dvc` and `dllaunchpad` (and Snakemake's rules run the
# latter): find them in the interpreter's own environment even when it was not activated.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

# The offline copies of the raw datasets (see ../shared/mirror/README.md), next to the repository.
MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "mirror"


@pytest.fixture
def mirror():
    """``mirror("iris")`` -> the mirror's iris folder; skips the test when it is not there."""
    def folder(name: str) -> Path:
        path = MIRROR / name
        if not path.is_dir():
            pytest.skip(f"dataset mirror {path} not available")
        return path
    return folder


# The repository root: tests that read params.yaml, dvc.yaml or the Snakefile use it.
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def raw_params():
    """params.yaml as written (a fresh copy per test, safe to edit)."""
    from dllaunchpad.pipeline.config import read_params

    return read_params(REPO / "params.yaml")
