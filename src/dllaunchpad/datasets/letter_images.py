"""Uppercase letters (and digits) made by data augmentation from a few font glyphs (chapter 31.9,
exercise 8): 28x28 float32 images in [0, 1], a white character on black, normalised as MNIST is.

The exercise asks for one classifier of the 10 digits and the 26 uppercase letters, with the
letters generated "from a few source images by data augmentation" and lumped with an MNIST subset.
The source images are every character in every installed TrueType font (:func:`source_glyphs`;
the fonts and their lookup are those of :mod:`digit_images`, which CI installs). Each copy
(:func:`augmented_glyph`) is then made to look less typeset and more handwritten:

- drawn at RENDER_PX with a random extra stroke width: a pen line is thicker than a text face's;
- rotated by a few degrees and distorted elastically (Simard, Steinkraus & Platt 2003: a random
  displacement field per axis, uniform in [-1, 1], smoothed by a Gaussian of standard deviation
  sigma and multiplied by alpha), both in one resampling at render resolution, where a bend of a
  few pixels is a gentle wobble of the stroke rather than a torn one;
- put through MNIST's own normalisation (:func:`digit_images.mnist_centre`: the bounding box fitted
  to 20x20, the centre of mass on the centre), so a letter is framed as the MNIST digits it is
  lumped with are, and then scaled and shifted slightly in the 28x28 field, because MNIST's
  digits are not all exactly 20 pixels tall and their centring is rounded to whole pixels;
- quantised to 8 bits like MNIST (and like a PNG).

Every random choice of a copy comes from a ``numpy.random.Generator``: :func:`generate` seeds one
per copy from (seed, label, copy index), so the same seed gives byte-identical arrays and any
subset of the copies can be made alone. The label of an image is the index of its character in CLASSES,
so digits keep MNIST's labels 0-9 and letter L is ``10 + LETTERS.index(L)``; the augmentation
cannot change it (a copy of an "I" is an "I").

:func:`render_line` pastes such glyphs left to right into one line image, with the true column
span of every character, for the line reader (:mod:`dllaunchpad.analysis.line_reader`) and its
tests. It takes a ``glyph`` function too, so a line's digits can be MNIST's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from dllaunchpad.datasets.digit_images import (CENTRE, DEFAULT_FONTS, FONT_DIRS, RENDER_PX, SIZE, _quantised,
                                               find_fonts, mnist_centre)

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CLASSES = DIGITS + LETTERS  # label = index: digits keep MNIST's labels 0-9
# A column of a line counts as ink when its brightest pixel is above this (line_reader.segment's
# default too, so a rendered line's true boxes are exactly what the segmentation can find).
INK = 0.1
# render_line's spacing, in pixels of the 28-pixel-high line: between two characters a gap drawn
# from GAP (inclusive), a space adds SPACE to it, and MARGIN is left at both ends.
GAP = (3, 6)
SPACE = 14
MARGIN = 4
# The smallest empty run the line reader should read as a space on a line drawn with the
# defaults: half way between the widest gap between letters (6) and the narrowest space (17).
SPACE_GAP = (GAP[1] + GAP[0] + SPACE) // 2 + 1
_INSTALL = "(Debian/Ubuntu: apt-get install fonts-dejavu-core fonts-liberation fonts-freefont-ttf)"


@dataclass(frozen=True)
class Augment:
    """The ranges each augmented copy's random changes are drawn from (uniformly).

    max_rotation: degrees, either way. 12, as digit_images' renderer: a hand's slant, small
        enough that no letter turns into another.
    max_shift: pixels, either way along each axis, in the 28x28 field after MNIST's centring.
        1.5: MNIST's own centring is rounded to whole pixels; a classifier should not learn that
        letters sit exactly on the centre and digits do not.
    scale: (min, max) factor about the field's centre after the centring. MNIST's digits fill
        their 20x20 box but ink fades at their edges; (0.85, 1.1) varies the size by about that
        and keeps a letter (at most 22 pixels) inside the 28x28 field.
    stroke: (min, max) extra stroke width in pixels at RENDER_PX (whole, inclusive). A text face's
        stems are thin; (1, 6) makes them a pen's, about 3-5 pixels at 28x28 like MNIST's thick
        and thin writers.
    elastic_alpha, elastic_sigma: the elastic distortion, in pixels of the RENDER_PX canvas
        (font size 96, a capital ~70 pixels tall): the smoothed uniform(-1, 1) field times alpha
        is the displacement. The smoothing averages the noise away, leaving a standard deviation
        of about alpha / (6 sigma) pixels per axis, so alpha must grow with sigma. sigma 16 (4 of
        MNIST's pixels, Simard's value) bends whole strokes as a hand does; a sigma of 8 or less
        only frays their edges. alpha 300 moves them by ~3 pixels (up to ~8), about 2/3 of
        Simard's alpha 34 at 28x28: by eye still readable, where alpha 450 starts to turn some
        B into 8. alpha 0 turns it off.
    """

    max_rotation: float = 12.0
    max_shift: float = 1.5
    scale: tuple[float, float] = (0.85, 1.1)
    stroke: tuple[int, int] = (1, 6)
    elastic_alpha: float = 300.0
    elastic_sigma: float = 16.0

    def __post_init__(self):
        # YAML gives lists: store tuples so an Augment stays hashable and compares equal
        object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))
        object.__setattr__(self, "stroke", tuple(self.stroke))
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale: expected [min, max] with 0 < min <= max, got {list(self.scale)}")
        if (len(self.stroke) != 2 or not all(float(v).is_integer() for v in self.stroke)
                or not 0 <= self.stroke[0] <= self.stroke[1]):
            raise ValueError(f"stroke: expected whole pixels [min, max] with 0 <= min <= max, got {list(self.stroke)}")
        object.__setattr__(self, "stroke", tuple(int(v) for v in self.stroke))
        for name in ("max_rotation", "max_shift", "elastic_alpha"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: expected a number >= 0, got {getattr(self, name)!r}")
        if not self.elastic_sigma > 0:
            raise ValueError(f"elastic_sigma: expected a number > 0, got {self.elastic_sigma!r}")

    @classmethod
    def from_settings(cls, settings: Mapping | None = None, where: str = "augment") -> Augment:
        """An Augment from a params block such as ``{max_rotation: 10, scale: [0.9, 1.1]}``: the
        keys given replace the defaults; an unknown key (a typo would otherwise be ignored
        silently) or a bad value raises ValueError naming it, prefixed by `where`."""
        settings = dict(settings or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ValueError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(known)})")
        try:
            return cls(**settings)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _check_chars(chars: Iterable[str], allowed: str = CLASSES, what: str = "character") -> list[str]:
    chars = list(chars)
    for c in chars:
        if not (isinstance(c, str) and len(c) == 1 and c in allowed):
            raise ValueError(f"{c!r}: not a {what} of {allowed!r}")
    return chars


def _font_paths(fonts, dirs) -> list[Path]:
    paths = find_fonts(tuple(fonts), tuple(dirs))
    if not paths:
        raise FileNotFoundError(f"none of the fonts {list(fonts)} under {list(dirs)}: "
                                f"install TrueType fonts {_INSTALL}")
    return paths


def source_glyphs(chars: Iterable[str], fonts: tuple[str, ...] | list[str] = DEFAULT_FONTS,
                  dirs: tuple[str, ...] = FONT_DIRS) -> list[tuple[str, Path]]:
    """The few source images the augmentation starts from: (char, font file) for every char in
    every font found, char by char, fonts in the order named."""
    chars = _check_chars(chars)
    paths = _font_paths(fonts, dirs)
    return [(c, p) for c in chars for p in paths]


@functools.lru_cache(maxsize=16)
def _smoothing_matrix(n: int, sigma: float) -> tuple[np.ndarray, int]:
    """(K, step): K (m x n) evaluates the convolution of a length-n signal with a normalised
    Gaussian (truncated at 4 sigma, zeros beyond the edges) at every step-th position 0, step, ...
    (one past the end included). The smoothed field varies on the scale of sigma, so sampling it
    every sigma/2 pixels and interpolating linearly loses under ~3 % of it, and K F K^T, two
    matrix products, is a separable 2-D smoothing that numpy does fast without scipy."""
    step = max(1, int(sigma // 2))
    at = np.arange(0, n - 1 + step, step, dtype=np.float64)
    diff = np.arange(n)[None, :] - at[:, None]
    k = np.exp(-0.5 * (diff / sigma) ** 2) * (np.abs(diff) <= 4 * sigma)
    k /= np.exp(-0.5 * (np.arange(-int(4 * sigma), int(4 * sigma) + 1) / sigma) ** 2).sum()
    k = k.astype(np.float32)
    k.setflags(write=False)
    return k, step


def _interpolation_matrix(positions: np.ndarray, step: int, m: int) -> np.ndarray:
    """U (len(positions) x m): U @ v is v (samples at 0, step, ...) linearly interpolated at positions."""
    t = positions / step
    i0 = np.clip(np.floor(t).astype(np.int64), 0, m - 2)
    f = (t - i0).astype(np.float32)
    u = np.zeros((len(positions), m), np.float32)
    rows = np.arange(len(positions))
    u[rows, i0] = 1 - f
    u[rows, i0 + 1] = f
    return u


def _bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """image sampled at fractional (rows, cols), bilinearly, black outside the image."""
    h, w = image.shape
    # a black border (two wide at the far ends, for the +1 neighbour): out-of-range reads land on it
    padded = np.zeros((h + 3, w + 3), np.float32)
    padded[1:h + 1, 1:w + 1] = image
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = (rows - r0).astype(np.float32), (cols - c0).astype(np.float32)
    idx = (np.clip(r0, -1, h).astype(np.int64) + 1) * (w + 3) + np.clip(c0, -1, w).astype(np.int64) + 1
    flat = padded.ravel()
    a, b = flat[idx], flat[idx + 1]
    c, d = flat[idx + w + 3], flat[idx + w + 4]
    top = a + fc * (b - a)
    return top + fr * (c + fc * (d - c) - top)


@functools.lru_cache(maxsize=64)
def _font(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


def _draw(char: str, font_path: Path | str, stroke: int) -> np.ndarray:
    """The char white on black, centred on a 2*RENDER_PX canvas (room to rotate), in [0, 1]."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (2 * RENDER_PX, 2 * RENDER_PX), 0)
    ImageDraw.Draw(canvas).text((RENDER_PX, RENDER_PX), char, fill=255, font=_font(str(font_path), RENDER_PX),
                                anchor="mm", stroke_width=stroke, stroke_fill=255)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def augmented_glyph(char: str, font_path: Path | str, rng: np.random.Generator,
                    augment: Augment = Augment()) -> np.ndarray:
    """One augmented copy of `char` in the font `font_path`: (28, 28) float32 in [0, 1], 8-bit.

    The draws, in this order whatever the settings (so turning one change off leaves the others'
    values as they were): stroke, rotation, the two displacement fields, scale, shift."""
    _check_chars([char])
    a = augment
    stroke = int(rng.integers(a.stroke[0], a.stroke[1] + 1))
    angle = np.deg2rad(rng.uniform(-a.max_rotation, a.max_rotation))
    canvas = _draw(char, font_path, stroke)
    n = canvas.shape[0]
    field = 2 * rng.random((2, n, n), dtype=np.float32) - 1  # uniform in [-1, 1)
    scale = rng.uniform(*a.scale)
    shift = rng.uniform(-a.max_shift, a.max_shift, size=2)

    # Rotation and elastic displacement in one inverse mapping: each output pixel reads the canvas
    # at the point it came from, so the glyph is resampled once, not twice.
    c = (n - 1) / 2
    cos, sin = np.cos(angle), np.sin(angle)
    if a.elastic_alpha > 0:
        k, step = _smoothing_matrix(n, float(a.elastic_sigma))
        # einsum, not @: products this small lose to BLAS's threads, which on a busy machine wait
        # for each other (measured on 2 shared cores: 30 ms with @, 0.6 ms with einsum)
        coarse = a.elastic_alpha * np.einsum("fij,lj->fil", np.einsum("ij,fjk->fik", k, field), k)  # (2, m, m)
        reach = float(np.abs(coarse).max())  # linear interpolation never exceeds its samples
    else:
        reach = 0.0
    # Only the output pixels that can receive ink: the glyph's box, widened by the largest
    # displacement, rotated: typically a third of the canvas, and a third of the work.
    ink_rows, ink_cols = np.nonzero(canvas > 0)
    if ink_rows.size == 0:
        raise ValueError(f"{char!r}: {Path(font_path).name} draws nothing for it")
    m = int(np.ceil(reach)) + 2
    qy = np.array([ink_rows.min() - m, ink_rows.max() + m]) - c
    qx = np.array([ink_cols.min() - m, ink_cols.max() + m]) - c
    qy, qx = np.meshgrid(qy, qx)
    py, px = cos * qy - sin * qx + c, sin * qy + cos * qx + c  # the corners' output positions
    r0, r1 = max(0, int(np.floor(py.min()))), min(n, int(np.ceil(py.max())) + 1)
    c0, c1 = max(0, int(np.floor(px.min()))), min(n, int(np.ceil(px.max())) + 1)
    y = np.arange(r0, r1, dtype=np.float32)[:, None] - c
    x = np.arange(c0, c1, dtype=np.float32)[None, :] - c
    rows, cols = sin * x + cos * y + c, cos * x - sin * y + c  # counter-clockwise by `angle` on screen
    if a.elastic_alpha > 0:
        ur = _interpolation_matrix(np.arange(r0, r1), step, coarse.shape[1])
        uc = _interpolation_matrix(np.arange(c0, c1), step, coarse.shape[2])
        dy, dx = np.einsum("fij,lj->fil", np.einsum("ij,fjk->fik", ur, coarse), uc)
        rows, cols = rows + dy, cols + dx
    warped = _bilinear(canvas, rows, cols)
    if warped.max() <= 0:
        raise ValueError(f"{char!r} in {Path(font_path).name}: the augmented glyph is empty (too strong a distortion?)")
    centred = mnist_centre(warped.astype(np.float32))

    # Scale about the centre and shift, in the 28x28 field, as an inverse mapping again.
    y, x = np.indices((SIZE, SIZE), dtype=np.float32)
    out = _bilinear(centred, (y - CENTRE - shift[0]) / scale + CENTRE, (x - CENTRE - shift[1]) / scale + CENTRE)
    return _quantised(out)


