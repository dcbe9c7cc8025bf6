"""Print the rules of the Snakefile, as Snakemake parsed them, as JSON (name -> input, output,
log, benchmark, params, resources). Run as a script in its own process: Snakemake's API keeps
global state. Usage: python tests/snakemake_rules.py [key=value ...] (Snakemake --config)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, ResourceSettings


def main(argv: list[str]) -> None:
    config = {k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in argv)}
    with SnakemakeApi() as api:
        wf = api.workflow(resource_settings=ResourceSettings(cores=1), config_settings=ConfigSettings(config=config),
                          snakefile=Path("Snakefile"), workdir=Path("."))
        rules = {}
        for rule in wf._workflow.rules:  # the parsed rules (no DAG is built)
            rules[rule.name] = {
                "input": sorted(map(str, rule.input)),
                "output": sorted(map(str, rule.output)),
                "log": [str(p) for p in rule.log],
                "benchmark": str(rule.benchmark) if rule.benchmark else None,
                "params": dict(rule.params.items()),
                "resources": {k: v.value for k, v in rule.resources.items() if not v.is_evaluable()},
            }
    print(json.dumps(rules))


if __name__ == "__main__":
    main(sys.argv[1:])
