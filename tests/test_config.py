"""params.yaml validation: every bad key, type or value is rejected with the key's name."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from dllaunchpad.pipeline.config import ParamsError, apply_scale, load_params


def test_committed_params_are_valid(raw_params):
    params = load_params(raw_params)
    assert params["scale"] in ("full", "quick")
    assert {"mnist", "rps", "classical_piano", "sunspots", "boston", "iris"} <= set(params["datasets"])
    # experiments' quick blocks are merged or dropped, never left in the effective settings; a
    # dataset keeps its own, unmerged at full scale, so its preprocess stage can list it as a param
    assert all("quick" not in e for e in params["experiments"].values())
    assert params["datasets"]["mnist"]["quick"] == raw_params["datasets"]["mnist"]["quick"]
    assert params["datasets"]["mnist"]["preprocess"] == raw_params["datasets"]["mnist"]["preprocess"]


def test_quick_scale_merges_quick_blocks(raw_params):
    full = load_params(raw_params, scale="full")
    quick = load_params(raw_params, scale="quick")
    assert full["datasets"]["mnist"]["preprocess"]["train_samples"] is None
    assert quick["datasets"]["mnist"]["preprocess"]["train_samples"] == 6000
    # untouched keys survive the merge
    assert quick["datasets"]["mnist"]["preprocess"]["noise_factor"] == 0.4


def _expect_error(raw, *fragments):
    with pytest.raises(ParamsError) as info:
        load_params(raw)
    for f in fragments:
        assert f in str(info.value), str(info.value)
    return str(info.value)


def test_wrong_type_names_the_key(raw_params):
    raw_params["experiments"]["xor"]["trainer"]["epochs"] = "many"
    _expect_error(raw_params, "experiments.xor.trainer.epochs", "'many' is not of type 'integer'")


def test_unknown_key_is_named(raw_params):
    raw_params["experiments"]["xor"]["trainer"]["epoch"] = 5
    _expect_error(raw_params, "experiments.xor.trainer", "'epoch' was unexpected")


def test_bad_value_is_named(raw_params):
    raw_params["scale"] = "medium"
    _expect_error(raw_params, "scale", "medium")


def test_bad_checksum_is_named(raw_params):
    raw_params["datasets"]["iris"]["files"][0]["sha256"] = "abc"
    _expect_error(raw_params, "datasets.iris.files.0.sha256")


def test_typo_inside_quick_block_is_caught(raw_params):
    raw_params["experiments"]["xor"]["quick"] = {"trainer": {"epochs": 0}}
    _expect_error(raw_params, "experiments.xor.quick.trainer.epochs")


def test_cross_references_are_checked(raw_params):
    raw_params["experiments"]["xor"]["dataset"] = "cifar"
    _expect_error(raw_params, "experiments.xor.dataset", "cifar")
    raw_params["experiments"]["xor"]["dataset"] = None
    raw_params["skip_datasets"] = ["nope"]
    _expect_error(raw_params, "skip_datasets", "nope")


def test_apply_scale_does_not_mutate_its_input(raw_params):
    before = yaml.safe_dump(raw_params)
    apply_scale({**raw_params, "scale": "quick"})
    assert yaml.safe_dump(raw_params) == before


def test_cli_rejects_bad_params_naming_the_key(tmp_path, raw_params):
    raw_params["datasets"]["mnist"]["preprocess"]["noise_factor"] = "loud"
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw_params))
    proc = subprocess.run([sys.executable, "-m", "dllaunchpad.cli", "--params", str(bad), "validate"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "datasets.mnist.preprocess.noise_factor" in proc.stderr


def test_family_schema_checks_model_settings(raw_params):
    raw_params["experiments"]["xor"]["model"] = {"hiden": 6}
    _expect_error(raw_params, "experiments.xor", "hiden")
    raw_params["experiments"]["xor"]["model"] = {"hidden": 0}
    _expect_error(raw_params, "experiments.xor.model.hidden")


def test_family_schema_checks_the_quick_merge(raw_params):
    raw_params["experiments"]["linear_regression"]["quick"] = {"data": {"n": 1}}
    _expect_error(raw_params, "quick block merged", "experiments.linear_regression.data.n")


def test_unknown_family_is_named(raw_params):
    raw_params["experiments"]["xor"]["family"] = "perceptron"
    _expect_error(raw_params, "experiments.xor.family", "perceptron")


def test_evaluate_settings_are_checked_by_the_family_schema(raw_params):
    """`evaluate:` is the family's: a key no family code reads is refused before any job."""
    raw_params["experiments"]["xor"]["evaluate"] = {"bogus": 1}
    _expect_error(raw_params, "experiments.xor.evaluate", "'bogus' was unexpected")
    raw_params["experiments"]["xor"].pop("evaluate")
    raw_params["experiments"]["model_compression"]["evaluate"]["bogus"] = 1
    _expect_error(raw_params, "experiments.model_compression.evaluate", "'bogus' was unexpected")
    raw_params["experiments"]["model_compression"]["evaluate"].pop("bogus")
    raw_params["experiments"]["midi_lstm"]["generate"]["temprature"] = [1.0]
    _expect_error(raw_params, "experiments.midi_lstm.generate", "'temprature' was unexpected")


def test_every_family_schema_types_its_evaluate_and_generate_blocks(raw_params):
    """No family leaves `evaluate` (or `generate`, where it generates) open to any object: each
    is `false` (the family reads no settings) or an object schema that refuses unknown keys,
    at every level. Every committed entry still validates, at both scales."""
    from dllaunchpad.experiments import family_module
    from dllaunchpad.pipeline.config import FAMILY_SCHEMAS, family_schema

    def closed(sch, where):
        if sch is False:
            return
        assert isinstance(sch, dict), where
        if "$ref" in sch:
            return  # a $defs entry: checked where it is defined
        if sch.get("type") == "object" or "properties" in sch:
            assert sch.get("additionalProperties") is False, f"{where}: open to any key"
            for key, sub in sch.get("properties", {}).items():
                closed(sub, f"{where}.{key}")

    families = sorted(p.name.removesuffix(".schema.yaml") for p in FAMILY_SCHEMAS.glob("*.schema.yaml"))
    assert {"xor", "linear_regression", "model_compression", "midi_lstm"} <= set(families)
    for fam in families:
        sch = family_schema(fam)
        props = sch.get("properties", {})
        assert "evaluate" in props, f"{fam}: no evaluate schema"
        closed(props["evaluate"], f"{fam}.evaluate")
        for name, d in sch.get("$defs", {}).items():
            closed(d, f"{fam}.$defs.{name}")
        if hasattr(family_module(fam), "generate"):
            assert "generate" in props, f"{fam}: generates but has no generate schema"
            closed(props["generate"], f"{fam}.generate")
    for scale in ("full", "quick"):
        assert load_params(raw_params, scale=scale)["experiments"]
