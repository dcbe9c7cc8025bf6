"""Concurrency safety by construction: no two stages write the same path or one inside another's
output, so jobs running side by side (--cores N, SLURM) never share a file; training's resume
state lives outside every output."""

from __future__ import annotations

import pytest

from dllaunchpad.pipeline import dvc_yaml
from dllaunchpad.training import resume
from dllaunchpad.pipeline.config import load_params
from dllaunchpad.pipeline.registry import Registry


def _written(stage: dict) -> list[str]:
    entries = [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries]


@pytest.mark.parametrize("scale", ["quick", "full"])
def test_no_two_stages_write_the_same_path(raw_params, scale):
    reg = Registry.from_params(load_params(raw_params, scale=scale))
    owner: dict[str, str] = {}
    for name, stage in dvc_yaml.stages(reg).items():
        for path in _written(stage):
            assert path not in owner, f"{path} is written by {owner.get(path)} and {name}"
            owner[path] = name
    paths = sorted(owner)
    for a in paths:
        inside = [b for b in paths if b.startswith(a.rstrip("/") + "/")]
        assert not inside, f"{inside} ({[owner[b] for b in inside]}) inside {a} ({owner[a]})"
    for path in paths:
        assert not path.startswith(resume.RESUME_DIR) and not resume.RESUME_DIR.startswith(path + "/")
