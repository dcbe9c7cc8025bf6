"""The workflow passes Snakemake's linter and snakefmt, and the rules' conda environment
(workflow/envs/launchpad.yaml, for `snakemake --sdm conda`) pins what pyproject.toml does."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib

import yaml

from conftest import REPO


def _run(cmd):
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "LAUNCHPAD_DVC_YAML": "keep"}, timeout=600)


def test_snakemake_lint_is_clean():
    proc = _run(["snakemake", "--lint"])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in out, out[-3000:]


def test_snakefmt_is_clean():
    proc = _run(["snakefmt", "--check", "Snakefile", "workflow/"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _names(reqs):
    return {re.split(r"[<>=\s;\[]", r, maxsplit=1)[0].lower().replace("_", "-"): r.replace(" ", "") for r in reqs}


def test_rule_environment_pins_what_pyproject_does():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "workflow/envs/launchpad.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ../.." in pip  # the project itself, so `dllaunchpad` exists in the rule's environment
    wanted = _names(project)
    got = _names([p for p in pip if not p.startswith("-e")])
    assert got == wanted
