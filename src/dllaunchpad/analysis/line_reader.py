"""Reading a line of digits and uppercase letters into a string (chapter 31.9, exercise 8 d).

The classifier sees one MNIST-framed 28x28 character at a time, so a line is first cut into
characters, then each piece is framed as MNIST frames a digit and classified:

- :func:`segment`: the column projection. A column is ink when its brightest pixel is above a
  threshold; a run of ink columns is one character, an empty run of at least ``space_gap``
  columns between two characters is a space. This assumes the characters do not touch: two
  touching (or overlapping) characters have no empty column between them and come out as one
  span. The simple remedy here: a span much wider than a character (more than ``split_factor``
  times the typical width) is cut into as many equal parts as typical widths fit in it, each cut
  moved to the column of least ink near it, where two glyphs' strokes meet. It cannot help when
  the merged pair is no wider than one wide character (a "1" touching an "A" looks like a "W"'s
  width), nor with a character that breaks into pieces with an empty column between them.
- :func:`crops`: each span's columns, trimmed to the rows with ink and put through
  :func:`digit_images.mnist_centre`, so a crop looks like the MNIST digits the model learned from.
- :func:`read_line`: both, then the classifier, the labels mapped to characters and the spaces.
- :func:`character_accuracy`: 1 - Levenshtein edit distance / length of the truth, so a character
  read wrongly, one dropped (two merged into a span) or one added (one split in two) each
  cost one error, which a position-by-position comparison would not do: one missing character
  would make every later position wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from dllaunchpad.datasets.digit_images import SIZE, mnist_centre
from dllaunchpad.datasets.letter_images import CLASSES

Span = tuple[int, int]


def _runs(mask: np.ndarray) -> list[Span]:
    """Half-open (start, stop) of every run of True in a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _split(span: Span, parts: int, ink: np.ndarray) -> list[Span]:
    """span cut into `parts` about equal pieces, each cut moved (by at most a quarter of a piece)
    to the column of least ink, the nearest such column when several tie."""
    c0, c1 = span
    width = (c1 - c0) / parts
    reach = max(1, int(width / 4))
    cuts = [c0]
    for i in range(1, parts):
        ideal = round(c0 + i * width)
        lo, hi = max(cuts[-1] + 1, ideal - reach), min(c1 - 1, ideal + reach)
        if lo > hi:
            continue
        window = np.arange(lo, hi + 1)
        cost = ink[window]
        best = window[cost == cost.min()]
        cuts.append(int(best[np.argmin(np.abs(best - ideal))]))
    cuts.append(c1)
    return list(zip(cuts[:-1], cuts[1:]))


