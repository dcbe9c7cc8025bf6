"""One stage table (pipeline/stages.py) drives the Snakefile and dvc.yaml: the rules Snakemake
parses and the stages of the committed dvc.yaml hold the same names, inputs, outputs and params,
in full and quick mode and with a dataset left out; the committed dvc.yaml is what the generator
makes of params.yaml; a family that breaks the contract is refused when the registry loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from dllaunchpad.pipeline import family
from dllaunchpad.pipeline.config import ParamsError, load_params
from dllaunchpad.pipeline.dvc_yaml import render
from dllaunchpad.pipeline.stage_inputs import keys_of
from dllaunchpad.pipeline.registry import Registry
from dllaunchpad.pipeline.stages import targets_of


def _committed(name: str) -> str | None:
    proc = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=REPO, capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def test_committed_dvc_yaml_is_fresh(raw_params):
    """The committed pair: Snakemake and `dllaunchpad run` rewrite a stale dvc.yaml in the working
    tree (and other tests run them), so the committed files are what must agree."""
    params, dvc = _committed("params.yaml"), _committed("dvc.yaml")
    if params is None:  # not a git checkout (an unpacked release): the files on disk
        params, dvc = (REPO / "params.yaml").read_text(), (REPO / "dvc.yaml").read_text()
    assert dvc == render(yaml.safe_load(params)), "run `dllaunchpad dvc-yaml` and commit dvc.yaml with params.yaml"


def test_a_stale_dvc_yaml_is_refreshed(tmp_path, monkeypatch):
    from dllaunchpad.pipeline.dvc_yaml import refresh

    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    assert refresh() is True and refresh() is False
    assert (tmp_path / "dvc.yaml").read_text() == render(yaml.safe_load((REPO / "params.yaml").read_text()))


def _snakemake_rules(*config: str) -> dict:
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "snakemake_rules.py"), *config], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "LAUNCHPAD_DVC_YAML": "keep"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _dvc_written(stage: dict) -> list[str]:
    entries = [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]
    return sorted(next(iter(e)) if isinstance(e, dict) else e for e in entries)


@pytest.mark.parametrize("config", [[], ["skip_datasets=[rps]"], ["scale=quick", "skip_datasets=[rps]"]])
def test_snakemake_and_dvc_hold_the_same_stages(raw_params, config):
    overrides = {k: yaml.safe_load(v) for k, v in (c.split("=", 1) for c in config)}
    from dllaunchpad.pipeline.dvc_yaml import mode_of

    mode = mode_of(overrides, raw_params)  # what Snakemake writes dvc.yaml for under this --config
    dvc = yaml.safe_load(render(raw_params, mode=mode))["stages"]
    table = Registry.from_params(load_params(raw_params, scale=mode.get("scale"),
                                             skip_datasets=mode.get("skip_datasets"))).stages()
    rules = _snakemake_rules(*config)
    assert set(rules) - {"all"} == set(dvc)
    for name, stage in dvc.items():
        rule = rules[name]
        # DVC depends on the stage's code manifest (pipeline/stage_inputs.py), Snakemake on the files
        manifest = table[name].manifest
        if manifest:
            assert stage["deps"][-1] == manifest and not any(d.startswith("src/") for d in stage["deps"]), name
        deps = [f for d in stage["deps"] for f in (table[name].code if d == manifest else (d,))]
        assert rule["input"] == sorted(deps), name
        assert rule["output"] == _dvc_written(stage), name
        assert sorted(json.loads(rule["params"]["settings"])) == sorted(keys_of(stage)), name
        assert rule["params"]["command"].replace("--scale full ", "") == stage["cmd"]
        assert rule["log"] and rule["benchmark"], f"{name}: every rule has a log and a benchmark file"
    # the chain every issue relies on
    assert {"fetch_mnist", "preprocess_mnist", "train_xor", "evaluate_xor", "report"} <= set(dvc)
    assert ("fetch_rps" in dvc) == ("rps" not in overrides.get("skip_datasets", []))


def test_computing_stages_pin_their_thread_count(raw_params):
    """`dvc repro` lets a job take every core, Snakemake gives it one thread, and a result's last
    float bits depend on the count: so the command of every train, generate and evaluate stage
    says how many (params.yaml `threads`), the same for both tools, and the job pins it."""
    dvc = yaml.safe_load(render(raw_params))["stages"]
    for name, stage in dvc.items():
        computes = name.split("_")[0] in {"train", "generate", "evaluate"}
        assert ("--threads 1 " in stage["cmd"]) == computes, (name, stage["cmd"])
    rules = _snakemake_rules("threads=3")
    assert rules["train_xor"]["params"]["command"] == "dllaunchpad --scale full --threads 3 train xor"
    assert rules["train_xor"]["resources"]["_cores"] == 3  # Snakemake reserves what the job uses
    assert rules["fetch_mnist"]["params"]["command"] == "dllaunchpad --scale full fetch mnist"
    raw_params["threads"] = 3
    stages = Registry.from_params(load_params(raw_params)).stages()
    assert stages["evaluate_tensor_products"].command() == "dllaunchpad --threads 3 evaluate tensor_products"
    assert stages["generate_midi_lstm"].command() == "dllaunchpad --threads 3 generate midi_lstm"
    assert stages["report"].command() == "dllaunchpad report"


def test_snakemake_params_carry_the_values_dvc_tracks(raw_params):
    """A changed `seed:` changes the params of exactly the stages that read it, in Snakemake as
    in DVC (which tracks the key): both rerun the same stages (tests/test_dvc.py runs it)."""
    before, after = _snakemake_rules(), _snakemake_rules("seed=7")
    changed = {n for n in before if before[n]["params"] != after[n]["params"]}
    reads_seed = {n for n, s in yaml.safe_load(render(raw_params))["stages"].items() if "seed" in keys_of(s)}
    assert changed == reads_seed
    assert "train_iris_mlp" in reads_seed and "train_xor" not in reads_seed  # xor sets its own seed


def test_gpu_training_rules_carry_the_cluster_request(raw_params):
    rules = _snakemake_rules()
    assert rules["train_mnist_cnn"]["resources"]["slurm_partition"] == raw_params["cluster"]["gpu_partition"]
    assert rules["train_mnist_cnn"]["resources"]["gres"] == "gpu:1"
    assert "slurm_partition" not in rules["evaluate_mnist_cnn"]["resources"]
    assert rules["train_xor"]["resources"]["mem_mb"] == raw_params["cluster"]["train_mem_mb"]


def test_gpu_request_comes_from_the_trainer_settings(raw_params):
    from dllaunchpad.pipeline.stages import gpu_request

    cluster = dict(raw_params["cluster"], gpu_request="gres", gpu_model=None, cpus_per_gpu=4, mem_mb_per_gpu=8000,
                   train_mem_mb=8000)
    assert gpu_request(cluster, {}) == {"slurm_partition": "gpu", "cpus_per_task": 4, "mem_mb": 8000, "gres": "gpu:1"}
    four = gpu_request(dict(cluster, gpu_model="a100"), {"devices": 4})
    assert four["gres"] == "gpu:a100:4" and four["cpus_per_task"] == 16 and four["mem_mb"] == 32000
    plugin = gpu_request(dict(cluster, gpu_request="gpu", gpu_model="h100"), {"devices": 2})
    assert plugin["gpu"] == 2 and plugin["gpu_model"] == "h100" and "gres" not in plugin
    multi = gpu_request(cluster, {"devices": 2, "num_nodes": 3})
    assert (multi["nodes"], multi["tasks"], multi["tasks_per_gpu"], multi["gres"]) == (3, 6, 1, "gpu:2")
    assert multi["mpi"] == "srun" and "tasks_per_node" not in multi  # the plugin's MPI job rules
    assert gpu_request(dict(cluster, gpu_request="gpu"), {"devices": 2, "num_nodes": 3})["gpu"] == 6  # the job's
    raw_params["experiments"]["mnist_cnn"]["trainer"].update(devices=2, num_nodes=2)
    stage = Registry.from_params(load_params(raw_params)).stage("train_mnist_cnn")
    assert stage.cluster_command("full") == "srun --nodes=2 --ntasks-per-node=2 dllaunchpad --scale full --threads 1 train mnist_cnn"
    assert stage.command() == "dllaunchpad --threads 1 train mnist_cnn"  # DVC runs it locally
    assert stage.resources["gres"] == "gpu:2" and stage.resources["nodes"] == 2


def test_fetch_code_is_per_dataset(raw_params):
    """Editing the MIDI sources table refetches the MIDI corpus only, not MNIST."""
    stages = Registry.from_params(load_params(raw_params)).stages()
    csv = "src/dllaunchpad/datasets/classical_piano_sources.csv"
    assert csv in stages["fetch_classical_piano"].code and csv not in stages["fetch_mnist"].code


def test_each_step_depends_on_its_own_runner(raw_params):
    stages = Registry.from_params(load_params(raw_params)).stages()
    assert "src/dllaunchpad/runners/train.py" in stages["train_xor"].code
    assert "src/dllaunchpad/runners/evaluate.py" not in stages["train_xor"].code
    assert "src/dllaunchpad/runners/evaluate.py" in stages["evaluate_xor"].code
    assert "src/dllaunchpad/experiments/xor.py" in stages["evaluate_xor"].code


def test_run_targets_come_from_the_table(raw_params):
    reg = Registry.from_params(load_params(raw_params))
    assert targets_of(reg, "xor") == ["reports/figures/xor", "reports/metrics/xor.json"]
    assert targets_of(reg, "midi_lstm") == ["reports/music/midi_lstm", "reports/figures/midi_lstm",
                                            "reports/metrics/midi_lstm.json"]
    assert targets_of(reg, "iris") == ["data/processed/iris"]
    assert targets_of(reg, "no_such_thing") is None


def test_stages_are_listed_once_per_registry(raw_params):
    reg = Registry.from_params(load_params(raw_params))
    assert reg.stages() is reg.stages()
    assert reg.stage("train_xor").log == "logs/train/xor.log"
    assert reg.stage("train_xor").benchmark == "logs/benchmarks/full/train/xor.tsv"
    assert reg.stage("evaluate_xor").inputs == ("models/xor", "reports/history/xor.csv")


# -- the family contract ---------------------------------------------------------------------

def test_every_registered_family_keeps_the_contract(raw_params):
    for name, spec in raw_params["experiments"].items():
        assert family.check(spec["family"], trains="trainer" in spec, generates="generate" in spec) is None, name


def test_a_family_missing_a_hook_fails_validation_naming_it(raw_params, tmp_path, monkeypatch):
    fake = tmp_path / "experiments"
    fake.mkdir()
    (fake / "halfdone.py").write_text("def build(exp):\n    pass\n\ndef model(exp):\n    pass\n")
    (fake / "badsig.py").write_text("def evaluate(exp, params, root, module, figures_dir):\n    pass\n")
    monkeypatch.setattr(family, "FAMILIES_DIR", fake)
    family.defined_hooks.cache_clear()
    try:
        assert "does not define evaluate(exp, module, figures_dir)" in family.check("halfdone", trains=True,
                                                                                     generates=False)
        assert "evaluate() takes 5 positional parameter(s)" in family.check("badsig", trains=False, generates=False)
        assert "has no module" in family.check("nosuch", trains=False, generates=False)
    finally:
        family.defined_hooks.cache_clear()


def test_a_generate_block_on_a_family_that_cannot_generate_is_refused(raw_params):
    raw_params["experiments"]["xor"]["generate"] = {"temperatures": [1.0]}
    with pytest.raises(ParamsError, match=r"experiments\.xor: family 'xor' .* does not define generate"):
        Registry.from_params(load_params(raw_params))


def test_experiments_are_resolved_once(raw_params, tmp_path):
    params = load_params(raw_params, scale="quick")
    reg = Registry.from_params(params, root=tmp_path)
    xor, iris = reg.experiment("xor"), reg.experiment("iris_mlp")
    raw_params["experiments"]["xor"]["seed"] = 5
    xor = Registry.from_params(load_params(raw_params, scale="quick"), root=tmp_path).experiment("xor")
    assert xor.seed == 5 and iris.seed == raw_params["seed"]
    assert xor.data_dir is None and iris.data_dir == tmp_path / "data/processed/iris"
    assert xor.spec["trainer"]["epochs"] == raw_params["experiments"]["xor"]["quick"]["trainer"]["epochs"]
    assert xor.at(REPO).root == REPO and xor.at(REPO).seed == xor.seed
