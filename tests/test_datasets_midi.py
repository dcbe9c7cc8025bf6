"""Classical piano MIDI preparation: two real files plus broken ones, zip and folder sources."""

from __future__ import annotations

import logging
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dllaunchpad import datasets
from dllaunchpad.datasets import classical_piano

REAL = {"alb_esp1.mid": 634, "alb_esp2.mid": 680}  # note counts from classical-piano.sources.csv
BROKEN = {"broken.mid": np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes(),
          "truncated.mid": b"MThd\x00\x00\x00\x06\x00"}  # header cut off mid-way
PP = {"quantum": 0.125, "max_files": None}


@pytest.fixture
def files(mirror):
    with zipfile.ZipFile(mirror("classical-piano") / "classical-piano.zip") as z:
        return {**{name: z.read(name) for name in REAL}, **BROKEN}


@pytest.fixture
def zip_raw(files, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    with zipfile.ZipFile(raw / "classical-piano.zip", "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("notes.txt", "not midi")  # ignored
    return raw


def test_broken_files_skipped_and_listed(zip_raw, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger=classical_piano.__name__):
        summary = datasets.prepare("classical_piano", zip_raw, tmp_path / "out", PP)
    assert summary["files"] == 2
    assert summary["notes"] == sum(REAL.values())
    assert [s["file"] for s in summary["skipped"]] == ["broken.mid", "truncated.mid"]
    assert all(s["error"] for s in summary["skipped"])
    assert "broken.mid" in caplog.text and "truncated.mid" in caplog.text


def test_parquet_schema_order_and_quantisation(zip_raw, tmp_path):
    datasets.prepare("classical_piano", zip_raw, tmp_path / "out", PP)
    schema = pq.read_schema(tmp_path / "out" / "notes.parquet")
    assert [(f.name, f.type) for f in schema] == [
        ("file", pa.string()), ("index", pa.int32()), ("pitch", pa.int32()),
        ("step", pa.float32()), ("duration", pa.float32())]
    df = classical_piano.load_notes(tmp_path / "out")
    assert list(df["file"].unique()) == list(REAL)  # sorted by name, broken ones absent
    assert df.groupby("file").size().to_dict() == REAL
    for _, g in df.groupby("file"):
        np.testing.assert_array_equal(g["index"], np.arange(len(g)))
        assert g["step"].iloc[0] == 0
    for col in ("step", "duration"):
        units = df[col].to_numpy(np.float64) / 0.125
        np.testing.assert_array_equal(units, np.round(units))
        assert (df[col] >= 0).all()
    assert df["pitch"].between(0, 127).all() and df["step"].gt(0).any()


def test_matches_pretty_midi_directly(files, zip_raw, tmp_path):
    import io

    import pretty_midi

    datasets.prepare("classical_piano", zip_raw, tmp_path / "out", PP)
    g = classical_piano.load_notes(tmp_path / "out").query("file == 'alb_esp1.mid'")
    midi = pretty_midi.PrettyMIDI(io.BytesIO(files["alb_esp1.mid"]))
    notes = sorted((n for i in midi.instruments for n in i.notes), key=lambda n: (n.start, n.pitch))
    np.testing.assert_array_equal(g["pitch"], [n.pitch for n in notes])
    # The chapter's rule, round(value / quantum) * quantum, note by note.
    np.testing.assert_array_equal(g["duration"], [round((n.end - n.start) / 0.125) * 0.125 for n in notes])
    np.testing.assert_array_equal(g["step"].iloc[1:],
                                  [round((b.start - a.start) / 0.125) * 0.125 for a, b in zip(notes, notes[1:])])


def test_quantize_rounds_half_to_even():
    np.testing.assert_array_equal(classical_piano.quantize(np.array([0.0625, 0.1875, 0.06, 0.07, 1.0]), 0.125),
                                  [0.0, 0.25, 0.0, 0.125, 1.0])


def test_folder_source_and_max_files(files, zip_raw, tmp_path):
    folder = tmp_path / "raw2" / "midi"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    datasets.prepare("classical_piano", zip_raw, tmp_path / "from_zip", PP)
    summary = datasets.prepare("classical_piano", folder.parent, tmp_path / "from_dir", PP)
    assert summary["files"] == 2 and len(summary["skipped"]) == 2
    assert (classical_piano.load_notes(tmp_path / "from_dir")
            .equals(classical_piano.load_notes(tmp_path / "from_zip")))
    one = datasets.prepare("classical_piano", folder.parent, tmp_path / "one", {**PP, "max_files": 1})
    assert one == {**one, "files": 1, "skipped": [], "notes": REAL["alb_esp1.mid"]}
    arrays = classical_piano.load(tmp_path / "one")
    assert list(arrays) == ["alb_esp1.mid"] and arrays["alb_esp1.mid"].shape == (634, 3)


def test_no_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="classical-piano.zip"):
        datasets.prepare("classical_piano", tmp_path, tmp_path / "out", PP)


def test_full_mirror(mirror, tmp_path):
    summary = datasets.prepare("classical_piano", mirror("classical-piano"), tmp_path / "out", PP)
    assert (summary["files"], summary["notes"], summary["skipped"]) == (75, 107533, [])


def test_a_corpus_of_only_unreadable_files_fails_naming_how_many(tmp_path):
    """Junk .mid files only: the preprocess fails (naming the count and the first errors) and
    leaves no notes table, instead of "succeeding" with an empty one."""
    folder = tmp_path / "raw" / "midi"
    folder.mkdir(parents=True)
    junk = {**BROKEN, "text.mid": b"not a MIDI file at all\n", "empty.mid": b""}
    for name, data in junk.items():
        (folder / name).write_bytes(data)
    with pytest.raises(ValueError, match=r"none of the 4 MIDI file\(s\) tried could be read") as info:
        datasets.prepare("classical_piano", tmp_path / "raw", tmp_path / "out", PP)
    assert "broken.mid" in str(info.value)
    assert not (tmp_path / "out").exists()
    (folder / "empty.mid").unlink()
    for name in list(junk)[:3]:
        (folder / name).unlink()
    with pytest.raises(ValueError, match=r"none of the 0 MIDI file\(s\)"):  # a folder without any
        datasets.prepare("classical_piano", tmp_path / "raw", tmp_path / "out", PP)
