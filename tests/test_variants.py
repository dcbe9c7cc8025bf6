"""Variants: one entry, many runs. A grid (with seed repeats) in a copy of params.yaml gives one
stage per variant in Snakemake and in dvc.yaml, plus a comparison stage; a bad override path is
refused naming it; the compare stage tables the seed spread and the report links both ways."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from dllaunchpad.analysis import spread
from dllaunchpad.pipeline.config import ParamsError, load_params
from dllaunchpad.pipeline.dvc_yaml import render
from dllaunchpad.pipeline.stage_inputs import keys_of
from dllaunchpad.pipeline.registry import Registry
from dllaunchpad.pipeline.stages import build_stages

GRID = {"grid": {"model.hidden": [1, 2]}, "seeds": [0, 1],
        "compare": {"metric": "binary_accuracy", "goal": "max", "success": {"at_least": 1.0}}}
VARIANTS = ["xor__hidden1__seed0", "xor__hidden1__seed1", "xor__hidden2__seed0", "xor__hidden2__seed1"]


def _with_grid(raw):
    raw["experiments"]["xor"]["variants"] = json.loads(json.dumps(GRID))
    return raw


def test_a_grid_gives_one_stage_per_variant_in_snakemake_and_dvc(raw_params, tmp_path):
    raw = _with_grid(raw_params)
    work = tmp_path / "repo"
    shutil.copytree(REPO, work, ignore=shutil.ignore_patterns(".venv", ".git", "data", "models", "reports", "logs",
                                                              ".snakemake", ".dvc", "*.egg-info"))
    (work / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    proc = subprocess.run([sys.executable, str(REPO / "tests/snakemake_rules.py")], cwd=work, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rules = json.loads(proc.stdout.strip().splitlines()[-1])
    dvc = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]  # Snakemake refreshed it from params.yaml
    assert dvc == yaml.safe_load(render(raw))["stages"]
    for v in VARIANTS:
        for step in ("train", "evaluate"):
            assert f"{step}_{v}" in rules and f"{step}_{v}" in dvc
        assert keys_of(dvc[f"train_{v}"]) == ["scale", *[f"experiments.xor.{k}" for k in raw["experiments"]["xor"]
                                                           if k != "variants"]]
    assert set(dvc["compare_xor"]["deps"]) >= {f"reports/metrics/{v}.json" for v in VARIANTS}
    assert "compare_xor" in rules and set(rules) - {"all"} == set(dvc)
    assert "reports/comparisons/xor.html" in dvc["report"]["outs"]


def test_quick_mode_keeps_the_grid_small(raw_params):
    raw = _with_grid(raw_params)
    raw["experiments"]["xor"]["quick"]["variants"] = {"seeds": [0]}
    reg = Registry.from_params(load_params(raw, scale="quick"))
    assert reg.comparisons["xor"].variants == ("xor__hidden1__seed0", "xor__hidden2__seed0")
    assert reg.experiment("xor__hidden2__seed0").spec["model"]["hidden"] == 2
    assert reg.experiment("xor__hidden2__seed0").overrides == {"model.hidden": 2, "seed": 0}
    assert reg.experiment("xor__hidden2__seed0").variant_of == "xor"


def test_a_quick_block_drops_named_variants_or_all_of_them(raw_params):
    raw = copy.deepcopy(raw_params)
    raw["experiments"]["xor"]["variants"] = {"named": {"wide": {"model.hidden": 8}, "narrow": {"model.hidden": 2}},
                                             "compare": {"metric": "binary_accuracy"}}
    raw["experiments"]["xor"]["quick"]["variants"] = {"named": {"wide": None}}
    assert Registry.from_params(load_params(raw, scale="quick")).comparisons["xor"].variants == ("xor__narrow",)
    assert Registry.from_params(load_params(raw, scale="full")).comparisons["xor"].variants == ("xor__wide",
                                                                                                 "xor__narrow")
    raw["experiments"]["xor"]["quick"]["variants"] = None  # no variants, no comparison, in quick mode
    quick = Registry.from_params(load_params(raw, scale="quick"))
    assert "xor" not in quick.comparisons and not [e for e in quick.experiments if e.startswith("xor__")]
    assert "compare_xor" not in build_stages(quick)


@pytest.mark.parametrize("grid, named", [({"model.hiden": [1]}, "model.hiden"), ({"modle.hidden": [1]}, "modle"),
                                         ({"trainer.epochs": [0]}, "trainer.epochs")])
def test_a_bad_override_path_is_refused_naming_it(raw_params, grid, named):
    raw_params["experiments"]["xor"]["variants"] = {"grid": grid}
    with pytest.raises(ParamsError, match=r"experiments\.xor\.variants: variant xor__") as err:
        load_params(raw_params)
    assert next(iter(grid)) in str(err.value) and named.split(".")[-1] in str(err.value)


def test_named_variants_and_seed_only_repeats(raw_params):
    raw_params["experiments"]["xor"]["variants"] = {"named": {"wide": {"model.hidden": 12}}, "seeds": [3, 4]}
    reg = Registry.from_params(load_params(raw_params))
    assert reg.comparisons["xor"].variants == ("xor__wide__seed3", "xor__wide__seed4")
    assert reg.experiment("xor__wide__seed4").seed == 4
    raw_params["experiments"]["xor"]["variants"] = {"seeds": [1, 2]}
    reg = Registry.from_params(load_params(raw_params))
    assert reg.comparisons["xor"].variants == ("xor", "xor__seed1", "xor__seed2")  # the entry is seed 0
    assert reg.comparisons["xor"].seeds == (0, 1, 2)  # so the comparison counts its seed too


# -- the seed spread (analysis/spread.py) ------------------------------------------------------

def test_seed_spread_and_a_difference_inside_it():
    a = spread.summary([0.75, 1.0, 1.0, 0.75], {"at_least": 1.0})
    b = spread.summary([1.0, 1.0, 0.75, 1.0], {"at_least": 1.0})
    assert (a.n, a.mean, round(a.sd, 6), a.low, a.high, a.successes) == (4, 0.875, 0.144338, 0.75, 1.0, 2)
    assert b.success_rate == 0.75
    assert spread.differs(a, b) is False and spread.verdict(a, b) == "within the seed spread"
    c = spread.summary([0.50, 0.51, 0.49, 0.50])
    assert spread.differs(a, c) is True
    assert spread.differs(spread.summary([1.0]), c) is None  # one seed: cannot tell
    assert spread.differs(spread.summary([1.0, 1.0]), spread.summary([0.75, 0.75])) is True  # sd 0 both


def test_values_from_the_same_runs_are_compared_paired_by_seed():
    """Greedy and beam search on one model per seed: the seeds swing both by 0.02, beam is ahead
    by 0.003 in every run. Unpaired, the gap is inside the spread; paired, it is real."""
    greedy = [0.950, 0.970, 0.990, 0.960]
    beam = [0.953, 0.9735, 0.9925, 0.963]
    assert spread.differs(spread.summary(beam), spread.summary(greedy)) is False
    d = spread.paired_differences(beam, greedy)
    assert (d.n, round(d.mean, 6), round(d.sd, 6)) == (4, 0.003, 0.000408)
    assert spread.differs_paired(beam, greedy) is True
    assert spread.verdict_paired(beam, greedy) == "larger than the seed spread (paired by seed)"
    # a gap that changes sign with the seed: inside the paired spread, reported as not significant
    other = [0.955, 0.965, 0.992, 0.958]
    assert spread.differs_paired(other, greedy) is False
    assert spread.verdict_paired(other, greedy) == "within the seed spread (paired by seed)"
    # runs without both values drop out; one pair left cannot tell
    assert spread.differs_paired([0.9, None, 0.8], [0.85, 0.7, None]) is None
    assert spread.differs_paired([0.9, 0.9], [0.8, 0.8]) is True   # the same gap every run (sd 0)


def test_an_across_comparison_judges_each_metric_against_the_best_paired():
    from dllaunchpad.runners.compare import groups_across, judge

    rows = [{"variant": f"t__seed{i}", "seed": i, "wall_seconds": 1.0, "greedy": g, "beam": b}
            for i, (g, b) in enumerate(zip([0.950, 0.970, 0.990, 0.960], [0.953, 0.9735, 0.9925, 0.963]))]
    groups = groups_across(rows, {"greedy": "greedy", "beam": "beam"}, None)
    assert judge(groups, "max") == 1
    assert groups[1]["best"] and groups[1]["versus_best"] is None
    assert groups[0]["differs_from_best"] is True
    assert groups[0]["versus_best"] == "larger than the seed spread (paired by seed)"
    assert round(groups[0]["difference_from_best"]["mean"], 6) == -0.003


# -- end to end: train, evaluate, compare, report --------------------------------------------

def test_compare_stage_and_pages(raw_params, tmp_path):
    from dllaunchpad.report.build import build_report
    from dllaunchpad.runners.compare import compare
    from dllaunchpad.runners.evaluate import evaluate
    from dllaunchpad.runners.train import train

    raw = _with_grid(raw_params)
    raw["experiments"]["xor"]["quick"]["trainer"]["epochs"] = 300
    raw.update(scale="quick", skip_datasets=["rps"])
    params = load_params(raw)
    reg = Registry.from_params(params, root=tmp_path)
    for v in VARIANTS:
        train(reg.experiment(v), progress=False)
        evaluate(reg.experiment(v))
    summary = compare(reg.comparisons["xor"], reg)
    assert [g["setting"] for g in summary["groups"]] == ["model.hidden=1", "model.hidden=2"]
    accs = {r["variant"]: r["binary_accuracy"] for r in summary["rows"]}
    for g in summary["groups"]:
        values = [accs[v] for v in g["variants"]]
        assert g["summary"]["mean"] == pytest.approx(sum(values) / 2)
        assert g["summary"]["successes"] == sum(v >= 1.0 for v in values)
    assert summary["best"] in summary["answer"] and "Success (binary_accuracy ≥ 1)" in summary["answer"]
    out = tmp_path / "reports/comparisons/xor"
    assert {p.name for p in out.iterdir()} == {"comparison.json", "variants.csv", "metric.png", "wall_time.png"}
    assert (out / "variants.csv").read_text().splitlines()[0] == "variant,setting,seed,binary_accuracy,wall_seconds"

    build_report(params, reg, tmp_path, raw_params=raw)
    page = (tmp_path / "reports/comparisons/xor.html").read_text()
    for v in VARIANTS:
        assert f'href="../experiments/{v}.html"' in page
    variant_page = (tmp_path / f"reports/experiments/{VARIANTS[0]}.html").read_text()
    assert 'href="../comparisons/xor.html"' in variant_page and "A variant of" in variant_page
    assert 'href="../comparisons/xor.html"' in (tmp_path / "reports/experiments/xor.html").read_text()


def test_compare_across_metrics_of_seed_repeats(raw_params, tmp_path):
    """Seeds only, several metrics of each run compared with each other (the GAN's stabilisers):
    one group per metric, summarised over the seeds."""
    from dllaunchpad.runners.compare import compare

    raw_params["experiments"]["xor"]["variants"] = {
        "seeds": [0, 1, 2], "compare": {"across": {"p01": "prediction_01", "p10": "prediction_10"}, "goal": "max"}}
    reg = Registry.from_params(load_params(raw_params), root=tmp_path)
    values = {"xor__seed0": (0.9, 0.8), "xor__seed1": (0.8, 0.9), "xor__seed2": (0.85, 0.85)}
    for name, (a, b) in values.items():
        path = tmp_path / f"reports/metrics/{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"prediction_01": a, "prediction_10": b}))
    summary = compare(reg.comparisons["xor"], reg)
    groups = {g["setting"]: g for g in summary["groups"]}
    assert groups["p01"]["summary"]["mean"] == pytest.approx(0.85) and groups["p01"]["summary"]["n"] == 3
    assert groups["p10"]["summary"]["mean"] == pytest.approx(0.85)
    loser = next(g for g in summary["groups"] if not g.get("best"))
    assert loser["versus_best"] == "within the seed spread (paired by seed)" and "Within the seed spread" in summary["answer"]
