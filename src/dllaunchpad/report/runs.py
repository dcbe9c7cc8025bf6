"""`dllaunchpad report --compare A B [...]`: two or more runs of the pipeline side by side.

A run is the workspace (the files on disk, named ``workspace``), a git revision, or the name of a
DVC experiment (``dvc exp run -n NAME``; its commit lives under ``refs/exps/``). For a revision,
``params.yaml`` and ``dvc.lock`` come from git, and the metrics and histories that dvc.lock names
from DVC's cache, by their md5: nothing is checked out, and the workspace is left as it is.

The page (``reports/runs/<A>_vs_<B>.html``, self-contained like the rest of the report) shows:

- the params that differ, one row per dotted key;
- every metric that differs, with its difference from the first run (the rest are counted,
  and listed whole, folded);
- for each experiment whose training history differs, the learning curves of every run
  overlaid.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dllaunchpad import io
from dllaunchpad.report.collect import data_uri, fmt

WORKSPACE = "workspace"
METRICS = re.compile(r"^reports/metrics/([^/]+)\.json$")
HISTORY = re.compile(r"^reports/history/([^/]+)\.csv$")
RUNS_DIR = "reports/runs"


@dataclass
class Run:
    label: str                                   # as the reader named it
    sha: str | None                              # None: the workspace
    params: dict
    metrics: dict[str, dict] = field(default_factory=dict)    # experiment -> its metrics
    histories: dict[str, str] = field(default_factory=dict)   # experiment -> its history CSV
    not_cached: list[str] = field(default_factory=list)       # named in dvc.lock, not in the cache

    @property
    def title(self) -> str:
        return self.label if self.sha is None or self.sha.startswith(self.label) else f"{self.label} ({self.sha[:8]})"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)


def resolve(rev: str, root: Path) -> str | None:
    """The commit of a git revision or a DVC experiment's name; None for the workspace."""
    if rev == WORKSPACE:
        return None
    refs = _git(root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps")
    for line in refs.stdout.splitlines():
        sha, ref = line.split(" ", 1)
        if ref.rsplit("/", 1)[-1] == rev:
            return sha
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode != 0:
        raise ValueError(f"--compare {rev!r}: not '{WORKSPACE}', a git revision or a DVC experiment's name "
                         f"(`dvc exp list` lists those)")
    return found.stdout.strip()


def _show(root: Path, sha: str, path: str) -> str | None:
    proc = _git(root, "show", f"{sha}:{path}")
    return proc.stdout if proc.returncode == 0 else None


def _cache_dir(root: Path) -> Path:
    """DVC's cache folder (`dvc cache dir`: it may be configured outside the repository)."""
    dvc = Path(sys.executable).with_name("dvc")
    proc = subprocess.run([str(dvc) if dvc.exists() else "dvc", "cache", "dir"], cwd=root, capture_output=True,
                          text=True, timeout=120)
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else root / ".dvc/cache"


def read_run(label: str, root: Path, cache: Path | None = None) -> Run:
    import yaml

    root = Path(root)
    sha = resolve(label, root)
    if sha is None:
        run = Run(label, None, io.load_yaml((root / "params.yaml").read_text()))
        for path in sorted((root / "reports/metrics").glob("*.json")):
            _add(run, path.relative_to(root).as_posix(), path.read_text())
        for path in sorted((root / "reports/history").glob("*.csv")):
            _add(run, path.relative_to(root).as_posix(), path.read_text())
        return run
    params, lock = _show(root, sha, "params.yaml"), _show(root, sha, "dvc.lock")
    if params is None:
        raise ValueError(f"--compare {label!r}: commit {sha[:8]} has no params.yaml")
    if lock is None:
        raise ValueError(f"--compare {label!r}: commit {sha[:8]} has no dvc.lock, so it records no results; "
                         "commit dvc.lock after a run (or use a DVC experiment, which does)")
    run = Run(label, sha, yaml.safe_load(params))
    cache = cache or _cache_dir(root)
    for stage in (yaml.safe_load(lock).get("stages") or {}).values():
        for out in stage.get("outs") or []:
            path, md5 = out.get("path", ""), out.get("md5", "")
            if not (METRICS.match(path) or HISTORY.match(path)) or not md5:
                continue
            blob = cache / "files" / "md5" / md5[:2] / md5[2:]
            if blob.is_file():
                _add(run, path, blob.read_text())
            else:
                run.not_cached.append(path)
    return run


def _add(run: Run, path: str, text: str) -> None:
    if m := METRICS.match(path):
        try:
            metrics = json.loads(text)
        except ValueError:
            return  # a broken metrics file is the report's to show, not this page's
        if isinstance(metrics, dict):
            run.metrics[m.group(1)] = metrics
    elif m := HISTORY.match(path):
        run.histories[m.group(1)] = text


# -- what differs ------------------------------------------------------------------------------

def flatten(node, prefix: str = "") -> dict[str, object]:
    """{"experiments.xor.optimizer.lr": 0.05, ...}; lists stay whole (a file list is one value)."""
    if isinstance(node, dict) and node:
        out: dict[str, object] = {}
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


def _text(v) -> str:
    if v is None:
        return "—"
    return v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict, bool)) else fmt(v)


