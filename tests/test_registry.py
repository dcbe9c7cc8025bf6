"""One registry drives both the Snakefile and dvc.yaml: they must list the same stages, and
the committed dvc.yaml must be what the generator makes of the committed params.yaml."""

from __future__ import annotations

import re
import subprocess

import yaml

from dllaunchpad.config import load_params
from dllaunchpad.dvc_yaml import render
from dllaunchpad.registry import Registry

from conftest import REPO


def test_committed_dvc_yaml_is_fresh(raw_params):
    assert (REPO / "dvc.yaml").read_text() == render(raw_params), "run `dllaunchpad dvc-yaml` and commit dvc.yaml"


def _snakemake_rules(*extra: str) -> set[str]:
    out = subprocess.run(["snakemake", "--list-rules", *extra], cwd=REPO, capture_output=True, text=True, check=True)
    return {line.strip() for line in out.stdout.splitlines() if re.fullmatch(r"\s*[a-z_0-9]+\s*", line)}


def test_snakemake_rules_equal_dvc_stages(raw_params):
    stages = set(yaml.safe_load(render(raw_params))["stages"])
    assert _snakemake_rules() - {"all"} == stages
    # the chain every issue relies on
    assert {"fetch_mnist", "preprocess_mnist", "train_xor", "evaluate_xor", "report"} <= stages


def test_skip_datasets_leaves_out_the_same_stages_in_both(raw_params):
    raw_params["skip_datasets"] = ["rps"]
    stages = set(yaml.safe_load(render(raw_params))["stages"])
    assert "fetch_rps" not in stages and "preprocess_rps" not in stages
    assert _snakemake_rules("--config", "skip_datasets=[rps]") - {"all"} == stages


def test_trains_only_with_a_trainer_block(raw_params):
    reg = Registry.from_params(load_params(raw_params))
    assert not reg.experiment("tensor_products").trains
    assert reg.experiment("xor").trains
    assert reg.evaluate_inputs(reg.experiment("xor")) == ["models/xor", "reports/history/xor.csv"]
