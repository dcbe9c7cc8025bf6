"""The README's result tables (section "The experiments") say only what can be checked here: the
chapter's printed values, which must be chapter_values.yaml's (from the split the cell names:
"validation BCE 0.6971" is a val_* value, not a train_* one), and the headline each entry names
in params.yaml. Our own numbers live in the report, which a run writes from reports/metrics."""

from __future__ import annotations

import re

from conftest import REPO
from dllaunchpad.pipeline.config import read_params
from dllaunchpad.report.build import chapter_values

SPLITS = {"validation": "val", "test": "test", "training": "train", "train": "train"}


def _rows() -> list[tuple[list[str], list[str], list[str]]]:
    """(experiment names, cells, the table's header) of every table row of the README's "The
    experiments" section."""
    text = (REPO / "README.md").read_text()
    start = text.index("\n## The experiments\n")
    section = text[start:text.index("\n## ", start + 1)]
    rows, header = [], []
    for line in section.splitlines():
        if line.startswith("| experiment |"):
            header = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        names = []
        for token in re.findall(r"`([A-Za-z0-9_.]+)`", cells[0]):
            if m := re.fullmatch(r"(.+_)(\d+)\.\.(\d+)", token):          # rps_cnn_1..4
                names += [f"{m.group(1)}{i}" for i in range(int(m.group(2)), int(m.group(3)) + 1)]
            elif token.startswith("_"):                                      # `sunspots_lstm` / `_gru`
                names.append(names[0].rsplit("_", 1)[0] + token)
            else:
                names.append(token)
        rows.append((names, cells, header))
    return rows


def _chapter_numbers(cell: str) -> list[tuple[str, str | None]]:
    """Each decimal number of a cell with the split its label names (None: any). A number right
    after another ("0.6971 → 0.6728", "0.20 / 0.82") keeps the previous label."""
    out, label, last = [], None, 0
    for m in re.finditer(r"\d+\.\d+", cell):
        words = re.findall(r"[A-Za-z]+", cell[last:m.start()])
        if words:
            label = next((SPLITS[w.lower()] for w in words if w.lower() in SPLITS), None)
        out.append((m.group(0), label))
        last = m.end()
    return out


def _matches(text: str, value) -> bool:
    decimals = len(text.split(".")[1])
    return isinstance(value, (int, float)) and not isinstance(value, bool) and round(value, decimals) == float(text)


def test_readme_chapter_values_are_the_chapters():
    values = chapter_values()
    rows = [(names, cells) for names, cells, header in _rows() if header[1:2] == ["chapter"]]
    assert len(rows) >= 12
    checked = 0
    for names, cells in rows:
        printed = [(k, v) for n in names for k, v in values.get(n, {}).get("values", {}).items()]
        for number, split in _chapter_numbers(cells[1]):
            candidates = [(k, v) for k, v in printed if split is None or split in k.split("_")]
            assert any(_matches(number, v) for _, v in candidates), (
                f"README, {names}: {number} ({split or 'any'} split) is not a value chapter_values.yaml "
                f"records for {names} (of {candidates})")
            checked += 1
    assert checked >= 20


def test_the_check_catches_a_value_from_the_wrong_split():
    # the old denoising row: 0.6780 is the chapter's final *training* loss, not a validation one
    numbers = _chapter_numbers("validation BCE 0.6971 → 0.6780")
    assert numbers == [("0.6971", "val"), ("0.6780", "val")]
    printed = chapter_values()["mnist_denoising_ae"]["values"]
    assert not any(_matches("0.6780", v) for k, v in printed.items() if "val" in k.split("_"))
    assert _matches("0.6780", printed["final_train_loss"])


def test_readme_names_each_entrys_headline():
    experiments = read_params(REPO / "params.yaml")["experiments"]
    rows = [(names, cells) for names, cells, _ in _rows() if all(n in experiments for n in names)]
    assert len(rows) >= 18
    for names, cells in rows:
        named = set(re.findall(r"`([A-Za-z0-9_.<>]+)`", cells[-1]))
        for n in names:
            assert experiments[n]["headline"] in named, (
                f"README row {names}: the headline column does not name {n}'s headline "
                f"`{experiments[n]['headline']}` (params.yaml)")