def params_diff(runs: list[Run]) -> list[tuple[str, list[str]]]:
    flat = [flatten(r.params) for r in runs]
    keys = sorted({k for f in flat for k in f})
    return [(k, [_text(f.get(k)) for f in flat]) for k in keys if len({json.dumps(f.get(k), sort_keys=True, default=str)
                                                                     for f in flat}) > 1]


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _difference(first, other) -> str:
    a, b = _number(first), _number(other)
    if a is None or b is None:
        return ""
    if a == b:
        return "0"
    rel = f" ({(b - a) / abs(a):+.1%})" if a else ""
    return f"{b - a:+.6g}{rel}"


@dataclass
class MetricRow:
    experiment: str
    key: str
    values: list[str]
    differences: list[str]      # against the first run, one per later run


def metric_rows(runs: list[Run]) -> tuple[list[MetricRow], list[MetricRow]]:
    """(rows that differ between runs, rows that do not)."""
    differ, same = [], []
    for exp in sorted({e for r in runs for e in r.metrics}):
        keys = sorted({k for r in runs for k in r.metrics.get(exp, {})})
        for key in keys:
            raw = [r.metrics.get(exp, {}).get(key) for r in runs]
            row = MetricRow(exp, key, [_text(v) for v in raw], [_difference(raw[0], v) for v in raw[1:]])
            (differ if len({json.dumps(v, sort_keys=True) for v in raw}) > 1 else same).append(row)
    return differ, same


@dataclass
class Curves:
    experiment: str
    src: str
    alt: str


def overlaid_curves(runs: list[Run], limit: int = 12) -> tuple[list[Curves], int]:
    """One figure per experiment whose history differs between the runs (at most `limit`; the
    number left out is returned too)."""
    from dllaunchpad.analysis.figures import overlaid_learning_curves, parse_history

    def readable(text: str) -> dict[str, list[float]] | None:
        try:
            return parse_history(text)
        except ValueError:  # a broken history is its own page's to show; here it is left out
            return None

    names = [e for e in sorted({e for r in runs for e in r.histories})
             if len({r.histories.get(e) for r in runs}) > 1]
    out = []
    for exp in names[:limit]:
        histories = {r.title: readable(r.histories[exp]) for r in runs if exp in r.histories}
        drawn = overlaid_learning_curves({t: h for t, h in histories.items() if h is not None},
                                         f"{exp}: learning curves of each run")
        if drawn is not None:
            png, alt = drawn
            out.append(Curves(exp, data_uri(png), alt))
    return out, max(0, len(names) - limit)


# -- the page ----------------------------------------------------------------------------------

def page_path(labels: list[str]) -> str:
    slug = "_vs_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "run" for label in labels)
    return f"{RUNS_DIR}/{slug}.html"


def compare_runs(labels: list[str], root: Path = Path("."), out: Path | None = None) -> Path:
    """Write the page that puts the runs `labels` side by side; returns its path."""
    from dllaunchpad.report.build import jinja_env

    if len(labels) < 2:
        raise ValueError(f"--compare needs two runs or more (got {labels}); one of them may be '{WORKSPACE}'")
    if len(set(labels)) != len(labels):
        raise ValueError(f"--compare names a run twice: {labels}")
    root = Path(root)
    cache = None if all(label == WORKSPACE for label in labels) else _cache_dir(root)
    runs = [read_run(label, root, cache) for label in labels]
    differ, same = metric_rows(runs)
    curves, curves_left_out = overlaid_curves(runs)
    path = Path(out) if out else root / page_path(labels)
    html = jinja_env().get_template("runs.html").render(
        runs=runs, params=params_diff(runs), differ=differ, same=same, curves=curves,
        curves_left_out=curves_left_out, up="../../", index="reports/index.html")
    io.write_text(path, html)
    return path
