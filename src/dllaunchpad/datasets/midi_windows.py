"""Training windows over the classical-piano note table (chapter 31.6.7).

The chapter's ``MidiDataset`` builds a Python list holding every window of ``seq_length + 1``
notes. Here all notes live in one contiguous float32 tensor (files one after another) and a
window is a row of a strided view of it (``Tensor.unfold``: no copy). What is stored per window
is only its start row, and only starts whose window lies inside one file are kept, so no window
crosses a file boundary. A batch gathers its windows from the view in one indexing operation.

A window is ``(seq_length + 1, 3)`` of [pitch, step, duration]: the first ``seq_length`` notes
are the input, the last is the target, as in the chapter's ``__getitem__``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.training.batches import TensorDataModule

FEATURES = ["pitch", "step", "duration"]


def window_starts(lengths: np.ndarray, seq_length: int) -> np.ndarray:
    """Start rows (in the concatenated table) of every window that stays inside its file.

    A file of n notes gives ``max(n - seq_length, 0)`` windows, the chapter's
    ``range(len(notes) - seq_length)``; a window spans ``seq_length + 1`` rows.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0:
        return np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    counts = np.maximum(lengths - seq_length, 0)
    # For each window: its file's offset + its position within the file, without a Python loop.
    first_of_file = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(offsets, counts) + (np.arange(counts.sum()) - first_of_file)


class NoteWindows:
    """Windows of ``seq_length + 1`` notes over ``notes`` (N, 3), selected by start row.

    Behaves like a tensor along its first axis for :class:`~dllaunchpad.batches.TensorBatches`:
    ``len(w)`` and ``w[idx]`` -> float32 ``(len(idx), seq_length + 1, 3)``.
    """

    def __init__(self, notes: torch.Tensor, starts: torch.Tensor, seq_length: int):
        if notes.ndim != 2 or notes.shape[1] != len(FEATURES):
            raise ValueError(f"notes must be (N, {len(FEATURES)}), got {tuple(notes.shape)}")
        if len(starts) and int(starts.max()) + seq_length >= len(notes):
            raise ValueError("a window start runs past the end of the notes")
        self.notes, self.starts, self.seq_length = notes, starts.long(), seq_length
        # (N - seq_length, 3, seq_length + 1) strided view -> (.., seq_length + 1, 3): no copy.
        padded = notes if len(notes) > seq_length else notes.new_zeros(seq_length + 1, notes.shape[1])
        self.view = padded.unfold(0, seq_length + 1, 1).transpose(1, 2)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, idx) -> torch.Tensor:
        return self.view[self.starts[idx]]

    def subset(self, idx: torch.Tensor) -> "NoteWindows":
        """The windows at positions ``idx`` (sharing the same notes tensor)."""
        return NoteWindows(self.notes, self.starts[idx], self.seq_length)


def corpus_arrays(df, exclude: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(notes float32 (N, 3), per-file lengths, file names) from the notes table, files in table
    order (sorted by name), leaving out the files named in ``exclude``."""
    missing = sorted(set(exclude) - set(df["file"].unique()))
    if missing:
        raise KeyError(f"held-out file(s) {missing} are not in the notes table "
                       f"(files: {', '.join(sorted(df['file'].unique())[:5])}, ...)")
    kept = df[~df["file"].isin(exclude)]
    names, lengths = np.unique(kept["file"].to_numpy(), return_counts=True)
    order = kept.sort_values(["file", "index"], kind="stable")  # parquet order already; be explicit
    return order[FEATURES].to_numpy(np.float32), lengths, list(names)


def split_windows(windows: NoteWindows, val_fraction: float, seed: int) -> tuple[NoteWindows, NoteWindows]:
    """Seeded random train/validation split of the windows, as the chapter's ``random_split``:
    the validation part is ``int(n * val_fraction)`` windows, the rest train.

    Like the chapter, the split is over windows, so neighbouring (overlapping) windows of one file
    can fall on both sides: the validation loss is not a held-out-piece estimate.
    """
    n = len(windows)
    n_val = int(n * val_fraction)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return windows.subset(order[: n - n_val]), windows.subset(order[n - n_val:])


class MidiWindowDataModule(TensorDataModule):
    """Train/validation windows of the classical-piano notes, batched by indexing."""

    def __init__(self, processed_dir: Path, *, seq_length: int, val_fraction: float, batch_size: int,
                 seed: int, holdout: tuple[str, ...] = ()):
        from dllaunchpad.datasets.classical_piano import load_notes

        notes, lengths, files = corpus_arrays(load_notes(processed_dir), exclude=holdout)
        windows = NoteWindows(torch.from_numpy(notes), torch.from_numpy(window_starts(lengths, seq_length)),
                              seq_length)
        if len(windows) == 0:
            raise ValueError(f"{processed_dir}: no file has more than seq_length={seq_length} notes")
        train, val = split_windows(windows, val_fraction, seed)
        super().__init__(train=(train,), val=(val,) if len(val) else None, batch_size=batch_size, seed=seed)
        self.files, self.windows = files, windows
