"""reports/index.html: one self-contained page listing every experiment with its metrics and
figures, and every dataset with what preparation produced.

Self-contained: figures are inlined as data: URIs and the CSS sits in the page, so the file
opens offline and can be mailed or zipped on its own. Links to checkpoints and metric files
are relative (reports/ -> ../models/...), never absolute.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from .. import io
from ..registry import REPORT_HTML, Registry

TEMPLATES = Path(__file__).with_name("templates")
CHAPTER_VALUES = Path(__file__).parents[1] / "chapter_values.yaml"


def chapter_values() -> dict:
    import yaml

    with open(CHAPTER_VALUES, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def fidelity_rows(reg: Registry, root: Path) -> list[dict]:
    """One row per (experiment, metric) the chapter printed: its value, ours, the difference."""
    rows = []
    for name, entry in chapter_values().items():
        if name not in reg.experiments:
            continue
        path = root / reg.experiments[name].metrics
        ours = json.loads(path.read_text()) if path.exists() else {}
        for metric, theirs in entry["values"].items():
            value = ours.get(metric)
            diff = value - theirs if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            rows.append({"experiment": name, "section": entry["section"], "metric": metric,
                         "chapter": _fmt(theirs), "ours": "not run" if value is None else _fmt(value),
                         "diff": "" if diff is None else f"{diff:+.4g}", "note": entry.get("note", "")})
    return rows


def _img(path: Path) -> dict:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = path.stem.replace("_", " ")
    return {"src": f"data:image/png;base64,{data}", "alt": alt, "name": path.name}


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def experiment_card(exp, root: Path) -> dict:
    metrics_path = root / exp.metrics
    card = {"name": exp.name, "title": exp.title, "chapter": exp.chapter, "family": exp.family,
            "dataset": exp.dataset or "-", "status": "missing", "metrics": [], "figures": [], "links": []}
    if not metrics_path.exists():
        card["reason"] = f"{exp.metrics} was not produced; run `dllaunchpad run {exp.metrics}`"
        return card
    metrics = json.loads(metrics_path.read_text())
    card["status"] = "done"
    card["device"] = metrics.get("device", "cpu")
    card["seconds"] = metrics.get("train_seconds", metrics.get("evaluate_seconds"))
    card["metrics"] = [(k, _fmt(v)) for k, v in sorted(metrics.items())]
    figdir = root / exp.figures_dir
    card["figures"] = [_img(p) for p in sorted(figdir.glob("*.png"))]
    card["links"] = [(exp.metrics, f"../{exp.metrics}")]
    card["links"] += [(f"{exp.figures_dir}/{p.name}", f"../{exp.figures_dir}/{p.name}")
                      for p in sorted(figdir.iterdir()) if p.suffix != ".png"]
    if exp.trains:
        card["links"] += [(exp.history, f"../{exp.history}"), (exp.checkpoint, f"../{exp.checkpoint}")]
    return card


def dataset_row(ds, root: Path) -> dict:
    summary_path = root / ds.processed_dir / "summary.json"
    row = {"name": ds.name, "description": ds.spec["description"], "files": [f["name"] for f in ds.spec["files"]]}
    row["summary"] = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return row


def render(params: dict, reg: Registry, root: Path = Path(".")) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("index.html").render(
        scale=params["scale"],
        experiments=[experiment_card(e, root) for e in reg.experiments.values()],
        fidelity=fidelity_rows(reg, root),
        datasets=[dataset_row(d, root) for d in reg.datasets.values()],
        skipped_datasets=reg.skipped_datasets,
        skipped_experiments=reg.skipped_experiments,
        summary_json=lambda s: json.dumps(s, sort_keys=True),
    )


def build_report(params: dict, reg: Registry, root: Path = Path(".")) -> Path:
    return io.write_text(root / REPORT_HTML, render(params, reg, root))
