"""DVC's own way to try one setting works on this repository: `dvc exp run -S <key>=<value>` in a
git working copy (DVC experiments live in git refs), then `dvc exp show` lists the experiment with
its changed param and its metrics, and the workspace is unchanged (README, "Trying one setting").
"""

from __future__ import annotations

import json
import re

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


def test_report_compare_puts_an_experiment_beside_its_baseline(repo, tmp_path):
    """`dllaunchpad report --compare HEAD lr-0.05`: the baseline commit and the DVC experiment,
    read from git and DVC's cache (nothing checked out), in one self-contained page: the param
    that differs, the metrics that differ with their differences, XOR's curves overlaid. Then
    the page in headless Chromium, network blocked (screenshot: reports/screenshots/runs.png)."""
    from conftest import REPO, require
    from headless_chromium import Chromium, find_chromium

    head = workcopy.run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    before = workcopy.run(["git", "status", "--porcelain"], repo).stdout
    out = workcopy.run(["dllaunchpad", "--scale", "quick", "report", "--compare", "HEAD", "lr-0.05"], repo).stdout
    page = repo / "reports/runs/HEAD_vs_lr-0.05.html"
    assert str(page.relative_to(repo)) in out
    assert workcopy.run(["git", "status", "--porcelain"], repo).stdout == before  # nothing checked out
    html = page.read_text()
    assert f"commit <code>{head[:12]}</code>" in html
    params = re.search(r'<table aria-label="params that differ">.*?</table>', html, re.S).group(0)
    assert "<code>experiments.xor.optimizer.lr</code>" in params and "<code>0.05</code>" in params
    assert params.count("<tr>") == 2  # the header and the one key that differs
    differ = re.search(r'<table aria-label="metrics that differ">.*?</table>', html, re.S).group(0)
    assert ">xor</a></td><td><code>final_loss</code>" in differ
    assert "tensor_products" not in differ  # the same code and params: the same numbers
    assert 'id="curves-xor"' in html and 'id="curves-tensor_products"' not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)

    chromium = require(find_chromium(), "no Chromium (Debian: apt-get install chromium)")
    with Chromium(chromium, str(tmp_path / "profile")) as browser:
        tab = browser.new_page()
        tab.goto(page.resolve().as_uri())
        images = tab.eval("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert images and all(images)
        assert not tab.errors and not tab.blocked, (tab.errors, tab.blocked)
        shots = REPO / "reports" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        (shots / "runs.png").write_bytes(tab.screenshot())
