"""DVC stages read their params from slices of params.yaml (pipeline/param_slices.py): each
slice holds exactly params.yaml's values under the keys its stage lists, no more, and a stale
slice is rewritten or removed. (tests/test_dvc.py runs DVC on them: an edit of params.yaml
reruns split_params and then exactly the stages whose values changed.)"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from dllaunchpad.pipeline.dvc_yaml import render
from dllaunchpad.pipeline.param_slices import SLICES_DIR, keys_of, slice_of, write_slices


def test_slice_holds_exactly_the_listed_keys():
    params = {"scale": "full", "seed": 0, "experiments": {"xor": {"lr": 0.1, "epochs": 5}, "iris": {"lr": 1}}}
    assert slice_of(params, ["scale", "experiments.xor.lr"]) == {"scale": "full", "experiments": {"xor": {"lr": 0.1}}}
    assert slice_of(params, ["experiments.xor", "experiments.iris.lr"]) == \
        {"experiments": {"xor": {"lr": 0.1, "epochs": 5}, "iris": {"lr": 1}}}


def test_a_missing_key_names_the_stage_and_the_key():
    with pytest.raises(KeyError, match=r"stage train_xor: params.yaml has no 'experiments.xor'.*'experiments.xor.lr'"):
        slice_of({"experiments": {}}, ["experiments.xor.lr"], stage="train_xor")


def test_every_stage_of_the_real_dvc_yaml_gets_its_values(raw_params, tmp_path):
    stages = yaml.safe_load(render(raw_params))["stages"]
    write_slices(stages, raw_params, tmp_path)
    reading = {n: s for n, s in stages.items() if s.get("params")}
    assert len(list((tmp_path / SLICES_DIR).glob("*.json"))) == len(reading)
    for name in ("train_xor", "evaluate_mnist_cnn", "preprocess_mnist"):
        (path, keys), = reading[name]["params"][0].items()
        assert path == f"{SLICES_DIR}/{name}.json" and keys == keys_of(reading[name])
        got = json.loads((tmp_path / path).read_text())
        assert got == slice_of(raw_params, keys)
        assert set(got) == {k.split(".")[0] for k in keys}  # nothing else of params.yaml
    assert json.loads((tmp_path / SLICES_DIR / "train_xor.json").read_text())["experiments"]["xor"] == \
        raw_params["experiments"]["xor"]


def test_stale_slices_are_rewritten_or_removed_and_fresh_ones_left_alone(tmp_path):
    stages = {"train_a": {"params": [{f"{SLICES_DIR}/train_a.json": ["experiments.a"]}]},
              "train_b": {"params": [{f"{SLICES_DIR}/train_b.json": ["experiments.b"]}]}}
    params = {"experiments": {"a": {"lr": 1}, "b": {"lr": 2}}}
    assert write_slices(stages, params, tmp_path) == 2
    a, b = tmp_path / SLICES_DIR / "train_a.json", tmp_path / SLICES_DIR / "train_b.json"
    os.utime(a, (1, 1))
    params["experiments"]["b"]["lr"] = 3
    (tmp_path / SLICES_DIR / "train_gone.json").write_text("{}")  # an entry since removed
    assert write_slices(stages, params, tmp_path) == 1
    assert a.stat().st_mtime == 1  # unchanged: not rewritten
    assert json.loads(b.read_text()) == {"experiments": {"b": {"lr": 3}}}
    assert sorted(p.name for p in (tmp_path / SLICES_DIR).iterdir()) == ["train_a.json", "train_b.json"]
