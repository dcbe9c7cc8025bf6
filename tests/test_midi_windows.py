"""Note windows for the MIDI LSTM: views over one contiguous tensor that never cross a file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dllaunchpad.datasets.midi_windows import MidiWindowDataModule, NoteWindows, corpus_arrays, split_windows, window_starts

L = 4  # seq_length in these tests: windows of 5 notes


def _table(lengths: dict[str, int]) -> pd.DataFrame:
    """A notes table whose pitch is the file's number and whose step counts notes within it."""
    rows = []
    for k, (name, n) in enumerate(lengths.items()):
        rows += [{"file": name, "index": i, "pitch": 10 * (k + 1), "step": float(i), "duration": 0.5}
                 for i in range(n)]
    return pd.DataFrame(rows)


def test_window_starts_stay_inside_files():
    # files of 7, 3 (too short: no window), 5 (exactly one window) and 6 notes
    starts = window_starts(np.array([7, 3, 5, 6]), L)
    np.testing.assert_array_equal(starts, [0, 1, 2, 10, 15, 16])
    assert window_starts(np.array([], np.int64), L).size == 0


def test_no_window_crosses_a_file_boundary():
    lengths = {"a.mid": 7, "b.mid": 3, "c.mid": 5, "d.mid": 6}
    notes, counts, files = corpus_arrays(_table(lengths))
    windows = NoteWindows(torch.from_numpy(notes), torch.from_numpy(window_starts(counts, L)), L)
    batch = windows[torch.arange(len(windows))]
    assert batch.shape == (3 + 0 + 1 + 2, L + 1, 3) and len(windows) == 6  # sum(max(n - L, 0))
    # every window holds one file's notes only (pitch = file id), consecutive within it (step = i)
    assert (batch[:, :, 0] == batch[:, :1, 0]).all()
    np.testing.assert_array_equal(np.diff(batch[:, :, 1].numpy(), axis=1), 1.0)
    # the last window of each file ends on the file's last note
    assert [tuple(w[-1, :2].tolist()) for w in batch] == [
        (10, 4), (10, 5), (10, 6), (30, 4), (40, 4), (40, 5)]
    assert files == list(lengths)


def test_windows_are_views_not_copies():
    notes = torch.arange(30, dtype=torch.float32).reshape(10, 3)
    windows = NoteWindows(notes, torch.tensor([0, 5]), L)
    assert windows.view.data_ptr() == notes.data_ptr() and windows.view.shape == (10 - L, L + 1, 3)
    torch.testing.assert_close(windows[torch.tensor([1])][0], notes[5:10])
    with pytest.raises(ValueError, match="past the end"):
        NoteWindows(notes, torch.tensor([6]), L)


def test_holdout_file_is_excluded_and_named_when_missing():
    df = _table({"a.mid": 7, "seed.mid": 9, "c.mid": 6})
    notes, counts, files = corpus_arrays(df, exclude=("seed.mid",))
    assert files == ["a.mid", "c.mid"] and counts.tolist() == [7, 6] and 20 not in notes[:, 0]
    with pytest.raises(KeyError, match="nope.mid"):
        corpus_arrays(df, exclude=("nope.mid",))


def test_split_is_seeded_disjoint_and_eighty_twenty():
    notes = torch.zeros(200, 3)
    windows = NoteWindows(notes, torch.arange(150), L)
    train, val = split_windows(windows, 0.2, seed=42)
    assert (len(train), len(val)) == (120, 30)  # int(150 * 0.2) validation windows
    assert set(train.starts.tolist()).isdisjoint(val.starts.tolist())
    again, _ = split_windows(windows, 0.2, seed=42)
    assert torch.equal(train.starts, again.starts)
    assert not torch.equal(train.starts, split_windows(windows, 0.2, seed=1)[0].starts)


def test_datamodule_batches(tmp_path):
    _table({"a.mid": 40, "seed.mid": 30, "c.mid": 35}).astype({"index": "int32", "pitch": "int32"}).to_parquet(
        tmp_path / "notes.parquet")
    dm = MidiWindowDataModule(tmp_path, seq_length=L, val_fraction=0.2, batch_size=8, seed=0,
                              holdout=("seed.mid",))
    assert dm.files == ["a.mid", "c.mid"] and len(dm.windows) == (40 - L) + (35 - L)
    batches = list(dm.train_dataloader())
    (first,) = batches[0]
    assert first.shape == (8, L + 1, 3) and first.dtype == torch.float32
    assert sum(len(b[0]) for b in batches) + sum(len(b[0]) for b in dm.val_dataloader()) == len(dm.windows)
    assert 20 not in torch.cat([b[0] for b in batches])[:, :, 0]  # the held-out file's pitch