def segment(image: np.ndarray, threshold: float = 0.1, min_gap: int = 1, space_gap: int | None = None,
            split_factor: float = 1.6) -> list[Span | None]:
    """Characters of a line image (white on black, values in [0, 1]) as half-open column spans
    (col0, col1), left to right, with None between two spans for a space.

    Columns whose maximum is above `threshold` are ink. Two runs of ink separated by fewer than
    `min_gap` empty columns are one character; by at least `space_gap` (when given) a space.
    Touching characters merge into one span; a span wider than `split_factor` x the typical
    character width is split into round(width / typical) parts at the columns of least ink (see
    the module docstring). The typical width is the median span width, kept between 3/4 and 1 x
    the height of the line's ink: a character in the MNIST framing is about as wide as tall at
    most, and the clamp keeps a line of mostly narrow "1"s and "I"s from cutting its one "W", or a
    line of one merged pair from taking the pair as typical."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"segment: expected a 2-D grayscale line image, got shape {image.shape}")
    if min_gap < 1:
        raise ValueError(f"min_gap: at least 1 empty column, got {min_gap}")
    if space_gap is not None and space_gap < min_gap:
        raise ValueError(f"space_gap {space_gap}: below min_gap {min_gap}, a space would split nothing")
    columns = image.max(axis=0) > threshold
    spans: list[Span] = []
    gaps: list[int] = []  # gaps[i]: empty columns before spans[i + 1]
    for start, stop in _runs(columns):
        if spans and start - spans[-1][1] < min_gap:
            spans[-1] = (spans[-1][0], stop)
        else:
            if spans:
                gaps.append(start - spans[-1][1])
            spans.append((start, stop))
    if not spans:
        return []

    ink_rows = np.flatnonzero(image.max(axis=1) > threshold)
    height = int(ink_rows[-1] - ink_rows[0] + 1)
    typical = float(np.clip(np.median([b - a for a, b in spans]), 0.75 * height, 1.0 * height))
    ink = np.where(image > threshold, image, 0.0).sum(axis=0)
    out: list[Span | None] = []
    for i, span in enumerate(spans):
        if i and space_gap is not None and gaps[i - 1] >= space_gap:
            out.append(None)
        width = span[1] - span[0]
        if width > split_factor * typical:
            out.extend(_split(span, max(2, round(width / min(typical, 0.8 * height))), ink))
        else:
            out.append(span)
    return out


def crops(image: np.ndarray, spans: Sequence[Span | None]) -> np.ndarray:
    """(N, 28, 28) float32: each span's columns (the Nones of spaces skipped), rows trimmed to the
    ink, framed as MNIST frames a digit (20x20 box, centre of mass on the centre, 8-bit)."""
    image = np.asarray(image, dtype=np.float32)
    out = []
    for span in spans:
        if span is None:
            continue
        piece = image[:, span[0]:span[1]]
        rows = np.flatnonzero(piece.max(axis=1) > 0)
        # a piece cut from a wide span can hold no ink at all: it stays black, the classifier still
        # gets one image per span, so the labels keep lining up with the spans
        out.append(mnist_centre(piece[rows[0]:rows[-1] + 1]) if rows.size else np.zeros((SIZE, SIZE), np.float32))
    return np.stack(out) if out else np.zeros((0, SIZE, SIZE), np.float32)


def read_line(image: np.ndarray, classify: Callable[[np.ndarray], Sequence[int]], *,
              classes: Sequence[str] = CLASSES, threshold: float = 0.1, space_gap: int | None = None,
              min_gap: int = 1, split_factor: float = 1.6) -> str:
    """The string in a line image: :func:`segment`, :func:`crops`, then ``classify(batch)`` on
    all crops at once ((N, 28, 28) float32 -> N integer labels, an index into `classes`), and a
    space wherever segment found one."""
    spans = segment(image, threshold=threshold, min_gap=min_gap, space_gap=space_gap, split_factor=split_factor)
    batch = crops(image, spans)
    labels = np.asarray(classify(batch)).reshape(-1) if len(batch) else np.zeros(0, np.int64)
    if len(labels) != len(batch):
        raise ValueError(f"classify: {len(labels)} labels for {len(batch)} characters")
    chars = iter(labels)
    out = []
    for span in spans:
        if span is None:
            out.append(" ")
            continue
        label = int(next(chars))
        if not 0 <= label < len(classes):
            raise ValueError(f"classify: label {label} outside the {len(classes)} classes")
        out.append(classes[label])
    return "".join(out)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest substitutions, insertions and deletions that turn a into b."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1,                 # a's character dropped
                               current[j - 1] + 1,              # b's character inserted
                               previous[j - 1] + (ca != cb)))   # kept or substituted
        previous = current
    return previous[-1]


def character_accuracy(predicted: str, truth: str) -> float:
    """1 - edit_distance(predicted, truth) / len(truth), floored at 0: a wrong, dropped or extra
    character each count as one error. An empty truth scores 1.0 read as empty, else 0.0."""
    if not truth:
        return 1.0 if not predicted else 0.0
    return max(0.0, 1.0 - edit_distance(predicted, truth) / len(truth))
