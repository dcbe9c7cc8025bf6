"""The dispatch API: registry vs params.yaml, cheap import, parameter checks, atomic output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dllaunchpad import datasets
from dllaunchpad.datasets import iris

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def test_registry_and_defaults_match_params_yaml():
    cfg = yaml.safe_load(PARAMS.read_text())["datasets"]
    assert set(datasets.PREPARERS) == set(cfg)
    for name, entry in cfg.items():
        module = sys.modules[datasets.PREPARERS[name].__module__]
        # Every key params.yaml passes (full and quick) must be one the preparer knows.
        assert set(entry["preprocess"]) <= set(module.DEFAULTS), name
        assert set(entry.get("quick", {}).get("preprocess", {})) <= set(module.DEFAULTS), name


def test_import_is_cheap():
    code = ("import sys, dllaunchpad.datasets; "
            "print([m for m in ('tensorflow_datasets', 'pretty_midi', 'pandas', 'torch', 'PIL', 'pyarrow') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_dataset_and_parameter(tmp_path):
    with pytest.raises(KeyError, match="unknown dataset"):
        datasets.prepare("nope", tmp_path, tmp_path / "out", {})
    with pytest.raises(ValueError, match="train_row"):
        datasets.prepare("iris", tmp_path, tmp_path / "out", {"train_row": 120})
    assert not (tmp_path / "out").exists()


def test_missing_raw_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="iris.csv"):
        datasets.prepare("iris", tmp_path, tmp_path / "out", {})
    assert not (tmp_path / "out").exists()


def test_summary_json_written(mirror, tmp_path):
    summary = datasets.prepare("iris", mirror("iris"), tmp_path / "iris", {})
    assert json.loads((tmp_path / "iris" / "summary.json").read_text()) == summary
    assert summary["dataset"] == "iris"


def test_failure_half_way_leaves_no_output(mirror, tmp_path, monkeypatch):
    """iris.npz is written, then the summary write fails: no out_dir, no leftover temporaries."""
    out = tmp_path / "processed" / "iris"

    def boom(*args, **kwargs):
        assert (list(out.parent.glob(".iris.*/iris/iris.npz"))), "npz should be written by now"
        raise OSError("disk full")

    monkeypatch.setattr(datasets.io, "write_json", boom)
    with pytest.raises(OSError, match="disk full"):
        datasets.prepare("iris", mirror("iris"), out, {})
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_failure_keeps_previous_output(mirror, tmp_path, monkeypatch):
    out = tmp_path / "iris"
    datasets.prepare("iris", mirror("iris"), out, {})
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(iris, "save_npz", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError, match="killed"):
        datasets.prepare("iris", mirror("iris"), out, {})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
