"""DVC's own way to try one setting works on this repository: `dvc exp run -S <key>=<value>` in a
git working copy (DVC experiments live in git refs), then `dvc exp show` lists the experiment with
its changed param and its metrics, and the workspace is unchanged (README, "Trying one setting").
"""

from __future__ import annotations

import json

import pytest

import workcopy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    def fewer_epochs(params):
        params["experiments"]["xor"]["quick"]["trainer"]["epochs"] = 200

    root = tmp_path_factory.mktemp("dvcexp") / "launchpad"
    workcopy.make_copy(root, edit=fewer_epochs, datasets=["iris"], experiments=["xor", "tensor_products"],
                       scale="quick", git=True)
    return root


def test_dvc_exp_run_set_param(repo):
    workcopy.run(["dvc", "repro"], repo)
    workcopy.run(["git", "add", "-A"], repo)
    workcopy.run(["git", "commit", "-qm", "baseline"], repo)
    base = json.loads((repo / "reports/metrics/xor.json").read_text())
    run = workcopy.run(["dvc", "exp", "run", "-n", "lr-0.05", "-S", "experiments.xor.optimizer.lr=0.05"], repo)
    assert "train_xor" in run.stdout + run.stderr
    shown = json.loads(workcopy.run(["dvc", "exp", "show", "--json"], repo).stdout)
    text = json.dumps(shown)
    assert "lr-0.05" in text and "0.05" in text
    exps = [e for commit in shown for e in (commit.get("experiments") or [])]
    names = [r.get("name") for e in exps for r in (e.get("revs") or [])]
    assert "lr-0.05" in names, text[:3000]
    # the workspace holds the experiment's results; the baseline commit is unchanged
    assert workcopy.run(["git", "show", "HEAD:params.yaml"], repo).stdout.count("lr: 0.05") == 0
    diff = workcopy.run(["dvc", "params", "diff", "HEAD"], repo).stdout
    assert "experiments.xor.optimizer.lr" in diff and "0.05" in diff
    assert json.loads((repo / "reports/metrics/xor.json").read_text()).keys() == base.keys()
