"""Benchmark 3: the data paths.

- MNIST: the 60k-image train split from its prepared store (data/processed/mnist/train.npz,
  uint8) into the float32 array in [0, 1] that training uses, as `datasets.mnist.load` does it:
  one read and one vectorised conversion. Target: <= 3 s. For scale: decompressing and parsing
  the raw idx.gz files, which a loader without a prepared store would do on every run.
- MIDI windows (the LSTM music generator): windows per second served for one pass over the
  training windows, in batches of 64, by the pipeline's `NoteWindows` (one strided view of the
  note table; a batch is one gather), against the chapter's `MidiDataset` shape: a Python list
  holding every window as its own tensor, served by a torch DataLoader with per-sample
  `__getitem__` and the default collate.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from common import REPO, Row, best_of, ensure_prepared, finish, parser


def mnist_rows(repeat: int) -> list[Row]:
    from dllaunchpad.datasets import mnist

    processed = ensure_prepared("mnist")
    load = best_of(lambda: torch.from_numpy(mnist.load(processed, "train")[0]), repeat)
    raw = REPO / "data/raw/mnist"
    parse = best_of(lambda: mnist.read_idx_pair(raw / mnist.FILES["train"][0], raw / mnist.FILES["train"][1]), repeat)
    return [Row("3 data: MNIST", "train split, prepared store -> float32 tensor", load, "s", "<= 3 s", load <= 3.0,
                note=f"60000x28x28; parsing the raw idx.gz alone takes {parse:.2f} s"),]


class ListOfWindows(torch.utils.data.Dataset):
    """The chapter's MidiDataset: every window materialised as its own tensor in a list."""

    def __init__(self, notes: np.ndarray, lengths: np.ndarray, seq_length: int):
        self.windows = []
        start = 0
        for n in lengths:
            piece = torch.from_numpy(notes[start:start + n])
            self.windows += [piece[i:i + seq_length + 1].clone() for i in range(n - seq_length)]
            start += n

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, i):
        return self.windows[i]


def midi_rows(repeat: int) -> list[Row]:
    from dllaunchpad.training.batches import TensorBatches
    from dllaunchpad.datasets.classical_piano import load_notes
    from dllaunchpad.datasets.midi_windows import NoteWindows, corpus_arrays, window_starts

    from common import experiment

    exp = experiment("midi_lstm")
    seq, batch = exp.spec["data"]["seq_length"], exp.spec["trainer"]["batch_size"]
    processed = ensure_prepared("classical_piano")
    notes, lengths, _ = corpus_arrays(load_notes(processed))

    t0 = time.perf_counter()
    windows = NoteWindows(torch.from_numpy(notes), torch.from_numpy(window_starts(lengths, seq)), seq)
    build_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    listed = ListOfWindows(notes, lengths, seq)
    build_list = time.perf_counter() - t0
    assert len(listed) == len(windows)
    n = len(windows)
    # the same windows, whichever way they are served
    assert torch.equal(windows[torch.tensor([0, n - 1])], torch.stack([listed[0], listed[n - 1]]))

    def serve_ours():
        for (x,) in TensorBatches(windows, batch_size=batch, shuffle=True, seed=0):
            pass

    loader = torch.utils.data.DataLoader(listed, batch_size=batch, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))

    def serve_list():
        for x in loader:
            pass

    ours, plain = best_of(serve_ours, repeat), best_of(serve_list, repeat)
    return [
        Row("3 data: MIDI windows", "per-sample list + DataLoader (chapter's shape)", n / plain, "windows/s",
            note=f"{n} windows of {seq + 1} notes, batch {batch}; building the list {build_list:.2f} s"),
        Row("3 data: MIDI windows", "ours: strided view, one gather per batch", n / ours, "windows/s",
            note=f"{plain / ours:.0f}x the list; building the view {build_ours * 1000:.1f} ms"),
    ]


def main(args) -> list[Row]:
    return mnist_rows(args.repeat) + midi_rows(args.repeat)


if __name__ == "__main__":
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    finish(main(args), args)
