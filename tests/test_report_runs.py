"""`dllaunchpad report --compare` (report/runs.py) on a hand-made history: two commits whose
dvc.lock names metrics and histories held in a DVC-layout cache, and the workspace. The real
thing (a `dvc exp run` experiment beside its baseline, in Chromium) is
tests/test_dvc_experiments.py::test_report_compare_puts_an_experiment_beside_its_baseline."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess

import pytest
import yaml

from dllaunchpad.report.runs import compare_runs, flatten, read_run

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

HISTORY = "epoch,train_loss,val_loss\n1,{a},{b}\n2,{c},{d}\n"


def _git(root, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                          capture_output=True, text=True).stdout.strip()


def _commit(root, lr, metrics, history, cached=True):
    """A commit as a run leaves it: params.yaml and a dvc.lock naming the outputs by md5, the
    outputs themselves in the cache (files/md5/xx/yyyy) and in the workspace."""
    (root / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "experiments": {"x": {"optimizer": {"lr": lr}}}}))
    outs = []
    for rel, text in (("reports/metrics/x.json", json.dumps(metrics)), ("reports/history/x.csv", history)):
        md5 = hashlib.md5(text.encode()).hexdigest()
        outs.append({"path": rel, "md5": md5, "hash": "md5"})
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        if cached:
            blob = root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_text(text)
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"evaluate_x": {"outs": outs}}}))
    _git(root, "add", "params.yaml", "dvc.lock")
    _git(root, "commit", "-qm", f"lr {lr}")
    return _git(root, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path):
    _git(tmp_path, "init", "-q")
    first = _commit(tmp_path, 0.1, {"accuracy": 0.8, "name": "a"}, HISTORY.format(a=1.0, b=1.1, c=0.5, d=0.6))
    second = _commit(tmp_path, 0.2, {"accuracy": 0.9, "name": "a"}, HISTORY.format(a=1.0, b=1.1, c=0.4, d=0.5))
    return tmp_path, first, second


def test_two_commits_and_the_workspace_side_by_side(history):
    root, first, second = history
    # the workspace: the second commit's outputs, with one metric edited by hand
    (root / "reports/metrics/x.json").write_text(json.dumps({"accuracy": 0.95, "name": "a"}))
    page = compare_runs([first[:10], second, "workspace"], root)
    assert page == root / f"reports/runs/{first[:10]}_vs_{second}_vs_workspace.html"
    html = page.read_text()
    params = re.search(r'<table aria-label="params that differ">.*?</table>', html, re.S).group(0)
    assert "<code>experiments.x.optimizer.lr</code>" in params
    assert [c for c in re.findall(r"<td[^>]*><code>([^<]*)</code></td>", params)] == ["0.1", "0.2", "0.2"]
    differ = re.search(r'<table aria-label="metrics that differ">.*?</table>', html, re.S).group(0)
    cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', differ)
    assert cells == ["0.8", "0.9", "0.95", "+0.1 (+12.5%)", "+0.15 (+18.7%)"]  # 0.95 - 0.8 is 0.1499... in binary
    assert "<code>name</code>" not in differ and "1 metric(s) with the same value" in html
    assert 'id="curves-x"' in html  # the histories differ between the commits
    assert html.count('src="data:image/png;base64,') == 1


def test_runs_name_what_is_wrong(history):
    root, first, second = history
    with pytest.raises(ValueError, match="'nosuchrev': not 'workspace', a git revision or a DVC experiment"):
        compare_runs([first, "nosuchrev"], root)
    with pytest.raises(ValueError, match="two runs or more"):
        compare_runs([first], root)
    (root / "notes.txt").write_text("no dvc.lock here\n")
    _git(root, "rm", "-q", "dvc.lock")
    _git(root, "add", "notes.txt")
    _git(root, "commit", "-qm", "no lock")
    with pytest.raises(ValueError, match="has no dvc.lock, so it records no results"):
        compare_runs([first, "HEAD"], root)


def test_outputs_missing_from_the_cache_are_named(history):
    root, first, _ = history
    third = _commit(root, 0.3, {"accuracy": 0.7}, HISTORY.format(a=1, b=1, c=1, d=1), cached=False)
    run = read_run(third, root, cache=root / ".dvc/cache")
    assert run.metrics == {} and run.not_cached == ["reports/metrics/x.json", "reports/history/x.csv"]
    html = compare_runs([first, third], root).read_text()
    assert "2 file(s) that its dvc.lock names are not in" in html


def test_flatten_keeps_lists_whole():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {"a.b": 1, "a.c": [1, 2], "d": {}}
