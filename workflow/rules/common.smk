# Shared set-up: validate params (stops here, naming the key, before any job starts), build the
# registry and its stage table, and the helpers that turn a table row into rule fields.

import json

from dllaunchpad.pipeline.config import ParamsError, load_params
from dllaunchpad.pipeline.config import read_params
from dllaunchpad.pipeline.dvc_yaml import mode_of, refresh as refresh_dvc_yaml
from dllaunchpad.pipeline.registry import REPORT_HTML, Registry

try:
    # Our validation first: its message names the key (experiments.xor.trainer.epochs). The
    # registry checks every family's module against the family contract (pipeline/family.py).
    P = load_params(config, path="params.yaml (with --config overrides)")
    REG = Registry.from_params(P)
except ParamsError as exc:
    raise WorkflowError(str(exc)) from None
validate(config, "../schemas/params.schema.yaml")  # Snakemake's own check, same schema

STAGES = (
    REG.stages()
)  # pipeline/stages.py: the one table; dvc.yaml is generated from it too
# dvc.yaml follows params.yaml and this run's --config scale/skip_datasets, so that DVC records
# and reruns the same stages (workflow/rules/dvc.smk records them when the run succeeds).
refresh_dvc_yaml(mode=mode_of(config, read_params("params.yaml")))
SCALE = P["scale"]
if REG.skipped_datasets:
    print(
        f"launchpad: leaving out datasets {list(REG.skipped_datasets)} (skip_datasets); "
        f"experiments left out: {list(REG.skipped_experiments) or 'none'}",
        file=sys.stderr,
    )


def param_values(stage):
    """The values of the params.yaml keys the stage reads, as one stable string, taken from the
    config Snakemake was given (params.yaml plus --config): a change to any of them reruns the
    job, as it does in DVC, which tracks the same keys."""
    values = {}
    for key in stage.params:
        node = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values[key] = node
    return json.dumps(values, sort_keys=True)


def rule_output(out, stage):
    """A table Output as a Snakemake output: directory() and report() where it says so."""
    path = directory(out.path) if out.directory else out.path
    if not out.report:
        return path
    spec = dict(out.report)
    if (
        spec.get("labels") == "figure"
    ):  # one label set per figure of a report()-marked folder
        spec["labels"] = lambda wildcards, experiment=stage.target: {
            "experiment": experiment,
            "figure": wildcards.name,
        }
    return report(path, **spec)


def caption_params(stage):
    """What the report captions (workflow/report/*.rst) print about an experiment's stage."""
    exp = (
        REG.experiments.get(stage.target)
        if stage.step in ("train", "generate", "evaluate")
        else None
    )
    return (
        {"experiment": exp.name, "title": exp.title, "chapter": exp.chapter}
        if exp
        else {}
    )
