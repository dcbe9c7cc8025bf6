"""Digit images outside MNIST: "your own digit" (chapter 31.9, exercise 6 b-f, i, k, l).

Two sources, both giving 28x28 float32 images in [0, 1], a white digit on black like MNIST:

- :func:`render_digits`: digits 0-9 drawn from TrueType fonts with PIL, seeded (font, size,
  rotation and stroke weight drawn from ``numpy.random.default_rng(seed)``), then put through
  MNIST's own normalisation (:func:`mnist_centre`). The fonts are looked up by file name under
  FONT_DIRS; CI installs fonts-dejavu-core, fonts-liberation and fonts-freefont-ttf.
- :func:`read_folder`: the reader's own PNGs, named ``<label>_<anything>.png`` (``7_mine.png``,
  ``3_scan2.png``): the digit before the first underscore is the true label. A 28x28 image is
  taken as it is (the exercise asks for exactly that); any other size is cropped to its digit and
  normalised like MNIST. A mostly light image (a dark digit on paper) is inverted, and says so.

MNIST's normalisation (LeCun et al.): the digit's bounding box is scaled, keeping its aspect
ratio, to fit a 20x20 box (anti-aliased), then placed in the 28x28 field so that its centre of
mass falls on the field's centre (pixel coordinate 13.5, rounded to a whole-pixel shift).

Every image is quantised to 8 bits (what a PNG holds), so a rendered digit written as a PNG and
read back gives the same numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SIZE, BOX = 28, 20
CENTRE = (SIZE - 1) / 2  # 13.5: the field's centre in pixel-index coordinates
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
# Regular faces of the three free families CI installs (fonts-dejavu-core has no italics).
DEFAULT_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "LiberationSans-Regular.ttf",
                 "LiberationSerif-Regular.ttf", "LiberationMono-Regular.ttf", "FreeSans.ttf", "FreeSerif.ttf",
                 "FreeMono.ttf")
# The largest image read from a folder (a phone photo of a digit is ~12-36 Mpx): refused from its
# header, before decoding.
MAX_PIXELS = 6000 * 6000
NAME = re.compile(r"^([0-9])_.+\.png$", re.IGNORECASE)
RENDER_PX = 96       # font size the digits are drawn at before MNIST's 20x20 downscaling
MAX_ROTATION = 12.0  # degrees, either way
MIN_STROKE, MAX_STROKE = 1, 5  # extra stroke width in pixels at RENDER_PX (a pen, not a thin face)


@dataclass(frozen=True)
class Digit:
    name: str          # file name (rendered: <label>_<font>_<k>.png)
    label: int
    image: np.ndarray  # (28, 28) float32 in [0, 1]
    note: str = ""     # what was done to it (converted, inverted), for the table


def _quantised(image: np.ndarray) -> np.ndarray:
    return (np.round(np.clip(image, 0.0, 1.0) * 255) / 255).astype(np.float32)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted mean pixel position."""
    total = float(image.sum())
    if total <= 0:
        raise ValueError("an empty (all black) image has no centre of mass")
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def mnist_centre(image: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Any-size grayscale image (white digit on black, values in [0, 1] or 0-255) -> 28x28 in
    [0, 1], normalised as MNIST: crop to the pixels above `threshold` x max, scale the crop to fit
    20x20 keeping its aspect ratio, place it so the centre of mass is at the centre."""
    from PIL import Image

    image = np.asarray(image, dtype=np.float32)
    if image.max() > 1.0:
        image = image / 255.0
    peak = float(image.max())
    if peak <= 0:
        raise ValueError("an empty (all black) image has no digit to centre")
    rows, cols = np.nonzero(image > threshold * peak)
    crop = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL sizes are (width, height)
    small = Image.fromarray(np.round(crop / peak * 255).astype(np.uint8), mode="L").resize(new, Image.LANCZOS)
    small = np.asarray(small, dtype=np.float32) / 255.0
    cy, cx = centre_of_mass(small)
    top, left = round(CENTRE - cy), round(CENTRE - cx)
    out = np.zeros((SIZE, SIZE), np.float32)
    # paste with clipping: a digit whose mass sits near one edge could be shifted past the field
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(SIZE, top + small.shape[0]), min(SIZE, left + small.shape[1])
    out[r0:r1, c0:c1] = small[r0 - top:r1 - top, c0 - left:c1 - left]
    return _quantised(out)


def find_fonts(names: tuple[str, ...] | list[str] = DEFAULT_FONTS, dirs: tuple[str, ...] = FONT_DIRS) -> list[Path]:
    """The font files named, in the order named, found under `dirs` (missing ones left out)."""
    found: dict[str, Path] = {}
    for d in dirs:
        if Path(d).is_dir():
            for p in sorted(Path(d).rglob("*")):
                if p.suffix.lower() in (".ttf", ".otf") and p.name not in found:
                    found[p.name] = p
    return [found[n] for n in names if n in found]


def render_digit(digit: int, font_path: Path, *, rotation: float = 0.0, stroke: int = 0) -> np.ndarray:
    """One digit drawn white on black at RENDER_PX, rotated, then MNIST-normalised to 28x28."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), RENDER_PX)
    canvas = Image.new("L", (2 * RENDER_PX, 2 * RENDER_PX), 0)
    ImageDraw.Draw(canvas).text((RENDER_PX, RENDER_PX), str(digit), fill=255, font=font, anchor="mm",
                                stroke_width=stroke, stroke_fill=255)
    canvas = canvas.rotate(rotation, resample=Image.BICUBIC)
    return mnist_centre(np.asarray(canvas))


def render_digits(seed: int, per_digit: int = 2, fonts: tuple[str, ...] | list[str] = DEFAULT_FONTS,
                  dirs: tuple[str, ...] = FONT_DIRS) -> list[Digit]:
    """`per_digit` renderings of each digit 0-9 (labels in order), each from a font, rotation and
    stroke drawn from default_rng(seed): the same seed and fonts give the same images."""
    paths = find_fonts(fonts, dirs)
    if not paths:
        raise FileNotFoundError(f"none of the fonts {list(fonts)} under {list(dirs)}: install TrueType fonts "
                                "(Debian/Ubuntu: apt-get install fonts-dejavu-core fonts-liberation "
                                "fonts-freefont-ttf) or put your own digit PNGs in a folder (data.folder)")
    rng = np.random.default_rng(seed)
    out = []
    for digit in range(10):
        for k in range(per_digit):
            font = paths[int(rng.integers(len(paths)))]
            rotation = float(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
            stroke = int(rng.integers(MIN_STROKE, MAX_STROKE + 1))
            out.append(Digit(f"{digit}_{font.stem}_{k}.png", digit,
                             render_digit(digit, font, rotation=rotation, stroke=stroke),
                             f"{font.stem}, {rotation:+.1f} deg, stroke {stroke}"))
    return out


def read_png(path: Path) -> tuple[np.ndarray, str]:
    """(28x28 float32 image in [0, 1], note) for one PNG; refuses non-PNGs and huge images."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:  # the header only: the size is known before decoding
                if im.size[0] * im.size[1] > MAX_PIXELS:
                    raise ValueError(f"{path}: declares {im.size[0]}x{im.size[1]} pixels, over the "
                                     f"{MAX_PIXELS // 10**6}-megapixel limit (refused before decoding)")
                if im.format != "PNG":
                    raise ValueError(f"{path}: is a {im.format} file; expected a PNG")
                im.load()
                size, mode, image = im.size, im.mode, im.convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: not a readable PNG ({exc})") from None
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    notes = [] if mode in ("L", "1") else [f"{mode} converted to grayscale"]
    if pixels.mean() > 0.5:  # a dark digit on light paper: MNIST digits are white on black
        pixels = 1.0 - pixels
        notes.append("inverted (was dark on light)")
    if size != (SIZE, SIZE):
        pixels = mnist_centre(pixels)
        notes.append(f"{size[0]}x{size[1]} cropped and centred like MNIST")
    return _quantised(pixels), "; ".join(notes)


def read_folder(folder: Path | str) -> tuple[list[Digit], list[str]]:
    """([Digit] sorted by file name, [names skipped: not <label>_<anything>.png]) of a folder."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of digit images (data.folder)")
    digits, skipped = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        m = NAME.match(path.name)
        if not m:
            skipped.append(path.name)
            continue
        image, note = read_png(path)
        digits.append(Digit(path.name, int(m.group(1)), image, note))
    if not digits:
        raise ValueError(f"{folder}: no digit images; name them <label>_<anything>.png (e.g. 7_mine.png), "
                         f"28x28 grayscale, a white digit on black" + (f" (skipped: {skipped})" if skipped else ""))
    return digits, skipped


def write_png(path: Path, image: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), mode="L").save(path, format="PNG")
    return path
