"""The HTML report: ``reports/index.html`` (overview) and ``reports/experiments/<exp>.html``.

- The overview has one card per experiment of params.yaml (status, headline metric, thumbnail,
  wall time, device), grouped by the chapter's parts (sections.py), the fidelity table (what the
  chapter printed, ours, the difference, why) and the datasets.
- Each experiment page has the settings used, the per-epoch history, every figure, the
  metrics, generated music with an audio player, links to the checkpoint, history, logs and
  prepared data, and the command that rebuilds it. An experiment that did not run gets a page
  that says why and what to run.

Offline and portable: no script, web font or remote URL anywhere; CSS is inline and figures are
inlined as data: URIs, so each page opens on its own. Audio and the linked files (checkpoints,
CSV, logs) are relative links, so the repository (or reports/ alone, for everything but those
links) can be zipped and opened anywhere. The output has no timestamps: the same inputs give
the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from dllaunchpad import io
from dllaunchpad.pipeline.registry import REPORT_HTML, Experiment, Registry
from dllaunchpad.report.collect import (ExperimentView, comparison_view, experiment_view, fmt, href, left_out_status,
                                       run_command)
from dllaunchpad.pipeline.sections import GROUPS, OTHER, group_of, section_key

TEMPLATES = Path(__file__).with_name("templates")
CHAPTER_VALUES = Path(__file__).with_name("chapter_values.yaml")
PAGES_DIR = "reports/experiments"


def page_path(name: str) -> str:
    return f"{PAGES_DIR}/{name}.html"


# -- the chapter's printed values -------------------------------------------------------------

def chapter_values(path: Path = CHAPTER_VALUES) -> dict:
    """chapter_values.yaml, checked: each entry needs `section` and a `values` mapping."""
    from dllaunchpad.io import load_yaml

    with open(path, encoding="utf-8") as fh:
        data = load_yaml(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of experiment -> {{section, values, note}}")
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict) or "section" not in entry:
            raise ValueError(f"{path}: entry {name!r} needs `section:` and a `values:` mapping "
                             f"(metric key -> the chapter's value)")
    return data


def _difference(ours, theirs) -> tuple[str, str]:
    """(difference, relative difference) as text."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (ours, theirs))
    if not numeric:
        return ("equal" if ours == theirs else "differs"), ""
    diff = ours - theirs
    rel = f"{100 * diff / abs(theirs):+.1f} %" if theirs else ""
    return f"{diff:+.4g}", rel


def fidelity(params: dict, reg: Registry, root: Path, values: dict | None = None) -> list[dict]:
    """One block per experiment the chapter printed values for, one row per value."""
    values = chapter_values() if values is None else values
    blocks = []
    for name, entry in values.items():
        known = name in params["experiments"]
        left_out = name in reg.skipped_experiments
        path = root / f"reports/metrics/{name}.json"
        ours = {}
        if known and not left_out and path.is_file():
            try:
                ours = json.loads(path.read_text())
            except ValueError:
                ours = {}
            if not isinstance(ours, dict):  # not metrics (collect.status reports it as failed)
                ours = {}
        state = ("unknown experiment (not in params.yaml)" if not known else "left out" if left_out
                 else "not run" if not ours else "")
        rows = []
        for metric, theirs in entry["values"].items():
            value = ours.get(metric)
            if value is None:
                ours_text = state or "missing from the metrics"
                diff, rel = "", ""
            else:
                ours_text = fmt(value)
                diff, rel = _difference(value, theirs)
            rows.append({"metric": metric, "chapter": fmt(theirs), "ours": ours_text, "diff": diff, "rel": rel,
                         "missing": value is None})
        spec = params["experiments"].get(name, {})
        blocks.append({"experiment": name, "title": spec.get("title", name), "known": known,
                       "computed_on": ours.get("computed_on", ""),
                       "ran": bool(ours), "section": str(entry["section"]), "note": entry.get("note", ""),
                       "rows": rows})
    blocks.sort(key=lambda b: section_key(b["section"]))
    return blocks


# Kept for callers of the skeleton's API: flat rows.
def fidelity_rows(reg: Registry, root: Path, params: dict | None = None) -> list[dict]:
    params = params or {"experiments": {n: e.spec for n, e in reg.experiments.items()}}
    return [{"experiment": b["experiment"], "section": b["section"], "note": b["note"], **r}
            for b in fidelity(params, reg, Path(root)) for r in b["rows"]]


# -- datasets ---------------------------------------------------------------------------------

