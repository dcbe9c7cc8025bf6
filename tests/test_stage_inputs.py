"""DVC stages read their params from slices of params.yaml and depend on code manifests
(pipeline/stage_inputs.py): each slice holds exactly params.yaml's values under the keys its
stage lists, each manifest the hashes of exactly its stage's sources, a source edit changes
only the manifests of the stages that run it, and stale files are rewritten or removed.
(tests/test_dvc.py runs DVC on them: an edit of params.yaml reruns stage_inputs and then exactly
the stages whose values changed.)"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
import yaml

from dllaunchpad.pipeline.config import load_params
from dllaunchpad.pipeline.dvc_yaml import render
from dllaunchpad.pipeline.registry import Registry
from dllaunchpad.pipeline.stage_inputs import CODE_DIR, PARAMS_DIR, STAGE, keys_of, slice_of, write
from dllaunchpad.pipeline.stages import Stage

from conftest import REPO


def test_slice_holds_exactly_the_listed_keys():
    params = {"scale": "full", "seed": 0, "experiments": {"xor": {"lr": 0.1, "epochs": 5}, "iris": {"lr": 1}}}
    assert slice_of(params, ["scale", "experiments.xor.lr"]) == {"scale": "full", "experiments": {"xor": {"lr": 0.1}}}
    assert slice_of(params, ["experiments.xor", "experiments.iris.lr"]) == \
        {"experiments": {"xor": {"lr": 0.1, "epochs": 5}, "iris": {"lr": 1}}}


def test_a_missing_key_names_the_stage_and_the_key():
    with pytest.raises(KeyError, match=r"stage train_xor: params.yaml has no 'experiments.xor'.*'experiments.xor.lr'"):
        slice_of({"experiments": {}}, ["experiments.xor.lr"], stage="train_xor")


@pytest.fixture
def written(raw_params, tmp_path):
    """The stage inputs of the real stage table, written into a copy of the sources."""
    shutil.copytree(REPO / "src", tmp_path / "src")
    table = Registry.from_params(load_params(raw_params)).stages()
    write(table, raw_params, tmp_path)
    return table, tmp_path


def test_every_dvc_stage_gets_its_params_and_its_code(raw_params, written):
    table, root = written
    dvc = yaml.safe_load(render(raw_params))["stages"]
    assert next(iter(dvc)) == STAGE and dvc[STAGE]["outs"] == [PARAMS_DIR, CODE_DIR]
    reading = {n: s for n, s in dvc.items() if s.get("params")}
    assert len(list((root / PARAMS_DIR).iterdir())) == len(reading)
    for name in ("train_xor", "evaluate_mnist_cnn", "preprocess_mnist"):
        (path, keys), = reading[name]["params"][0].items()
        assert path == f"{PARAMS_DIR}/{name}.json" and keys == keys_of(reading[name])
        got = json.loads((root / path).read_text())
        assert got == slice_of(raw_params, keys) and set(got) == {k.split(".")[0] for k in keys}
    assert json.loads((root / PARAMS_DIR / "train_xor.json").read_text())["experiments"]["xor"] == \
        raw_params["experiments"]["xor"]
    # a manifest: the sha256 of each source the stage runs, in the table's order
    lines = (root / CODE_DIR / "train_xor.txt").read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == list(table["train_xor"].code)
    runner = "src/dllaunchpad/runners/train.py"
    assert f"{hashlib.sha256((REPO / runner).read_bytes()).hexdigest()}  {runner}" in lines
    # stage_inputs itself depends on every file any manifest lists
    assert {f for s in table.values() for f in s.code} <= set(dvc[STAGE]["deps"])


def test_a_source_edit_changes_the_manifests_of_the_stages_that_run_it_only(raw_params, written):
    table, root = written
    before = {p.name: p.read_text() for p in (root / CODE_DIR).iterdir()}
    with open(root / "src/dllaunchpad/experiments/xor.py", "a") as f:
        f.write("# an edit\n")
    assert write(table, raw_params, root) == 2
    after = {p.name: p.read_text() for p in (root / CODE_DIR).iterdir()}
    assert sorted(n for n in before if before[n] != after[n]) == ["evaluate_xor.txt", "train_xor.txt"]


def test_stale_files_are_rewritten_or_removed_and_fresh_ones_left_alone(tmp_path):
    def stage(name, key):
        return Stage(name, "train", name, ("train", name), (), (), (), (key,), log="", benchmark="", resources={})

    table = {"train_a": stage("train_a", "experiments.a"), "train_b": stage("train_b", "experiments.b")}
    params = {"experiments": {"a": {"lr": 1}, "b": {"lr": 2}}}
    assert write(table, params, tmp_path) == 2
    a, b = tmp_path / PARAMS_DIR / "train_a.json", tmp_path / PARAMS_DIR / "train_b.json"
    os.utime(a, (1, 1))
    params["experiments"]["b"]["lr"] = 3
    (tmp_path / PARAMS_DIR / "train_gone.json").write_text("{}")  # an entry since removed
    assert write(table, params, tmp_path) == 1
    assert a.stat().st_mtime == 1  # unchanged: not rewritten
    assert json.loads(b.read_text()) == {"experiments": {"b": {"lr": 3}}}
    assert sorted(p.name for p in (tmp_path / PARAMS_DIR).iterdir()) == ["train_a.json", "train_b.json"]
