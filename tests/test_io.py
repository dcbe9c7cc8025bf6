"""Atomic outputs: a failed write leaves neither a partial target nor temporary files."""

from __future__ import annotations

import json

import pytest

from dllaunchpad import io


def test_write_json_is_stable_and_complete(tmp_path):
    path = io.write_json(tmp_path / "m" / "x.json", {"b": 1, "a": 0.5})
    assert path.read_text() == '{\n  "a": 0.5,\n  "b": 1\n}\n'
    assert json.loads(path.read_text()) == {"a": 0.5, "b": 1}


def test_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_directory_is_replaced_whole(tmp_path):
    target = tmp_path / "figs"
    target.mkdir()
    (target / "old.png").write_text("old")
    with io.atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "new.png").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs"]


def test_nan_is_refused(tmp_path):
    with pytest.raises(ValueError):
        io.write_json(tmp_path / "m.json", {"loss": float("nan")})
    assert not (tmp_path / "m.json").exists()
