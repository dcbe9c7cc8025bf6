"""Snakemake and DVC agree, on a real small DAG in a working copy (iris; XOR, the iris MLP and
the tensor products; the report):

- a Snakemake run is recorded in dvc.lock (onsuccess -> dvc commit): `dvc status` is clean and
  `dvc repro` runs nothing;
- `--cores 4` and `--cores 1` give the same results;
- one experiment's hyperparameter change reruns exactly its train/evaluate and the report, under
  Snakemake and under DVC, and each tool then agrees with the other; so does a change of the
  global seed, for the stages that read it;
- `dvc push` to a local-folder remote, deleting the cache and every output, and `dvc pull`
  restore them all, and after `dllaunchpad dvc-sync` Snakemake has nothing to do.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

import workcopy
from dllaunchpad.pipeline.stage_inputs import keys_of

pytestmark = pytest.mark.integration

EXPERIMENTS = ["xor", "iris_mlp", "tensor_products"]
XOR_CHANGED = ["evaluate_xor", "report", "train_xor"]   # what a change of XOR's settings must rerun
UP_TO_DATE = "Data and pipelines are up to date."


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    def fewer_epochs(params):  # than quick mode: this checks the machinery, not the results
        params["experiments"]["xor"]["quick"]["trainer"]["epochs"] = 300
        params["experiments"]["iris_mlp"].setdefault("quick", {}).setdefault("trainer", {})["epochs"] = 60

    root = tmp_path_factory.mktemp("dvc") / "launchpad"
    return workcopy.make_copy(root, edit=fewer_epochs, datasets=["iris"], experiments=EXPERIMENTS, scale="quick")


def _set_xor_lr(root: Path, lr: float) -> None:
    params = workcopy.read_params(root)
    params["experiments"]["xor"]["optimizer"]["lr"] = lr
    workcopy.write_params(root, params)


def _results(root: Path) -> dict:
    """Everything the runs computed, byte for byte: the metrics files hold results only (wall-clock
    times and the device go to reports/figures/<exp>/run.json)."""
    out = {}
    for name in EXPERIMENTS:
        out[name] = (root / f"reports/metrics/{name}.json").read_text()
    for csv in sorted((root / "reports/history").glob("*.csv")):
        out[csv.name] = csv.read_text()
    out["iris"] = json.loads((root / "data/processed/iris/summary.json").read_text())
    return out


def _assert_dvc_clean(root: Path) -> None:
    repro = workcopy.run(["dvc", "repro"], root)  # runs nothing, and says all is up to date
    assert workcopy.dvc_ran_stages(repro.stdout) == [] and UP_TO_DATE in repro.stdout, repro.stdout


def _assert_snakemake_idle(root: Path) -> None:
    dry = workcopy.run(["snakemake", "-n", "--cores", "1"], root)
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]


def _outputs(root: Path) -> dict[str, str]:
    """sha256 of every file under the outputs' folders (Snakemake's time carriers aside)."""
    files = {}
    for top in ("data", "models", "reports"):
        for f in sorted((root / top).rglob("*")):
            if f.is_file() and f.name != ".snakemake_timestamp":
                files[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return files


def test_snakemake_run_is_recorded_in_dvc(mini):
    run = workcopy.run(["snakemake", "--cores", "4"], mini)
    assert "recording 9 stage(s) in dvc.lock" in run.stderr  # 8 and stage_inputs (their params slices and code manifests)
    # 300 epochs do not solve XOR: this DAG checks the machinery. Its config run with seeds 0, 1, 2
    # ends at MSE 0.226 / 0.182 / 0.240 with accuracy 0.5 / 0.75 / 0.5 (an untrained net sits at
    # 0.25): the band is that range widened a little, below the untrained value.
    xor = json.loads((mini / "reports/metrics/xor.json").read_text())
    assert 0.16 < xor["final_loss"] < 0.245 and xor["binary_accuracy"] in (0.5, 0.75)
    _assert_dvc_clean(mini)
    _assert_snakemake_idle(mini)
    # The provenance cards name each input by the hash dvc.lock records for it (.dvcignore'd
    # files such as Snakemake's .snakemake_timestamp left out, as DVC leaves them out).
    lock = yaml.safe_load((mini / "dvc.lock").read_text())["stages"]
    for stage, card in (("train_iris_mlp", "models/iris_mlp/card.json"), ("evaluate_xor", "reports/figures/xor/card.json")):
        inputs = json.loads((mini / card).read_text())["inputs"]
        recorded = {d["path"]: d["md5"] for d in lock[stage]["deps"]}
        assert inputs and {i["path"]: i["md5"] for i in inputs} == {i["path"]: recorded[i["path"]] for i in inputs}, stage


def test_cores_1_gives_the_results_of_cores_4(mini):
    with_4 = _results(mini)
    workcopy.run(["snakemake", "--cores", "1", "--forceall"], mini)
    assert _results(mini) == with_4
    _assert_dvc_clean(mini)


def test_a_hyperparameter_change_reruns_one_experiment_under_snakemake(mini):
    _set_xor_lr(mini, 0.002)
    run = workcopy.run(["snakemake", "--cores", "2"], mini)
    assert workcopy.ran_rules(run.stdout + run.stderr) == XOR_CHANGED
    _assert_dvc_clean(mini)  # and DVC agrees


def test_a_hyperparameter_change_reruns_one_experiment_under_dvc(mini):
    _set_xor_lr(mini, 0.003)
    repro = workcopy.run(["dvc", "repro"], mini)
    # stage_inputs first (params.yaml changed), then only what its new slices changed
    assert workcopy.dvc_ran_stages(repro.stdout) == sorted([*XOR_CHANGED, "stage_inputs"])
    # Snakemake still remembers lr 0.002: it would rerun XOR until told what DVC did.
    dry = workcopy.run(["snakemake", "-n", "--cores", "1"], mini)
    assert workcopy.ran_rules(dry.stdout + dry.stderr) == XOR_CHANGED
    workcopy.run(["dllaunchpad", "dvc-sync"], mini)
    _assert_snakemake_idle(mini)


def test_a_seed_change_reruns_the_same_stages_under_both(mini):
    """The global `seed:` reaches Snakemake's rules as it reaches DVC's stages: both rerun exactly
    the stages of the experiments without a seed of their own (and the report)."""
    seeded = sorted(name for name, stage in workcopy.dvc_stages(mini).items() if "seed" in keys_of(stage))
    assert seeded == ["evaluate_iris_mlp", "evaluate_tensor_products", "train_iris_mlp"]  # xor has its own
    expected = sorted([*seeded, "report"])
    params = workcopy.read_params(mini)
    params["seed"] = 1
    workcopy.write_params(mini, params)
    run = workcopy.run(["snakemake", "--cores", "2"], mini)
    assert workcopy.ran_rules(run.stdout + run.stderr) == expected
    _assert_dvc_clean(mini)
    params["seed"] = 2
    workcopy.write_params(mini, params)
    repro = workcopy.run(["dvc", "repro"], mini)
    assert workcopy.dvc_ran_stages(repro.stdout) == sorted([*expected, "stage_inputs"])
    workcopy.run(["dllaunchpad", "dvc-sync"], mini)
    _assert_snakemake_idle(mini)


def test_push_delete_pull_restores_every_output(mini, tmp_path):
    store = tmp_path / "dvc-store"
    workcopy.run(["dvc", "remote", "add", "--local", "-d", "store", str(store)], mini)
    workcopy.run(["dvc", "push"], mini)
    before = _outputs(mini)
    assert any(p.startswith("models/xor/") for p in before) and "reports/index.html" in before
    # A fresh clone, as far as the outputs go: no cache, no outputs, no logs, no Snakemake records.
    for gone in (".dvc/cache", "data", "models", "reports", "logs", ".snakemake"):
        shutil.rmtree(mini / gone)

    workcopy.run(["dvc", "pull"], mini)
    assert _outputs(mini) == before
    assert UP_TO_DATE in workcopy.run(["dvc", "status"], mini).stdout
    workcopy.run(["dllaunchpad", "dvc-sync"], mini)
    _assert_snakemake_idle(mini)


def test_after_a_pull_snakemake_still_sees_a_hyperparameter_change(mini):
    # A fresh clone has no Snakemake records, so Snakemake cannot see a params change by
    # itself; dvc-sync gives the outputs of what DVC reports as changed an old file time.
    shutil.rmtree(mini / ".snakemake")
    _set_xor_lr(mini, 0.004)
    workcopy.run(["dllaunchpad", "dvc-sync"], mini)
    dry = workcopy.run(["snakemake", "-n", "--cores", "1"], mini)
    assert workcopy.ran_rules(dry.stdout + dry.stderr) == XOR_CHANGED