def dataset_row(ds, root: Path) -> dict:
    summary_path = root / ds.processed_dir / "summary.json"
    # a local-folder dataset (`source:`, pipeline/folders.py) names its folder and kind
    files = [f"{ds.source_folder}/ ({ds.kind})"] if ds.kind else [f["name"] for f in ds.spec["files"]]
    row = {"name": ds.name, "description": ds.spec["description"], "files": files,
           "summary": None, "summary_path": None}
    if summary_path.is_file():
        try:
            row["summary"] = json.dumps(json.loads(summary_path.read_text()), indent=2, sort_keys=True)
        except ValueError:
            row["summary"] = f"{ds.processed_dir}/summary.json is not valid JSON"
        row["summary_path"] = f"{ds.processed_dir}/summary.json"
    return row


# -- views ------------------------------------------------------------------------------------

def views(params: dict, reg: Registry, root: Path, values: dict) -> list[ExperimentView]:
    """Every experiment of params.yaml (left-out ones too), in the chapter's order."""
    out = []
    for name, spec in params["experiments"].items():
        keys = list(values.get(name, {}).get("values", {}))
        if name in reg.experiments:
            out.append(experiment_view(reg.experiments[name], reg, root, params["scale"], keys))
        else:
            exp = Experiment(name, spec)
            out.append(ExperimentView(exp, group_of(exp.chapter), left_out_status(name, spec, params["scale"])))
    out.sort(key=lambda v: (section_key(v.exp.chapter), v.name))
    return out


def _settings_yaml(spec: dict) -> str:
    import yaml

    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=96, allow_unicode=True).strip()


def _seconds(s) -> str:
    if s is None:
        return ""
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(round(s), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _code(text: str):
    """`name` in a message -> <code>name</code> (the rest escaped)."""
    import re

    from markupsafe import Markup, escape

    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def jinja_env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["href"] = href
    env.filters["seconds"] = _seconds
    env.filters["code"] = _code
    env.globals["fmt"] = lambda v: "" if v is None else fmt(v)
    return env


def render_pages(params: dict, reg: Registry, root: Path = Path("."), raw_params: dict | None = None
                 ) -> dict[str, str]:
    """{repository-relative path: HTML} for the overview and every experiment page."""
    root = Path(root)
    values = chapter_values()
    exp_views = views(params, reg, root, values)
    blocks = fidelity(params, reg, root, values)
    by_exp = {b["experiment"]: b for b in blocks}
    groups = [g for g in [*GROUPS, OTHER] if any(v.group == g for v in exp_views)]
    counts: dict[str, int] = {}
    for v in exp_views:
        counts[v.status.label] = counts.get(v.status.label, 0) + 1
    env = jinja_env()
    common = {"scale": params["scale"], "groups": groups, "index": REPORT_HTML}
    unknown = [n for n in values if n not in params["experiments"]]
    pages = {REPORT_HTML: env.get_template("index.html").render(
        **common, up="../", experiments=exp_views, fidelity=blocks, counts=counts, unknown_values=unknown,
        page=lambda name: f"experiments/{name}.html", datasets=[dataset_row(d, root) for d in reg.datasets.values()],
        skipped_datasets=reg.skipped_datasets)}
    raw_experiments = (raw_params or {}).get("experiments", {})
    comparisons = {n: comparison_view(c, reg, root) for n, c in reg.comparisons.items()}
    for name, c in comparisons.items():
        pages[reg.comparisons[name].page] = env.get_template("comparison.html").render(
            **common, up="../../", c=c, command=run_command(name, params["scale"]))
    template = env.get_template("experiment.html")
    for i, v in enumerate(exp_views):
        entry = v.exp.variant_of or (v.name if v.name in comparisons else None)
        quick = raw_experiments.get(v.name, {}).get("quick") if params["scale"] == "quick" else None
        pages[page_path(v.name)] = template.render(
            **common, up="../../", v=v, fidelity=by_exp.get(v.name),
            settings=_settings_yaml(v.exp.spec), quick=_settings_yaml(quick) if quick else "",
            command=run_command(v.name, params["scale"]), comparison=comparisons.get(entry),
            prev=exp_views[i - 1] if i > 0 else None, next=exp_views[i + 1] if i + 1 < len(exp_views) else None,
            page=lambda name: f"{name}.html")
    return pages


def build_report(params: dict, reg: Registry, root: Path = Path("."), raw_params: dict | None = None) -> Path:
    """Write the overview and every experiment page; remove pages of experiments that are no
    longer in params.yaml. Returns the overview's path."""
    root = Path(root)
    pages = render_pages(params, reg, root, raw_params)
    for rel, html in pages.items():
        io.write_text(root / rel, html)
    for stale in [*(root / PAGES_DIR).glob("*.html"), *(root / "reports/comparisons").glob("*.html")]:
        if stale.relative_to(root).as_posix() not in pages:
            stale.unlink()
    return root / REPORT_HTML
