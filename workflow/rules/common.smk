# Shared set-up: validate params (stops here, naming the key, before any job starts), build the
# registry, and the helpers every rule uses.

import json

from dllaunchpad.config import ParamsError, load_params
from dllaunchpad.registry import REPORT_CODE, REPORT_HTML, Registry

try:
    # Our validation first: its message names the key (experiments.xor.trainer.epochs).
    P = load_params(config, path="params.yaml (with --config overrides)")
except ParamsError as exc:
    raise WorkflowError(str(exc)) from None
validate(config, "../schemas/params.schema.yaml")  # Snakemake's own check, same schema

REG = Registry.from_params(P)
SCALE = P["scale"]
CLUSTER = P["cluster"]
if REG.skipped_datasets:
    print(f"launchpad: leaving out datasets {list(REG.skipped_datasets)} (skip_datasets); "
          f"experiments left out: {list(REG.skipped_experiments) or 'none'}", file=sys.stderr)

# Every rule calls the CLI with the scale Snakemake was given (it may come from --config).
CLI = f"dllaunchpad --scale {SCALE}"


def as_param(obj):
    """A stable string of a settings dict: Snakemake reruns a job when its params change."""
    return json.dumps(obj, sort_keys=True)


# `snakemake --report`: every figure sits under its chapter part (category) and experiment
# (subcategory); captions are workflow/report/*.rst.
from dllaunchpad.report.sections import group_of


def report_category(exp):
    return group_of(exp.chapter).title


def report_subcategory(exp):
    return f"{exp.chapter} {exp.name}"


def figure_labels(exp):
    """Labels of each figure of a report()-marked directory: the pattern's {name} wildcard."""
    return lambda wildcards, experiment=exp.name: {"experiment": experiment, "figure": wildcards.name}
