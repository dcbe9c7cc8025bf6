"""The HTML report without a browser: pages parse, are self-contained, cover every experiment,
pick headlines and groups by the documented rules, and say why an experiment did not run.
Also: figures carry alt text, the DVC plots template is offline, the CLI resolves experiment
names, and `snakemake --report` builds with a caption per figure (tests/test_report_browser.py
opens the pages in Chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO
from dllaunchpad.pipeline.config import load_params
from dllaunchpad.runners.evaluate import evaluate
from dllaunchpad.pipeline.registry import Registry
from dllaunchpad.report.build import build_report, chapter_values, fidelity_rows


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.imgs, self.ids, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for key in ("src", "href"):
            if key in a:
                self.refs.append(a[key])
        if tag == "img":
            self.imgs.append(a)
        if "id" in a:
            self.ids.append(a["id"])


def _parse(path: Path) -> _Collect:
    page = _Collect()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture
def one_done(raw_params, tmp_path):
    """params (quick, RPS left out) and a root where only tensor_products has run."""
    raw_params.update(scale="quick", skip_datasets=["rps"])
    params = load_params(raw_params)
    reg = Registry.from_params(params)
    evaluate(reg.experiment("tensor_products").at(tmp_path))
    return raw_params, params, reg, tmp_path


def test_every_page_is_self_contained(one_done):
    raw, params, reg, root = one_done
    index = build_report(params, reg, root, raw_params=raw)
    pages = sorted((root / "reports").rglob("*.html"))
    assert {p.relative_to(root).as_posix() for p in pages} == set(reg.stage("report").paths())
    assert len(pages) == 1 + len(params["experiments"]) + len(reg.comparisons)  # left-out ones too; comparisons
    for path in pages:
        page = _parse(path)
        assert not [r for r in page.refs if re.match(r"(https?:)?//", r)], f"{path}: remote reference"
        assert not {"script", "link", "iframe"} & set(page.tags), f"{path}: needs an external resource"
        for img in page.imgs:
            assert img["src"].startswith("data:image/png;base64,") and img.get("alt", "").strip(), path
    overview = _parse(index)
    assert set(params["experiments"]) <= set(overview.ids)  # one card per experiment
    assert {f"experiments/{n}.html" for n in params["experiments"]} <= set(overview.refs)


def test_pages_say_why_an_experiment_did_not_run(one_done):
    raw, params, reg, root = one_done
    build_report(params, reg, root, raw_params=raw)
    xor = (root / "reports/experiments/xor.html").read_text()
    assert "<code>reports/metrics/xor.json</code> was not produced" in xor
    assert "dllaunchpad --scale quick run xor" in xor
    rps = (root / "reports/experiments/rps_cnn_1.html").read_text()
    assert "Left out." in rps and "skip_datasets" in rps
    done = (root / "reports/experiments/tensor_products.html").read_text()
    assert "products_matching_chapter" in done and "Settings used" in done
    assert 'href="../../reports/metrics/tensor_products.json"' in done  # relative link to the metrics


def test_pages_link_each_stage_benchmark_and_log(one_done):
    """The paths come from the stage table, the same one the Snakemake rules write to."""
    raw, params, reg, root = one_done
    stage = reg.stage("evaluate_tensor_products")
    assert stage.benchmark == "logs/benchmarks/quick/evaluate/tensor_products.tsv"
    for rel in (stage.benchmark, stage.log):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("s\th:m:s\n0.5\t0:00:00\n")
    build_report(params, reg, root, raw_params=raw)
    page = (root / "reports/experiments/tensor_products.html").read_text()
    assert 'href="../../logs/benchmarks/quick/evaluate/tensor_products.tsv"' in page
    assert 'href="../../logs/evaluate/tensor_products.log"' in page


def test_failed_stage_shows_its_log(one_done):
    raw, params, reg, root = one_done
    log = root / "logs/train/xor.log"
    log.parent.mkdir(parents=True)
    log.write_text("epoch 1\nTraceback (most recent call last):\nRuntimeError: CUDA out of memory\n")
    build_report(params, reg, root, raw_params=raw)
    page = (root / "reports/experiments/xor.html").read_text()
    assert "the train stage failed" in page and "CUDA out of memory" in page
    assert 'href="../../logs/train/xor.log"' in page
    card = re.search(r'<article class="card" id="xor".*?</article>', (root / "reports/index.html").read_text(), re.S)
    assert 'data-status="failed"' in card.group(0)


@pytest.mark.parametrize("broken", ['{"products": 11, "products_matching', "[11, 10]"])
def test_metrics_that_do_not_parse_show_as_failed_with_the_parse_error(one_done, broken):
    """A truncated (or non-object) metrics file is not "done": the card and the page say failed,
    with the parse error and the command that redoes it; the other pages still build."""
    raw, params, reg, root = one_done
    (root / "reports/metrics/tensor_products.json").write_text(broken)
    build_report(params, reg, root, raw_params=raw)
    error = "Unterminated string" if broken.startswith("{") else "not an object of metrics"
    page = (root / "reports/experiments/tensor_products.html").read_text()
    assert '<span class="status status-failed">failed</span>' in page
    assert "is not valid JSON" in page and error in page and "dllaunchpad --scale quick run tensor_products" in page
    index = (root / "reports/index.html").read_text()
    card = re.search(r'<article class="card" id="tensor_products".*?</article>', index, re.S).group(0)
    assert 'data-status="failed"' in card and '<span class="status status-failed">failed</span>' in card
    assert "metrics do not parse" in card and error in card


def test_fidelity_table_pairs_chapter_values_with_ours(one_done):
    _, params, reg, root = one_done
    assert set(chapter_values()) <= set(params["experiments"]), "chapter_values.yaml names an unknown experiment"
    rows = {(r["experiment"], r["metric"]): r for r in fidelity_rows(reg, root, params)}
    row = rows[("tensor_products", "products_matching_chapter")]
    assert (row["chapter"], row["ours"], row["diff"], row["rel"]) == ("11", "10", "-1", "-9.1 %")
    assert rows[("xor", "final_loss")]["ours"] == "not run"


def test_chapter_values_errors_name_the_entry(tmp_path):
    bad = tmp_path / "chapter_values.yaml"
    bad.write_text("xor:\n  section: '31.8.1'\n  value: {final_loss: 0.03}\n")
    with pytest.raises(ValueError, match=r"chapter_values.yaml: entry 'xor' needs `section:` and a `values:`"):
        chapter_values(bad)


def test_headline_rules():
    from dllaunchpad.report.collect import headline

    m = {"test_accuracy": 0.9, "test_loss": 0.3, "slope": 2.5, "train_seconds": 3.0, "device": "cpu"}
    assert headline({**m, "headline": "test_loss"}, ["slope"]) == ("test_loss", "0.3")  # the family's choice
    assert headline(m, ["slope"]) == ("slope", "2.5")                                   # the chapter's first value
    assert headline(m, ["not_a_metric"]) == ("test_accuracy", "0.9")                    # the priority list
    assert headline({"b_test_mae": 1.5, "a_loss": 2.0}, []) == ("b_test_mae", "1.5")     # contains a priority key
    assert headline({"zeta": 1.5, "alpha": 2, "device": "cpu"}, []) == ("alpha", "2")    # first numeric
    assert headline({"train_seconds": 1.0}, []) is None


def test_groups_follow_the_chapter_sections():
    from dllaunchpad.pipeline.sections import group_of, section_key

    assert group_of("31.1.3").title == "Tensors"
    assert group_of("31.4").title.startswith("Optimizers")
    assert group_of("31.6.7").title == "Recurrent networks and music"
    assert group_of("31.7.2").title.startswith("GAN")
    assert group_of("31.8.4").title == "Additional examples"
    assert group_of("31.10").key == "other"  # not a prefix match of 31.1
    assert sorted(["31.2.10", "31.2.9", "31.10"], key=section_key) == ["31.2.9", "31.2.10", "31.10"]


def test_figures_carry_alt_text_and_thumbnails_are_small(tmp_path):
    from PIL import Image

    from dllaunchpad.analysis.figures import alt_text, learning_curves, pyplot, save, thumbnail

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3.0, 2.0, 1.5], label="train")
    ax.set(xlabel="epoch", ylabel="loss (MSE)", title="Loss per epoch")
    ax.legend()
    path = save(fig, tmp_path / "loss.png")
    assert alt_text(path) == "Loss per epoch: line plot of loss (MSE) against epoch; series: train"
    assert save(plt.subplots()[0], tmp_path / "given.png", alt="my words") and alt_text(tmp_path / "given.png") == "my words"
    small = thumbnail(path, width=200)
    (tmp_path / "small.png").write_bytes(small)
    with Image.open(tmp_path / "small.png") as img:
        assert img.width == 200 and len(small) < path.stat().st_size

    drawn = learning_curves({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.2, 0.7],
                             "train_accuracy": [0.5, 0.8]}, "demo")
    png, alt = drawn
    assert png.startswith(b"\x89PNG") and "loss" in alt and "accuracy" in alt and "validation" in alt
    assert learning_curves({"epoch": []}, "empty") is None


def test_history_panels_pair_training_and_validation():
    from dllaunchpad.analysis.figures import history_panels

    panels = history_panels({"epoch": [1], "train_loss": [1], "val_loss": [1], "val_pitch_accuracy": [0.1],
                             "lr": [0.1]})
    assert panels == {"loss": {"train": "train_loss", "val": "val_loss"},
                      "pitch_accuracy": {"val": "val_pitch_accuracy"}, "lr": {"value": "lr"}}


def test_dvc_plots_template_is_offline_and_configured():
    config = (REPO / ".dvc/config").read_text()
    assert "html_template = ../workflow/report/vega/dvc_plots.html" in config
    template = REPO / "workflow/report/vega/dvc_plots.html"
    text = template.read_text(encoding="utf-8")
    assert template.stat().st_size < 2_000_000
    assert "{plot_divs}" in text and "{scripts}" not in text  # no {scripts}: DVC adds no CDN tags
    assert not re.search(r"<script[^>]+src=", text) and "cdn.jsdelivr" not in text
    for lib in ("vega 5.", "vega-lite 5.", "vega-embed 6."):
        assert f"<script>/* {lib}" in text
    assert "BSD" in (REPO / "workflow/report/vega/NOTICE").read_text()


def test_report_stage_lists_every_page(raw_params):
    import yaml

    from dllaunchpad.pipeline.dvc_yaml import render

    stage = yaml.safe_load(render(raw_params))["stages"]["report"]
    reg = Registry.from_params(load_params(raw_params))
    assert [o if isinstance(o, str) else next(iter(o)) for o in stage["outs"]] == reg.stage("report").paths()
    assert "src/dllaunchpad/report/templates/experiment.html" in reg.stage("report").code
    assert stage["deps"][-1] == "data/code/report.txt"  # DVC: the manifest of that code


def test_run_resolves_experiment_names(raw_params):
    from dllaunchpad.cli import _experiment_targets

    raw_params["skip_datasets"] = ["rps"]
    params = load_params(raw_params)
    reg = Registry.from_params(params)
    targets, names = _experiment_targets(["xor", "reports/metrics/iris_mlp.json", "-n"], reg, params, [])
    assert targets == ["reports/figures/xor", "reports/metrics/xor.json", "reports/metrics/iris_mlp.json", "-n"]
    assert names == ["xor"]
    with pytest.raises(KeyError, match="needs dataset 'rps'"):
        _experiment_targets(["rps_cnn_1"], reg, params, [])
    with pytest.raises(KeyError, match="needs dataset 'mnist'"):
        _experiment_targets(["mnist_mlp"], reg, params, ["mnist"])


def _workflow_copy(dst: Path) -> None:
    """What Snakemake needs to run here: Snakefile, workflow/, params.yaml (quick, no RPS) and
    the code files the rules list as inputs."""
    shutil.copy(REPO / "Snakefile", dst / "Snakefile")
    shutil.copytree(REPO / "workflow", dst / "workflow")
    shutil.copytree(REPO / "src", dst / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    params = (REPO / "params.yaml").read_text()
    params = re.sub(r"(?m)^scale: full$", "scale: quick", params)
    params = re.sub(r"(?m)^skip_datasets: \[\]$", "skip_datasets: [rps]", params)
    (dst / "params.yaml").write_text(params)


def test_run_experiment_then_snakemake_report(tmp_path):
    """`dllaunchpad run xor tensor_products` runs their chain through Snakemake and rewrites the
    pages; `snakemake --report` then builds with a caption for every figure."""
    _workflow_copy(tmp_path)
    env = {**os.environ, "CI": "1"}
    env.pop("LAUNCHPAD_MIRROR", None)
    run = subprocess.run(["dllaunchpad", "--scale", "quick", "run", "--cores", "2", "xor", "tensor_products"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "reports/experiments/xor.html" in run.stdout
    assert json.loads((tmp_path / "reports/metrics/xor.json").read_text())["binary_accuracy"] == 1.0
    xor_page = (tmp_path / "reports/experiments/xor.html").read_text()
    assert '<span class="status status-done">done</span>' in xor_page
    # The learning curves: drawn by evaluate beside the figures (not in the report job), shown
    # once, in their own section, with the alt text the PNG carries.
    from base64 import b64encode

    from dllaunchpad.analysis.figures import alt_text

    history_png = tmp_path / "reports/figures/xor/history.png"
    assert history_png.read_bytes().startswith(b"\x89PNG\r\n")
    assert 'id="history"' in xor_page and xor_page.count(b64encode(history_png.read_bytes()).decode()) == 1
    assert "per-epoch history" in alt_text(history_png) and "loss" in alt_text(history_png)
    # The provenance cards: the model card beside the checkpoint, the result's card (holding it)
    # beside the figures, and the page's Provenance section drawn from them.
    from dllaunchpad.pipeline.provenance import dvc_md5

    model_card = json.loads((tmp_path / "models/xor/card.json").read_text())
    result_card = json.loads((tmp_path / "reports/figures/xor/card.json").read_text())
    assert (model_card["step"], model_card["threads"], model_card["scale"]) == ("train", 1, "quick")
    assert model_card["rebuild"] == {"snakemake": "dllaunchpad --scale quick run xor", "dvc": "dvc repro train_xor",
                                     "command": "dllaunchpad --threads 1 train xor"}
    assert model_card["packages"]["torch"] and model_card["peak_memory_mb"] > 50
    assert model_card["git"]["commit"] is None  # this folder is no git checkout
    assert result_card["train"] == model_card and result_card["step"] == "evaluate"
    inputs = {i["path"]: i["md5"] for i in result_card["inputs"]}
    assert inputs["models/xor"] == dvc_md5(tmp_path / "models/xor", tmp_path)[0]
    assert inputs["reports/history/xor.csv"] == dvc_md5(tmp_path / "reports/history/xor.csv", tmp_path)[0]
    assert 'id="provenance"' in xor_page and "dvc repro evaluate_xor" in xor_page
    assert f"md5 <code>{inputs['models/xor']}</code>" in xor_page
    assert (tmp_path / "reports/experiments/iris_mlp.html").is_file()  # not run, but it has a page

    report = subprocess.run(["snakemake", "--report", "report.html", "reports/metrics/xor.json",
                             "reports/metrics/tensor_products.json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text(errors="replace")
    figures = sorted(p.stem for name in ("xor", "tensor_products")
                     for p in (tmp_path / "reports/figures" / name).glob("*.png"))
    assert figures
    for stem in figures:
        assert stem in html, stem
    # the caption template rendered, once per figure (its text names the figure and the page)
    assert html.count("drawn by the evaluate stage") >= len(figures)
