"""The reader's own data: a dataset entry that names a local folder (`source: {folder, kind}`).

- the schema takes a folder entry and refuses half-formed ones; the stage table gives Snakemake
  the folder's files and DVC the folder, and prepares with the kind's preparer;
- the fetch copies and hashes the folder's files (archives unpacked) into data/raw/<dataset>/
  with a manifest that changes exactly when a file taken changes;
- hostile input is refused naming the culprit, leaving nothing behind (../ members, absolute
  members, link members, decompression bombs by declared size, actual size and ratio); broken
  input is skipped and counted (truncated archives, files that are not what their extension says,
  empty files, images outside a class folder); an empty, missing or useless folder is an error;
- the three preparers (MIDI, images per class, CSV series) on tiny data made here;
- integration: in a working copy, one MIDI file's content changed reruns fetch and preprocess
  under Snakemake and changes DVC's dependency hash (`dvc status`), and so does an added file.

Every archive and file is built here (zipfile, tarfile, PIL, pretty_midi): nothing is downloaded.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from dllaunchpad import datasets
from dllaunchpad.datasets import archives, own_data
from dllaunchpad.datasets.errors import FetchError, UnsafeArchiveError
from dllaunchpad.datasets.fetch import datasets_missing_from_mirror
from dllaunchpad.pipeline import folders
from dllaunchpad.pipeline.config import ParamsError, load_params
from dllaunchpad.pipeline.dvc_yaml import render
from dllaunchpad.pipeline.registry import Registry


# -- tiny inputs -------------------------------------------------------------------------------

def midi_bytes(pitches: list[int]) -> bytes:
    """A one-track MIDI file: the pitches one after another, 0.25 s apart, each held 0.2 s."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    for i, p in enumerate(pitches):
        piano.notes.append(pretty_midi.Note(velocity=80, pitch=p, start=0.25 * i, end=0.25 * i + 0.2))
    pm.instruments.append(piano)
    out = io.BytesIO()
    pm.write(out)
    return out.getvalue()