def generate(chars: Iterable[str], per_char: int, seed: int, augment: Augment = Augment(),
             fonts: tuple[str, ...] | list[str] = DEFAULT_FONTS,
             dirs: tuple[str, ...] = FONT_DIRS,
             copies: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images (N, 28, 28) float32, labels (N,) int64, font file name per image): `per_char`
    augmented copies of every char in `chars` (any of CLASSES), char by char, each from a font
    drawn at random.

    Copy k of a char draws everything from its own ``default_rng([seed, label, k])``, so the same
    seed gives the same bytes, and `copies` (indices below per_char) makes just those copies of
    each char, identical to the same copies of a full run: an evaluation that needs only the test
    part of a pool renders only that part."""
    chars = _check_chars(chars)
    if int(per_char) != per_char or per_char < 1:
        raise ValueError(f"per_char: expected a whole number >= 1, got {per_char!r}")
    ks = list(range(int(per_char))) if copies is None else [int(k) for k in copies]
    if any(k < 0 or k >= per_char for k in ks):
        raise ValueError(f"copies: every index must be in 0..{int(per_char) - 1}, got {sorted(ks)[:3]}...")
    paths = _font_paths(fonts, dirs)
    n = len(chars) * len(ks)
    images = np.empty((n, SIZE, SIZE), np.float32)
    labels = np.empty(n, np.int64)
    used = []
    i = 0
    for char in chars:
        label = CLASSES.index(char)
        for k in ks:
            rng = np.random.default_rng([seed, label, k])
            font = paths[int(rng.integers(len(paths)))]
            images[i] = augmented_glyph(char, font, rng, augment)
            labels[i] = label
            used.append(font.name)
            i += 1
    return images, labels, used


def _ink_columns(image: np.ndarray, threshold: float = INK) -> tuple[int, int]:
    cols = np.flatnonzero(image.max(axis=0) > threshold)
    if cols.size == 0:
        raise ValueError(f"a glyph without ink (no column above {threshold})")
    return int(cols[0]), int(cols[-1]) + 1


def render_line(text: str, seed: int, augment: Augment = Augment(),
                fonts: tuple[str, ...] | list[str] = DEFAULT_FONTS, dirs: tuple[str, ...] = FONT_DIRS,
                gap: tuple[int, int] = GAP, space: int = SPACE, height: int = SIZE, margin: int = MARGIN,
                glyph: Callable[[str, np.random.Generator], np.ndarray] | None = None,
                ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(image (height, W) float32 in [0, 1], [(col0, col1)] per non-space char): a synthetic line.

    Every non-space char is a 28x28 glyph (:func:`augmented_glyph` in a font drawn at random, or
    ``glyph(char, rng)`` when given), cut to its ink columns (brighter than INK) and pasted left
    to right, `margin` pixels in from both ends, rows centred in `height`. Between two chars lie
    a gap drawn from `gap` (whole pixels, inclusive) plus `space` per space between them; spaces
    at the start or the end only widen the margin (nothing can tell them from it). The boxes are
    the half-open column spans of the chars, the truth a segmentation should find."""
    _check_chars([c for c in text if c != " "], what="character (or a space)")
    if not text.strip():
        raise ValueError(f"{text!r}: no characters to draw")
    if height < SIZE:
        raise ValueError(f"height: at least {SIZE} (a glyph's height), got {height}")
    if not 0 <= gap[0] <= gap[1] or space < 0 or margin < 0:
        raise ValueError(f"gap {gap}, space {space}, margin {margin}: expected 0 <= gap[0] <= gap[1], space >= 0, "
                         "margin >= 0")
    rng = np.random.default_rng(seed)
    if glyph is None:
        paths = _font_paths(fonts, dirs)

        def glyph(char, rng):
            return augmented_glyph(char, paths[int(rng.integers(len(paths)))], rng, augment)

    pieces, starts, col, spaces = [], [], margin, 0
    for char in text.strip(" "):
        if char == " ":
            spaces += 1
            continue
        if pieces:  # a gap drawn per pair of neighbours, after the glyph before it
            col += int(rng.integers(gap[0], gap[1] + 1)) + space * spaces
        spaces = 0
        image = np.asarray(glyph(char, rng), dtype=np.float32)
        if image.shape != (SIZE, SIZE):
            raise ValueError(f"glyph({char!r}): expected a {SIZE}x{SIZE} image, got {image.shape}")
        c0, c1 = _ink_columns(image)
        pieces.append(image[:, c0:c1])
        starts.append(col)
        col += c1 - c0
    line = np.zeros((height, col + margin), np.float32)
    top = (height - SIZE) // 2
    boxes = []
    for piece, start in zip(pieces, starts):
        line[top:top + SIZE, start:start + piece.shape[1]] = piece
        boxes.append((start, start + piece.shape[1]))
    return np.clip(line, 0.0, 1.0), boxes
