"""reports/index.html: parses, is self-contained (no remote URL anywhere), shows every
experiment, and says why when an experiment's outputs are missing."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from dllaunchpad.config import load_params
from dllaunchpad.evaluate import evaluate
from dllaunchpad.registry import Registry
from dllaunchpad.report.build import build_report


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.imgs, self.ids = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if key in a:
                self.refs.append(a[key])
        if tag == "img":
            self.imgs.append(a)
        if "id" in a:
            self.ids.append(a["id"])


def test_report_is_self_contained(raw_params, tmp_path):
    params = load_params(raw_params)
    reg = Registry.from_params(params)
    evaluate(reg.experiment("tensor_products"), params, tmp_path)  # one done, the rest missing
    html = build_report(params, reg, tmp_path).read_text()

    page = _Collect()
    page.feed(html)
    assert set(reg.experiments) <= set(page.ids)
    assert not [r for r in page.refs if re.match(r"(https?:)?//", r)], "remote reference in the report"
    assert page.imgs and all(i["src"].startswith("data:image/png;base64,") and i.get("alt") for i in page.imgs)
    assert "products_matching_chapter" in html
    # experiments that did not run say so, and how to produce them
    assert "reports/metrics/xor.json was not produced" in html
    assert "<link" not in html and "<script" not in html


def test_fidelity_table_pairs_chapter_values_with_ours(raw_params, tmp_path):
    from dllaunchpad.report.build import chapter_values, fidelity_rows

    params = load_params(raw_params)
    reg = Registry.from_params(params)
    assert set(chapter_values()) <= set(params["experiments"]), "chapter_values.yaml names an unknown experiment"
    evaluate(reg.experiment("tensor_products"), params, tmp_path)
    rows = {(r["experiment"], r["metric"]): r for r in fidelity_rows(reg, tmp_path)}
    row = rows[("tensor_products", "products_matching_chapter")]
    assert (row["chapter"], row["ours"], row["diff"]) == ("11", "10", "-1")
    assert rows[("xor", "final_loss")]["ours"] == "not run"