def png_bytes(colour: tuple[int, int, int], size: int = 12) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_zip(path: Path, members: list[tuple[str, bytes]], symlink: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def make_tar(path: Path, members: list[tuple[str, bytes]], mode: str = "w:gz", link: tuple | None = None) -> Path:
    """`link`: (name, target, tarfile.SYMTYPE or LNKTYPE) added after the members."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = link[2], link[1]
            tf.addfile(info)
    return path


def spec(folder: Path | str, kind: str = "midi", **pp) -> dict:
    return {"description": "mine", "source": {"folder": str(folder), "kind": kind}, "preprocess": pp}


def fetch(folder: Path, tmp_path: Path, kind: str = "midi", **kw) -> dict:
    return own_data.fetch_folder("mine", spec(folder, kind), tmp_path / "data/raw/mine", **kw)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def tunes() -> dict[str, bytes]:
    return {"a.mid": midi_bytes([60, 62, 64]), "b.mid": midi_bytes([67, 65]), "c.mid": midi_bytes([50, 52, 53, 55])}


@pytest.fixture
def midi_folder(tmp_path, tunes) -> Path:
    folder = tmp_path / "my_midi"
    write(folder / "a.mid", tunes["a.mid"])
    write(folder / "suite" / "b.mid", tunes["b.mid"])
    return folder


# -- params.yaml and the stage table -----------------------------------------------------------

def with_dataset(raw_params: dict, name: str, entry: dict) -> dict:
    params = copy.deepcopy(raw_params)
    params["datasets"][name] = entry
    return params


def test_a_folder_entry_validates_and_half_formed_ones_are_refused(raw_params, tmp_path):
    load_params(with_dataset(raw_params, "my_midi", spec(tmp_path)))
    bad = [
        ({**spec(tmp_path), "files": raw_params["datasets"]["iris"]["files"]}, "datasets.my_midi"),  # both
        ({"description": "x", "preprocess": {}}, "datasets.my_midi"),                                 # neither
        ({**spec(tmp_path), "source": {"folder": str(tmp_path)}}, "datasets.my_midi"),                # no kind
        ({**spec(tmp_path), "source": {"folder": str(tmp_path), "kind": "video"}}, "datasets.my_midi"),
        ({**spec(tmp_path), "source": {"folder": "", "kind": "midi"}}, "datasets.my_midi"),
    ]
    for entry, key in bad:
        with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
            load_params(with_dataset(raw_params, "my_midi", entry))


def test_snakemake_gets_the_files_dvc_the_folder(raw_params, midi_folder, tmp_path):
    """Snakemake compares the mtimes of its inputs, and a directory's own mtime does not change
    when a file inside is edited: so its inputs are the files. DVC hashes a folder dependency's
    content: so its dependency is the folder (pipeline/folders.py)."""
    write(midi_folder / ".hidden.mid", b"MThd")          # hidden: not data
    write(midi_folder / "notes.txt", b"not a tune")       # another kind: not read, not an input
    make_zip(midi_folder / "more.zip", [("c.mid", b"MThd")])
    os.symlink(midi_folder / "a.mid", midi_folder / "link.mid")  # links are not followed
    reg = Registry.from_params(load_params(with_dataset(raw_params, "my_midi", spec(midi_folder))))
    fetch_stage, prep = reg.stage("fetch_my_midi"), reg.stage("preprocess_my_midi")
    assert fetch_stage.inputs == tuple(f"{midi_folder}/{f}" for f in ("a.mid", "more.zip", "suite/b.mid"))
    assert fetch_stage.deps == [str(midi_folder), fetch_stage.manifest]  # DVC: the folder, its code's manifest
    assert fetch_stage.params == ("datasets.my_midi.source",)
    assert "src/dllaunchpad/datasets/own_data.py" in fetch_stage.code
    assert "src/dllaunchpad/datasets/fetch.py" not in fetch_stage.code  # the downloader is not its code
    assert "src/dllaunchpad/datasets/classical_piano.py" in prep.code and prep.inputs == ("data/raw/my_midi",)
    dvc = yaml.safe_load(render(with_dataset(raw_params, "my_midi", spec(midi_folder))))["stages"]
    assert dvc["fetch_my_midi"]["deps"][0] == str(midi_folder)
    assert dvc["fetch_my_midi"]["outs"] == ["data/raw/my_midi"]
    # the downloads keep their own code and pins
    assert "src/dllaunchpad/datasets/fetch.py" in reg.stage("fetch_iris").code
    assert "src/dllaunchpad/datasets/own_data.py" not in reg.stage("fetch_iris").code
    assert reg.stage("fetch_iris").params == ("datasets.iris.files",)


def test_a_missing_folder_fails_only_its_fetch(raw_params, tmp_path):
    params = with_dataset(raw_params, "my_midi", spec(tmp_path / "nowhere"))
    reg = Registry.from_params(load_params(params))  # the rest of the DAG still loads
    assert reg.stage("fetch_my_midi").inputs == ()
    with pytest.raises(FetchError, match="nowhere does not exist"):
        own_data.fetch_folder("my_midi", params["datasets"]["my_midi"], tmp_path / "raw")


def test_a_folder_dataset_is_never_missing_from_a_mirror(raw_params, tmp_path):
    params = load_params(with_dataset(raw_params, "my_midi", spec(tmp_path)))
    reg = Registry.from_params(params)
    assert datasets_missing_from_mirror(reg.datasets, str(tmp_path)) == [
        n for n in reg.datasets if n != "my_midi"]  # an empty mirror has none of the downloads


def readme_examples() -> list[dict]:
    import re

    from conftest import REPO

    text = (REPO / "README.md").read_text()
    start = text.index("\n## Your own data\n")
    section = text[start:text.index("\n## ", start + 1)]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_the_readme_examples_are_valid_entries(raw_params):
    """One worked example per kind; each passes the schemas (the families' included: midi_lstm
    and rnn_forecaster take a folder dataset of the kind prepared like theirs)."""
    examples = readme_examples()
    kinds = []
    for entries in examples:
        params = copy.deepcopy(raw_params)
        for table in ("datasets", "experiments"):
            params[table].update(entries.get(table, {}))
        for scale in ("full", "quick"):
            reg = Registry.from_params(load_params(params, scale=scale))
            kinds += [reg.dataset(n).kind for n in entries["datasets"]] if scale == "full" else []
            assert all(e in reg.experiments for e in entries.get("experiments", {}))
    assert kinds == ["midi", "images", "csv_series"]


def test_a_family_refuses_a_folder_kind_it_cannot_read(raw_params, tmp_path):
    params = with_dataset(raw_params, "my_series", spec(tmp_path, "csv_series"))
    params["experiments"]["midi_lstm"]["dataset"] = "my_series"  # a series is not a MIDI corpus
    with pytest.raises(ParamsError, match=r"experiments\.midi_lstm\.dataset: 'classical_piano' was expected"):
        load_params(params)


# -- the fetch: copy, hash, manifest ----------------------------------------------------------

def test_fetch_copies_hashes_and_lists_the_files(midi_folder, tmp_path, tunes):
    make_zip(midi_folder / "more.zip", [("c.mid", tunes["c.mid"]), ("readme.txt", b"hello")])
    m = fetch(midi_folder, tmp_path)
    raw = tmp_path / "data/raw/mine"
    assert [f["path"] for f in m["files"]] == ["midi/a.mid", "midi/more/c.mid", "midi/suite/b.mid"]
    assert [f["sha256"] for f in m["files"]] == [sha(tunes["a.mid"]), sha(tunes["c.mid"]), sha(tunes["b.mid"])]
    assert m["files"][1]["archive"] == "more.zip"
    assert (raw / "midi/suite/b.mid").read_bytes() == tunes["b.mid"]
    assert json.loads((raw / folders.MANIFEST).read_text()) == m
    assert m["skipped"] == [{"path": "more/readme.txt", "reason": "not a midi file (.mid, .midi)"}]
    assert m["counts"] == {"files": 3, "skipped": 1, "bytes": sum(len(t) for t in tunes.values())}
    assert sorted(p.name for p in tmp_path.joinpath("data/raw").iterdir()) == ["mine"]  # no temporaries


def test_the_manifest_changes_exactly_when_a_taken_file_does(midi_folder, tmp_path, tunes):
    before = fetch(midi_folder, tmp_path)
    assert fetch(midi_folder, tmp_path) == before                     # same input, same bytes out
    manifest_text = (tmp_path / "data/raw/mine" / folders.MANIFEST).read_text()
    write(midi_folder / "suite" / "b.mid", midi_bytes([67, 65, 64]))  # one note more
    after = fetch(midi_folder, tmp_path)
    changed = [f["path"] for f, g in zip(before["files"], after["files"]) if f != g]
    assert changed == ["midi/suite/b.mid"]
    assert (tmp_path / "data/raw/mine" / folders.MANIFEST).read_text() != manifest_text
    write(midi_folder / "new.mid", tunes["c.mid"])
    assert [f["path"] for f in fetch(midi_folder, tmp_path)["files"]] == ["midi/a.mid", "midi/new.mid",
                                                                          "midi/suite/b.mid"]


def test_a_file_that_is_not_what_its_extension_says_is_skipped_and_counted(midi_folder, tmp_path):
    write(midi_folder / "picture.mid", png_bytes((1, 2, 3)))
    write(midi_folder / "empty.mid", b"")
    make_zip(midi_folder / "fake.zip.mid", [])  # a zip named .mid
    write(midi_folder / "text.zip", b"this is not a zip")
    m = fetch(midi_folder, tmp_path)
    reasons = {s["path"]: s["reason"] for s in m["skipped"]}
    assert reasons["picture.mid"].startswith("content is not a .mid file (starts with b'\\x89PNG")
    assert reasons["empty.mid"] == "empty file"
    assert reasons["fake.zip.mid"].startswith("content is not a .mid file (starts with b'PK")
    assert reasons["text.zip"].startswith("broken archive: cannot open")
    assert m["counts"]["skipped"] == 4 and m["counts"]["files"] == 2


@pytest.mark.parametrize("mode", ["w:gz", "w"])
def test_a_truncated_archive_is_skipped_whole(midi_folder, tmp_path, tunes, mode):
    """A cut .tar.gz yields its first member before the stream ends: that member goes too."""
    full = make_tar(tmp_path / "x.tar", [(f"t{i}.mid", tunes["c.mid"] + bytes(3000)) for i in range(3)], mode)
    data = full.read_bytes()
    write(midi_folder / ("cut.tgz" if mode == "w:gz" else "cut.tar"), data[: len(data) // 2])
    zipped = make_zip(tmp_path / "x.zip", [("z.mid", tunes["c.mid"] * 50)]).read_bytes()
    write(midi_folder / "cut.zip", zipped[: len(zipped) - 30])  # central directory cut off
    m = fetch(midi_folder, tmp_path)
    assert [f["path"] for f in m["files"]] == ["midi/a.mid", "midi/suite/b.mid"]
    assert not (tmp_path / "data/raw/mine/midi/cut").exists()
    assert {s["path"] for s in m["skipped"]} == {"cut.tgz" if mode == "w:gz" else "cut.tar", "cut.zip"}
    assert all(s["reason"].startswith("broken archive") for s in m["skipped"])


HOSTILE = {
    "zip ../": lambda d: make_zip(d / "evil.zip", [("ok.mid", b"MThd"), ("../escaped.mid", b"MThd")]),
    "zip a/../../": lambda d: make_zip(d / "evil.zip", [("a/../../escaped.mid", b"MThd")]),
    "zip absolute": lambda d: make_zip(d / "evil.zip", [("/tmp/escaped.mid", b"MThd")]),
    "zip symlink": lambda d: make_zip(d / "evil.zip", [("ok.mid", b"MThd")], symlink="link.mid"),
    "tar ../": lambda d: make_tar(d / "evil.tar.gz", [("ok.mid", b"MThd"), ("../escaped.mid", b"MThd")]),
    "tar symlink": lambda d: make_tar(d / "evil.tgz", [("ok.mid", b"MThd")], link=("l.mid", "/etc/passwd",
                                                                                    tarfile.SYMTYPE)),
    "tar hard link": lambda d: make_tar(d / "evil.tar", [("ok.mid", b"MThd")], mode="w",
                                        link=("h.mid", "ok.mid", tarfile.LNKTYPE)),
    "tar device": lambda d: make_tar(d / "evil.tar", [], mode="w", link=("dev.mid", "", tarfile.CHRTYPE)),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_archive_is_an_error_that_leaves_nothing(midi_folder, tmp_path, case):
    HOSTILE[case](midi_folder)
    with pytest.raises(UnsafeArchiveError, match=r"refusing .*evil\.(zip|tar|tgz|tar\.gz): member '.*'"):
        fetch(midi_folder, tmp_path)
    assert not (tmp_path / "data").exists() or list((tmp_path / "data/raw").iterdir()) == []
    assert not list(tmp_path.rglob("escaped.mid"))


def test_a_zip_bomb_is_refused_by_ratio_and_by_declared_size(midi_folder, tmp_path):
    # 5 MiB of zeros deflate to ~5 KiB: 1000x, beyond the default 200x (checked above 1 MiB).
    make_zip(midi_folder / "bomb.zip", [("zeros.mid", b"MThd" + bytes(5 << 20))])
    with pytest.raises(UnsafeArchiveError, match=r"member 'zeros\.mid' expands 10\d\d times"):
        fetch(midi_folder, tmp_path)
    (midi_folder / "bomb.zip").unlink()
    make_zip(midi_folder / "big.zip", [("big.mid", b"MThd" + os.urandom(5000))])  # incompressible: ratio ~1
    with pytest.raises(UnsafeArchiveError, match=r"member 'big\.mid' would expand to 5004 bytes \(limit 4096\)"):
        fetch(midi_folder, tmp_path, limits=archives.Limits(member_bytes=4096))
    assert fetch(midi_folder, tmp_path)["counts"]["files"] == 3  # under the default limits it is fine


def test_a_tar_bomb_is_refused_by_the_ratio_of_the_stream(midi_folder, tmp_path):
    # A tar's headers carry no compressed sizes: the ratio is counted over the stream as it is read.
    make_tar(midi_folder / "bomb.tar.gz", [(f"z{i}.mid", b"MThd" + bytes(1 << 20)) for i in range(3)])
    with pytest.raises(UnsafeArchiveError, match=r"bomb\.tar\.gz: expands more than 200 times"):
        fetch(midi_folder, tmp_path)


def test_the_actual_size_is_counted_whatever_the_header_says():
    reader = archives.LimitedReader(io.BytesIO(bytes(100)), limit=64, what="x.zip: member 'm'")
    assert len(reader.read(64)) == 64
    with pytest.raises(UnsafeArchiveError, match="member 'm' expands beyond 64 bytes"):
        reader.read(64)


def test_an_empty_or_useless_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FetchError, match=r"holds no midi files \(\.mid, \.midi, or zip/tar archives"):
        fetch(tmp_path / "empty", tmp_path)
    write(tmp_path / "junk" / "x.mid", b"not midi at all")
    with pytest.raises(FetchError, match=r"nothing usable in .*junk: all 1 candidate file\(s\) skipped"):
        fetch(tmp_path / "junk", tmp_path)
    write(tmp_path / "afile", b"")
    with pytest.raises(FetchError, match="is not a folder"):
        fetch(tmp_path / "afile", tmp_path)


def test_the_folder_may_not_be_the_fetch_output(tmp_path):
    write(tmp_path / "data/raw/mine/midi/a.mid", midi_bytes([60]))
    with pytest.raises(FetchError, match="overlaps the fetch's output"):
        fetch(tmp_path / "data/raw/mine", tmp_path)


# -- the preparers ------------------------------------------------------------------------------

def test_midi_folder_prepares_like_classical_piano(midi_folder, tmp_path, tunes):
    make_zip(midi_folder / "more.zip", [("c.mid", tunes["c.mid"])])
    fetch(midi_folder, tmp_path)
    summary = datasets.prepare("mine", tmp_path / "data/raw/mine", tmp_path / "processed", {}, kind="midi")
    assert summary["files"] == 3 and summary["notes"] == 3 + 4 + 2 and summary["kind"] == "midi"
    notes = datasets.classical_piano.load(tmp_path / "processed")
    assert sorted(notes) == ["a.mid", "more/c.mid", "suite/b.mid"]
    np.testing.assert_array_equal(notes["a.mid"][:, 0], [60, 62, 64])
    # 0.25 s apart on the 0.125 s grid; held 0.2 s -> 0.25 (nearest multiple)
    np.testing.assert_allclose(notes["more/c.mid"][:, 1:], [[0, 0.25], [0.25, 0.25], [0.25, 0.25], [0.25, 0.25]])


@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "shapes"
    colours = {"red": (255, 0, 0), "blue": (0, 0, 255)}
    for name, colour in colours.items():
        for i in range(10):
            write(folder / name / f"{i}.png", png_bytes(colour))
    write(folder / "stray.png", png_bytes((0, 255, 0)))                    # no class folder
    write(folder / "red" / "cut.png", png_bytes((255, 0, 0), 64)[:60])     # a PNG, cut short
    make_zip(folder / "green.zip", [(f"g{i}.png", png_bytes((0, 255, 0))) for i in range(5)])  # class green
    return folder


def test_images_per_class_prepare_into_stratified_splits(image_folder, tmp_path):
    m = fetch(image_folder, tmp_path, kind="images")
    assert {s["path"]: s["reason"] for s in m["skipped"]} == {
        "stray.png": "not in a class folder (images go in <folder>/<class name>/)"}
    pp = {"image_size": 8, "validation_fraction": 0.2, "test_fraction": 0.2, "split_seed": 3}
    s = datasets.prepare("mine", tmp_path / "data/raw/mine", tmp_path / "processed", pp, kind="images")
    assert s["classes"] == ["blue", "green", "red"]
    assert [k["file"] for k in s["skipped"]] == ["red/cut.png"]     # the magic is right, the data is not
    # per class: 10 -> 6/2/2, 5 -> 3/1/1 (round(0.2 * 5) = 1), 10 good red ones -> 6/2/2
    assert s["train"]["class_counts"] == [6, 3, 6] and s["validation"]["class_counts"] == [2, 1, 2]
    assert s["test"]["class_counts"] == [2, 1, 2] and s["train"]["shape"] == [15, 8, 8, 3]
    x, y = datasets.image_folders.load(tmp_path / "processed", "test")
    assert x.dtype == np.float32 and x.shape == (5, 8, 8, 3)
    np.testing.assert_allclose(x[y == 2].mean(axis=(0, 1, 2)), [1, 0, 0])  # the red class is red
    with np.load(tmp_path / "processed/train.npz") as f:
        assert all(m.split("/")[0] == s["classes"][c] for m, c in zip(f["member"], f["y"]))


def test_one_class_is_not_a_classification(tmp_path):
    for i in range(3):
        write(tmp_path / "one" / "cats" / f"{i}.png", png_bytes((9, 9, 9)))
    fetch(tmp_path / "one", tmp_path, kind="images")
    with pytest.raises(ValueError, match=r"at least two class folders; .* has \['cats'\]"):
        datasets.prepare("mine", tmp_path / "data/raw/mine", tmp_path / "processed", {}, kind="images")
    assert not (tmp_path / "processed").exists()


def series_csv(n: int, bad_line: int | None = None) -> bytes:
    rows = ["Month,Passengers"]
    for i in range(n):
        value = "n/a" if bad_line is not None and i + 2 == bad_line else str(100 + 10 * np.sin(i / 3) + i)
        rows.append(f"{1949 + i // 12}-{i % 12 + 1:02d},{value}")
    return ("\n".join(rows) + "\n").encode()


def test_a_csv_series_prepares_like_the_sunspots(tmp_path):
    from dllaunchpad.datasets.sunspots import windows

    write(tmp_path / "air" / "passengers.csv", series_csv(60))
    fetch(tmp_path / "air", tmp_path, kind="csv_series")
    pp = {"input_length": 12, "train_fraction": 0.75}
    s = datasets.prepare("mine", tmp_path / "data/raw/mine", tmp_path / "processed", pp, kind="csv_series")
    assert (s["value_column"], s["time_column"], s["split_index"]) == ("Passengers", "Month", 45)
    assert (s["train_windows"], s["test_windows"]) == (45 - 12, 60 - 45 - 12)
    d = datasets.csv_series.load(tmp_path / "processed")
    values = 100 + 10 * np.sin(np.arange(60) / 3) + np.arange(60)
    norm = (values - values[:45].mean()) / values[:45].std(ddof=1)
    np.testing.assert_allclose(d["series"], norm, rtol=1e-12)
    x, y = windows(norm, 0, 45, 12)
    np.testing.assert_array_equal(d["x_train"], x)
    np.testing.assert_array_equal(d["y_train"], y)
    assert d["months"][0] == "1949-01" and d["months"][-1] == "1953-12"


def test_a_broken_csv_series_is_a_clear_error(tmp_path):
    write(tmp_path / "gap" / "s.csv", series_csv(60, bad_line=7))
    fetch(tmp_path / "gap", tmp_path, kind="csv_series")
    with pytest.raises(ValueError, match=r"'Passengers' has 1 missing or non-numeric value\(s\), first on line\(s\) 7"):
        datasets.prepare("mine", tmp_path / "data/raw/mine", tmp_path / "p", {"input_length": 12}, kind="csv_series")
    write(tmp_path / "short" / "s.csv", series_csv(20))
    fetch(tmp_path / "short", tmp_path, kind="csv_series")
    with pytest.raises(ValueError, match=r"20 rows are too few for input_length 12"):
        datasets.prepare("mine", tmp_path / "data/raw/mine", tmp_path / "p", {"input_length": 12}, kind="csv_series")
    write(tmp_path / "two" / "a.csv", series_csv(30))
    write(tmp_path / "two" / "b.csv", series_csv(30))
    with pytest.raises(FetchError, match=r"holds one \.csv file; .* gives 2"):
        fetch(tmp_path / "two", tmp_path, kind="csv_series")
    write(tmp_path / "binary" / "s.csv", b"\x00\x01\x02" * 10)
    with pytest.raises(FetchError, match=r"nothing usable .*content is not text"):
        fetch(tmp_path / "binary", tmp_path, kind="csv_series")


# -- both tools rerun what a changed file affects (a working copy; Snakemake and DVC) -----------

@pytest.mark.integration
def test_a_changed_file_reruns_fetch_and_preprocess_under_both_tools(tmp_path, tunes):
    import workcopy

    folder = tmp_path / "my_midi"
    write(folder / "a.mid", tunes["a.mid"])
    write(folder / "suite" / "b.mid", tunes["b.mid"])

    def add_my_midi(params):
        params["datasets"]["my_midi"] = spec(folder)

    root = workcopy.make_copy(tmp_path / "launchpad", edit=add_my_midi, datasets=["my_midi"],
                              experiments=["tensor_products"], scale="quick")
    target = ["data/processed/my_midi", "--cores", "1"]
    workcopy.run(["snakemake", *target], root)
    manifest = (root / "data/raw/my_midi/manifest.json").read_text()
    assert "Data and pipelines are up to date" in workcopy.run(["dvc", "status", "preprocess_my_midi"], root).stdout

    write(folder / "suite" / "b.mid", midi_bytes([67, 65, 64]))  # one file's content changes
    dry = workcopy.run(["snakemake", "-n", *target], root)
    assert workcopy.ran_rules(dry.stdout + dry.stderr) == ["fetch_my_midi", "preprocess_my_midi"]
    status = workcopy.run(["dvc", "status", "fetch_my_midi"], root).stdout
    assert "changed deps" in status and f"modified:           {folder}" in status, status
    workcopy.run(["snakemake", *target], root)
    assert (root / "data/raw/my_midi/manifest.json").read_text() != manifest
    assert json.loads((root / "data/processed/my_midi/summary.json").read_text())["notes"] == 3 + 3

    write(folder / "c.mid", tunes["c.mid"])  # a file added
    dry = workcopy.run(["snakemake", "-n", *target], root)
    assert workcopy.ran_rules(dry.stdout + dry.stderr) == ["fetch_my_midi", "preprocess_my_midi"]
    assert f"modified:           {folder}" in workcopy.run(["dvc", "status", "fetch_my_midi"], root).stdout
    repro = workcopy.run(["dvc", "repro", "preprocess_my_midi"], root)
    assert workcopy.dvc_ran_stages(repro.stdout) == ["fetch_my_midi", "preprocess_my_midi"]
    assert json.loads((root / "data/processed/my_midi/summary.json").read_text())["notes"] == 3 + 3 + 4
