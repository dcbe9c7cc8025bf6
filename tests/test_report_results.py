"""Results a reader can trust: every registry entry names its headline metric (params.yaml
`headline:`), and the report uses it; value cells wrap; each page opens with the figure that
shows the result, puts `<variant>_<metric>` keys in a variants x metrics table, hides an empty
chapter table and folds the full key list."""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO
from dllaunchpad.pipeline.config import load_params, read_params
from dllaunchpad.pipeline.registry import Registry
from dllaunchpad.report.build import build_report
from dllaunchpad.report.collect import headline

SRC = REPO / "src" / "dllaunchpad"


# -- 1. the headline the registry names ----------------------------------------------------------

def _family_key_templates(family: str) -> tuple[set[str], list[re.Pattern]]:
    """The metrics keys a family's code can write: string constants and keyword names (exact),
    and f-strings as patterns (each {...} part one or more key characters), from its module and
    the dllaunchpad.experiments helpers it imports (e.g. _classification)."""
    files = [SRC / "experiments" / f"{family}.py"]
    tree = ast.parse(files[0].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "dllaunchpad.experiments":
            files += [SRC / "experiments" / f"{a.name}.py" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dllaunchpad.experiments."):
            files.append(SRC / "experiments" / f"{node.module.rsplit('.', 1)[1]}.py")
    exact, patterns = set(), []
    for path in files:
        if not path.is_file():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                exact.add(node.value)
            elif isinstance(node, ast.keyword) and node.arg:
                exact.add(node.arg)
            elif isinstance(node, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[A-Za-z0-9_.]+" for v in node.values]
                literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                if len(re.sub(r"[^A-Za-z]", "", literal)) >= 4:  # "{a}_{b}" would match anything
                    patterns.append(re.compile("".join(parts)))
    return exact, patterns


def _written(key: str, entry: dict) -> bool:
    """A constant, an f-string's pattern, or <model variant>_<constant> (families that write
    f"{variant}_{k}" for k in a tuple of names, e.g. the GAN's)."""
    exact, patterns = _family_key_templates(entry["family"])
    variants = (entry.get("model") or {}).get("variants") or {}
    return (key in exact or any(p.fullmatch(key) for p in patterns)
            or any(key == f"{v}_{c}" for v in variants for c in exact))


def _quick_metrics(name: str) -> dict | None:
    path = REPO / "reports" / "metrics" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def test_every_committed_entry_names_a_headline_its_family_writes():
    raw = read_params(REPO / "params.yaml")
    missing = [n for n, e in raw["experiments"].items() if not e.get("headline")]
    assert not missing, f"entries without `headline:` in params.yaml: {missing}"
    for name, entry in raw["experiments"].items():
        key, metrics = entry["headline"], _quick_metrics(name)
        if metrics is not None:  # a run in this checkout: the key is in its metrics
            assert key in metrics, f"{name}: headline {key!r} is not in reports/metrics/{name}.json"
            continue
        assert _written(key, entry), f"{name}: headline {key!r} is no metrics key that family {entry['family']} writes"


def test_the_family_key_check_can_fail():
    gan = read_params(REPO / "params.yaml")["experiments"]["gan"]
    assert _written("non_saturating_classes_covered", gan) and _written("minimax_diversity", gan)
    assert not _written("non_saturating_classes_covred", gan) and not _written("wgan_classes_covered", gan)
    clf = {"family": "mlp_classifier"}  # test_accuracy is written by _classification, which it imports
    assert _written("test_accuracy", clf) and not _written("test_accurcy", clf)
    assert _written("tucker_rank16_relative_error", {"family": "tensor_decompositions"})  # an f-string
    assert not _written("tucker_rank16_relative_eror", {"family": "tensor_decompositions"})


def test_the_registry_headline_comes_first():
    m = {"test_accuracy": 0.9, "final_train_accuracy": 0.5, "slope": 2.5, "headline": "slope"}
    assert headline(m, ["final_train_accuracy"], "test_accuracy") == ("test_accuracy", "0.9")
    assert headline(m, ["final_train_accuracy"], None) == ("slope", "2.5")          # then the family's
    assert headline(m, ["final_train_accuracy"], "not_written") == ("slope", "2.5")  # a key not there: next rule


class _Page(HTMLParser):
    """Every <td>/<th> with its classes and the id of the section and table around it; figures in order."""

    def __init__(self):
        super().__init__()
        self.cells, self.figures, self.stack, self.tables, self.details = [], [], [], [], 0
        self.in_details_tables = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.stack.append(a.get("id"))
        elif tag == "details":
            self.details += 1
        elif tag == "table":
            self.tables.append((self.stack[-1] if self.stack else None, a.get("class", ""), a.get("aria-label", ""),
                                self.details > 0))
        elif tag in ("td",) and self.tables:
            self.cells.append((self.tables[-1], a.get("class", "")))
        elif tag == "figure":
            self.figures.append((self.stack[-1] if self.stack else None, a.get("id", "")))

    def handle_endtag(self, tag):
        if tag == "section" and self.stack:
            self.stack.pop()
        elif tag == "details":
            self.details -= 1


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _png(path: Path, shade: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (320, 240), (shade, shade, shade)).save(path)


GAN_METRICS = {  # the shape of the quick run's reports/metrics/gan.json (values rounded)
    "chapter_section": "31.7.1", "epochs_run": 2, "judge_test_accuracy": 0.85,
    **{f"{v}_{k}": val for v, row in {
        "non_saturating": (0.07, 2, 0.21, 1.02, 0.97), "minimax": (0.0, 1, 0.22, 1.01, 1.0),
        "minibatch_discrimination": (0.0, 1, 0.35, 1.01, 1.0), "feature_matching": (0.38, 3, 0.17, 1.03, 0.65),
        "both_stabilisers": (0.0, 1, 0.29, 1.0, 1.0)}.items()
       for k, val in zip(("class_entropy", "classes_covered", "diversity", "judge_score", "max_class_share"), row)}}


@pytest.fixture
def report(raw_params, tmp_path):
    """A quick-scale report where gan, xor and midi_lstm have metrics and figures (nothing trained)."""
    raw_params.update(scale="quick", skip_datasets=["rps"])
    params = load_params(raw_params)
    reg = Registry.from_params(params)
    root = tmp_path
    metrics = root / "reports/metrics"
    metrics.mkdir(parents=True)
    (metrics / "gan.json").write_text(json.dumps(GAN_METRICS))
    for i, name in enumerate(["class_histogram", "losses", "coverage_by_epoch", "samples_by_epoch_minimax",
                              *(f"samples_{v}" for v in ("non_saturating", "minimax", "minibatch_discrimination",
                                                           "feature_matching", "both_stabilisers"))]):
        _png(root / f"reports/figures/gan/{name}.png", 20 * i)
    # xor: the chapter's first printed value is final_loss, the registry names binary_accuracy
    (metrics / "xor.json").write_text(json.dumps({"binary_accuracy": 1.0, "final_loss": 0.02, "prediction_00": 0.15,
                                                  "prediction_01": 0.91, "prediction_10": 0.84, "prediction_11": 0.16}))
    _png(root / "reports/figures/xor/loss.png", 10)
    _png(root / "reports/figures/xor/decision_surface.png", 200)
    long_note = ("no audio file was written: rendering MIDI to audio needs fluidsynth, a General MIDI soundfont "
                 "and sox (Debian: apt-get install fluidsynth fluid-soundfont-gm sox libsox-fmt-all); " * 3)
    (metrics / "midi_lstm.json").write_text(json.dumps({"audio_note": long_note, "audio_rendered": False,
                                                        "train_loss": 3.9, "val_loss": 3.84, "parameters": 84866}))
    build_report(params, reg, root, raw_params=raw_params)
    return root


def test_cards_and_pages_headline_the_registry_key(report):
    index = (report / "reports/index.html").read_text()
    card = re.search(r'<article class="card" id="xor".*?</article>', index, re.S).group(0)
    assert "binary_accuracy = <strong>1</strong>" in card and "final_loss" not in card
    page = (report / "reports/experiments/xor.html").read_text()
    assert re.search(r'class="lead-headline"><code>binary_accuracy</code> = <strong>1</strong>', page)


# -- 2. long values wrap -----------------------------------------------------------------------

def test_metric_value_cells_wrap(report):
    css = (SRC / "report/templates/base.html").read_text()
    rule = re.search(r"td\.val\s*\{([^}]*)\}", css)
    assert rule and "overflow-wrap: break-word" in rule.group(1) and "max-width" in rule.group(1)
    assert "white-space: normal" in rule.group(1)  # after td.num's nowrap: the later rule wins
    assert css.index("td.val") > css.index("td.num")
    long_rule = re.search(r"td\.val\.long\s*\{([^}]*)\}", css)
    assert long_rule and "overflow-wrap: anywhere" in long_rule.group(1)
    for name in ("midi_lstm", "gan", "xor"):
        page = _parse(report / f"reports/experiments/{name}.html")
        value_cells = [(t, cls) for t, cls in page.cells if "metrics" in t[1] or "variants" in t[1]]
        assert value_cells, name
        # every value cell of a metrics or variants table carries the wrapping class
        assert all("val" in cls.split() for t, cls in value_cells if cls), name
        assert all(cls for t, cls in value_cells), f"{name}: a metrics cell without a class"
    midi = (report / "reports/experiments/midi_lstm.html").read_text()
    assert re.search(r'<td class="num val long">no audio file was written', midi)  # long text: left-aligned


# -- 3. pages lead with the result -------------------------------------------------------------

def test_variant_tables_find_the_variants_inside_an_experiment():
    from dllaunchpad.report.collect import variant_tables

    (gan,) = variant_tables(GAN_METRICS)
    assert gan.pattern == "<variant>_<metric>"
    assert gan.variants == ["both_stabilisers", "feature_matching", "minibatch_discrimination", "minimax",
                            "non_saturating"]
    assert gan.metrics == ["class_entropy", "classes_covered", "diversity", "judge_score", "max_class_share"]
    assert gan.cells[gan.variants.index("feature_matching")][gan.metrics.index("classes_covered")] == "3"
    assert "judge_test_accuracy" not in gan.covered

    # <metric>_<variant>: the schemes are the rows, the metric names the columns
    init = {f"{m}_{a}_{s}": 1.0 for m in ("first_epoch_loss", "variance_factor_per_layer", "diverged")
            for a in ("relu", "tanh") for s in ("he_normal", "glorot_uniform", "constant_0_05")}
    (t,) = variant_tables(init)
    assert t.pattern == "<metric>_<variant>" and len(t.variants) == 6
    assert t.metrics == ["diverged", "first_epoch_loss", "variance_factor_per_layer"]

    # a variant with a metric more (early stopping's best epoch) stays a row; the extra key does not
    reg = {f"{v}_{m}": 0.5 for v in ("none", "l1", "l2", "dropout") for m in ("test_accuracy", "val_loss", "sparsity")}
    reg["dropout_best_epoch"] = 4
    (t,) = variant_tables(reg)
    assert t.variants == ["dropout", "l1", "l2", "none"] and "dropout_best_epoch" not in t.covered

    # a baseline with fewer metrics joins the rows, its missing cells empty; ranks sort as numbers
    comp = {f"{v}_{m}": 1 for v in ("cp_rank10", "cp_rank2", "tucker_rank2") for m in ("params", "accuracy", "speed")}
    comp.update(baseline_params=9, baseline_accuracy=0.9)
    (t,) = variant_tables(comp)
    assert t.variants == ["baseline", "cp_rank2", "cp_rank10", "tucker_rank2"]
    assert t.cells[0][t.metrics.index("speed")] == ""

    assert variant_tables({"test_mae": 1.0, "test_mse": 2.0, "slope": 3.0}) == []  # one prefix: no table
    # a family can name its variants
    (t,) = variant_tables({"a_x": 1, "b_x": 2, "a_y": 3}, declared="a, b")
    assert t.variants == ["a", "b"] and t.cells == [["1", "3"], ["2", ""]]


def test_pages_lead_with_the_result_figure_and_fold_the_key_list(report):
    path = report / "reports/experiments/gan.html"
    html = path.read_text()
    page = _parse(path)
    # the first figures on the page are the sample grids, one per variant, in the Result section
    lead = [fid for section, fid in page.figures if section == "results"]
    assert lead == [f"lead-samples_{v}.png" for v in ("both_stabilisers", "feature_matching",
                                                       "minibatch_discrimination", "minimax", "non_saturating")]
    assert page.figures[0][0] == "results"
    assert html.index('id="results"') < html.index('id="figures"')
    # the variants x metrics table, with the headline cell marked
    variants = [t for t in page.tables if "variants" in t[1]]
    assert len(variants) == 1 and variants[0][0] == "results"
    assert "5 variants &times; 5 metrics" in html
    assert re.search(r'<td class="num val" title="non_saturating_classes_covered"><strong>2</strong></td>', html)
    # the rows of the variants table are not repeated as metrics rows outside the folded list
    result = html[html.index('id="results"'):html.index('id="all-metrics"')]
    assert "<code>minimax_diversity</code>" not in result and "<code>judge_test_accuracy</code>" in result
    # the chapter printed nothing for the GAN: no empty table, the note instead
    assert not [t for t in page.tables if t[2].startswith("chapter values")]
    assert 'class="chapter-note"' in html
    # every key, folded
    folded = [t for t in page.tables if t[3]]
    assert any(t[2] == "every metric of gan" for t in folded)
    details = html[html.index("<details>", html.index('id="all-metrics"')):]
    assert all(f"<code>{k}</code>" in details for k in GAN_METRICS if k not in ("chapter_section", "epochs_run"))
    # the figures section does not repeat the lead figures
    figures = [fid for section, fid in page.figures if section == "figures"]
    assert "fig-class_histogram.png" in figures and not [f for f in figures if f.startswith("fig-samples_non")]


def test_xor_page_leads_with_its_decision_surface_not_its_loss(report):
    page = _parse(report / "reports/experiments/xor.html")
    assert [fid for section, fid in page.figures if section == "results"] == ["lead-decision_surface.png"]
    xor = (report / "reports/experiments/xor.html").read_text()
    assert "<table" in xor[xor.index('id="chapter"'):]   # xor has chapter values: its table stays
