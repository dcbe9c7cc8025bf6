"""The quick-mode report in a real browser: headless Chromium, network blocked, every page.

A module fixture runs a few cheap experiments for real into a temporary root (the compute-only
tensor products, linear regression, XOR, iris, and a cut-down run of the music LSTM so that an
audio player exists; the music helper's full quick settings take minutes), leaves RPS out as
an offline run does, and builds the report. The test then opens reports/index.html in
Chromium over file://, follows every internal link and asserts: no console error, no request
leaves the machine, every <img> loaded, every internal link resolves (files and #anchors), the
audio elements have a playable, loaded source, and the fidelity table has a row per
experiment of chapter_values.yaml that ran. It saves screenshots under reports/screenshots/
(a CI artifact).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import pytest

from conftest import MIRROR, REPO, in_ci, require
from headless_chromium import Chromium, find_chromium

# Headless Chromium is a real component: without it these tests skip on a developer's machine,
# and fail under CI=true (tests/conftest.py), where .ci/run installs it.
pytestmark = pytest.mark.real_component

SCREENSHOTS = REPO / "reports" / "screenshots"
CHEAP = ["tensor_products", "linear_regression", "xor", "iris_mlp", "midi_lstm"]
# Settings that keep the fixture to seconds; the report, not the model, is under test here.
CUT_DOWN = {
    "iris_mlp": {"trainer": {"epochs": 40}},
    "midi_lstm": {"trainer": {"epochs": 1, "limit_train_batches": 4}, "model": {"hidden": 32},
                  "generate": {"notes": 48, "temperatures": [1.0]}},
}


def _run(name: str, params: dict, reg, root: Path) -> None:
    from dllaunchpad.datasets import prepare
    from dllaunchpad.runners.evaluate import evaluate
    from dllaunchpad.datasets.fetch import main_fetch
    from dllaunchpad.runners.train import train

    exp = reg.experiment(name)
    if exp.dataset and not (root / reg.datasets[exp.dataset].processed_dir).is_dir():
        ds = reg.datasets[exp.dataset]
        main_fetch(ds.name, params, root, progress=False)
        prepare(ds.name, root / ds.raw_dir, root / ds.processed_dir, ds.spec["preprocess"])
    if exp.trains:
        train(exp.at(root), progress=False)
    if exp.generates:
        from dllaunchpad.runners.generate import generate

        generate(exp.at(root))
    evaluate(exp.at(root))


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    from dllaunchpad.pipeline.config import deep_merge, load_params, read_params
    from dllaunchpad.pipeline.registry import Registry
    from dllaunchpad.report.build import build_report

    chromium = require(find_chromium(), "no Chromium (Debian: apt-get install chromium): the browser test needs it")
    root = tmp_path_factory.mktemp("report") / "launchpad"
    root.mkdir()
    raw = read_params(REPO / "params.yaml")
    raw.update(scale="quick", skip_datasets=["rps"], mirror=str(MIRROR))
    for name, override in CUT_DOWN.items():
        if name in raw["experiments"]:
            # Into the entry itself (a quick: block may not hold every key, e.g. generate:) and
            # over what its quick: block sets.
            entry = deep_merge(raw["experiments"][name], override)
            quick = entry.get("quick") or {}
            entry["quick"] = deep_merge(quick, {k: v for k, v in override.items() if k in quick})
            raw["experiments"][name] = entry
    params = load_params(raw)
    reg = Registry.from_params(params)
    from dllaunchpad.datasets.fetch import datasets_missing_from_mirror

    offline = set(datasets_missing_from_mirror(reg.datasets, str(MIRROR)))
    ran = []
    for name in CHEAP:
        if name not in reg.experiments or reg.experiments[name].dataset in offline:
            continue  # not landed, or no offline copy of its data: the report says "not run"
        _run(name, params, reg, root)
        ran.append(name)
    build_report(params, reg, root, raw_params=raw)
    return {"root": root, "params": params, "reg": reg, "ran": ran, "chromium": chromium}


def _file_of(url: str) -> Path:
    return Path(url2pathname(unquote(urlparse(url).path)))


def _ids(html_file: Path) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html_file.read_text(encoding="utf-8")))


PAGE_FACTS = """(() => ({
  images: [...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
                                          src: i.currentSrc.slice(0, 60)})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  sources: [...document.querySelectorAll('[src]')].map(e => e.src),
  audio: document.querySelectorAll('audio').length,
  scripts: document.scripts.length,
}))()"""

AUDIO_FACTS = """Promise.all([...document.querySelectorAll('audio')].map(a => new Promise(resolve => {
  const s = a.querySelector('source');
  const report = () => resolve({src: a.currentSrc, type: s ? s.type : '', can: s ? a.canPlayType(s.type) : '',
                                ready: a.readyState, network: a.networkState, error: a.error ? a.error.code : null,
                                duration: a.duration});
  if (a.readyState >= 1) return report();
  a.addEventListener('loadedmetadata', report, {once: true});
  a.addEventListener('error', report, {once: true});
  if (s) s.addEventListener('error', report, {once: true});
  setTimeout(report, 15000);
  a.load();
})))"""

FIDELITY_ROWS = """[...document.querySelectorAll('#fidelity tbody tr[data-experiment]')].map(
  tr => ({name: tr.dataset.experiment, ran: tr.dataset.ran, cells: [...tr.querySelectorAll('td.num')].map(td => td.textContent.trim())}))"""


def test_report_in_headless_chromium(quick_report, tmp_path):
    from dllaunchpad.report.build import chapter_values

    root, reg, params = quick_report["root"], quick_report["reg"], quick_report["params"]
    reports = root / "reports"
    index = reports / "index.html"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    visited: dict[Path, dict] = {}
    audio_checked = 0

    with Chromium(quick_report["chromium"], str(tmp_path / "profile")) as browser:
        page = browser.new_page()
        queue = [index.resolve()]
        while queue:
            path = queue.pop(0)
            if path in visited:
                continue
            page.errors.clear()
            page.goto(path.as_uri())
            facts = page.eval(PAGE_FACTS)
            visited[path] = facts
            rel = path.relative_to(root.resolve())
            problems += [f"{rel}: console: {e}" for e in page.errors]
            problems += [f"{rel}: image did not load: {i['alt'] or i['src']}" for i in facts["images"] if not i["ok"]]
            problems += [f"{rel}: image without alt text: {i['src']}" for i in facts["images"] if not i["alt"].strip()]
            if facts["scripts"]:
                problems.append(f"{rel}: has {facts['scripts']} script(s); the report must need none")
            for url in facts["links"] + facts["sources"]:
                scheme = urlparse(url).scheme
                if scheme == "data":
                    continue
                if scheme != "file":
                    problems.append(f"{rel}: link leaves the machine: {url}")
                    continue
                target = _file_of(url)
                if not target.exists():
                    problems.append(f"{rel}: broken link: {url}")
                    continue
                fragment = urlparse(url).fragment
                if fragment and target.suffix == ".html" and fragment not in _ids(target):
                    problems.append(f"{rel}: link to a missing anchor: {url}")
                if target.suffix == ".html" and reports.resolve() in target.parents:
                    queue.append(target)
            if facts["audio"]:
                for a in page.eval(AUDIO_FACTS, timeout=60):
                    audio_checked += 1
                    if a["can"] not in ("maybe", "probably") or a["ready"] < 1 or a["error"] is not None \
                            or not (a["duration"] or 0) > 0:
                        problems.append(f"{rel}: audio not playable: {a}")
            if path == index.resolve():
                (SCREENSHOTS / "index.png").write_bytes(page.screenshot())
                fidelity = page.eval(FIDELITY_ROWS)
        if "midi_lstm" in quick_report["ran"]:
            page.goto((reports / "experiments" / "midi_lstm.html").resolve().as_uri())
            (SCREENSHOTS / "midi_lstm.png").write_bytes(page.screenshot())
        blocked = [u for p in browser.pages.values() for u in p.blocked]

    assert not blocked, f"requests to the network: {blocked}"
    assert not problems, "\n".join(problems)

    # Every page of the report was reachable from the overview: one per experiment of params.yaml
    # and one per comparison of an entry's variants.
    pages = {p.relative_to(root.resolve()).as_posix() for p in visited}
    assert pages == {p.relative_to(root).as_posix() for p in reports.rglob("*.html")}
    assert pages == set(reg.stage("report").paths())
    assert len(pages) == 1 + len(params["experiments"]) + len(reg.comparisons)
    assert {f"reports/comparisons/{name}.html" for name in reg.comparisons} <= pages

    # The fidelity table: a row per value the chapter printed, for every experiment that ran.
    values = chapter_values()
    ran_with_values = {n for n in quick_report["ran"] if n in values}
    assert ran_with_values, "none of the experiments run here has chapter values"
    rows = {}
    for r in fidelity:
        rows.setdefault(r["name"], []).append(r)
    for name in ran_with_values:
        assert len(rows.get(name, [])) == len(values[name]["values"]), name
        assert all(r["ran"] == "yes" for r in rows[name]), name
        ours = [r["cells"][1] for r in rows[name]]
        assert "not run" not in ours, (name, ours)

    # Music: with fluidsynth and a soundfont there is an <audio> per track, and it plays;
    # without them the page says why.
    if "midi_lstm" in quick_report["ran"]:
        from dllaunchpad.analysis.music import audio_tools

        tools, why = audio_tools()
        assert tools is not None or not in_ci(), f"CI=true: the audio path must run: {why}"
        music_page = (reports / "experiments" / "midi_lstm.html").read_text()
        if tools is not None:
            assert audio_checked >= 1
        else:
            assert audio_checked == 0 and "fluidsynth" in music_page, why


def test_left_out_and_not_run_experiments_say_why(quick_report):
    root, reg = quick_report["root"], quick_report["reg"]
    for name in reg.skipped_experiments:  # RPS: left out, as in an offline run
        html = (root / "reports" / "experiments" / f"{name}.html").read_text()
        assert "Left out." in html and "skip_datasets" in html and "<img" not in html
    not_run = [n for n in reg.experiments if n not in quick_report["ran"]]
    for name in not_run:
        html = (root / "reports" / "experiments" / f"{name}.html").read_text()
        assert f"reports/metrics/{name}.json</code> was not produced" in html, name
        assert f"dllaunchpad --scale quick run {name}" in html


@pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc not installed")
def test_dvc_plots_render_offline(tmp_path):
    """`dvc plots show` with the repository's template (.dvc/config plots.html_template) has no
    CDN reference, and vega draws every plot in Chromium with the network blocked."""
    import subprocess

    chromium = require(find_chromium(), "no Chromium (Debian: apt-get install chromium)")
    repo = tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    (repo / "workflow/report/vega").mkdir(parents=True)
    shutil.copy(REPO / ".dvc/config", repo / ".dvc/config")
    shutil.copy(REPO / "workflow/report/vega/dvc_plots.html", repo / "workflow/report/vega/dvc_plots.html")
    (repo / "history.csv").write_text("epoch,train_loss,val_loss\n1,0.9,1.0\n2,0.5,0.7\n3,0.3,0.6\n")
    (repo / "dvc.yaml").write_text("plots:\n  - history.csv:\n      x: epoch\n      y: [train_loss, val_loss]\n")
    proc = subprocess.run(["dvc", "plots", "show", "-o", "out"], cwd=repo, capture_output=True, text=True,
                          env={**__import__("os").environ, "DVC_NO_ANALYTICS": "1"})
    assert proc.returncode == 0, proc.stderr
    html = (repo / "out" / "index.html").read_text()
    assert "cdn.jsdelivr" not in html and "<script src" not in html
    with Chromium(chromium, str(tmp_path / "profile")) as browser:
        page = browser.new_page()
        page.goto((repo / "out" / "index.html").as_uri())
        drawn = page.eval("""new Promise(resolve => {
          const count = () => document.querySelectorAll('.vega-embed canvas, .vega-embed svg.marks').length;
          const t0 = Date.now();
          const poll = () => (count() > 0 || Date.now() - t0 > 10000) ? resolve(count()) : setTimeout(poll, 100);
          poll(); })""")
        assert drawn >= 1
        assert not page.errors, page.errors
        assert not page.blocked, page.blocked
