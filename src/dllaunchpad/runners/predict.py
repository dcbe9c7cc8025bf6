"""`dllaunchpad predict <experiment> <image.png>`: the chapter's "try your own digit" exercises
(31.9, exercise 6 b-d, f, i, k).

- MNIST classifiers (families mlp_classifier and cnn_classifier on mnist): the image must be a
  28x28 grayscale PNG, a white digit on a black background like MNIST; we print the softmax
  scores and the predicted digit.
- The denoising autoencoder: the (optionally further noised) image goes through the network and
  the cleaned 28x28 image is written as a PNG (`--out`).

Other sizes or modes are refused with a message naming the file, unless `--resize`, which
converts to grayscale (PIL's ITU-R 601 luma) and resamples to 28x28. Pixels are scaled to
[0, 1] as in training (uint8 / 255, what the chapter's plt.imread gives for an 8-bit PNG).
An image that declares more than MAX_PIXELS pixels is refused from its header, before decoding:
a PNG of a few kilobytes can declare 20000x20000 pixels (a decompression bomb).
The weights are the ones evaluation uses (best.ckpt when training kept one, else last.ckpt),
loaded with weights_only=True.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dllaunchpad.pipeline import provenance
from dllaunchpad.pipeline.registry import Experiment

SIZE = 28
GRAYSCALE_MODES = {"L", "1"}  # 8-bit grayscale, and 1-bit black/white (read as 0 or 255)
CLASSIFIER_FAMILIES = {"mlp_classifier", "cnn_classifier"}
DENOISER_FAMILIES = {"denoising_autoencoder"}
# The largest image read (then resized with --resize): a 6000x6000 phone photo or scan of a digit
# is 36 megapixels; decoding more is a memory risk with nothing to gain for a 28x28 input. Below
# PIL's own bomb limit (Image.MAX_IMAGE_PIXELS, ~89 Mpx), which is caught too.
MAX_PIXELS = 6000 * 6000


def read_digit(path: str | Path, resize: bool = False) -> tuple[np.ndarray, list[str]]:
    """(28x28 float32 image in [0, 1], warnings). Refuses anything but a 28x28 grayscale PNG
    unless `resize`."""
    from PIL import Image, UnidentifiedImageError

    import warnings

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # PIL's "maybe a bomb"
            with Image.open(path) as im:  # reads the header only: the size is known, nothing decoded
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise ValueError(
                        f"{path}: declares {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), over "
                        f"the {MAX_PIXELS / 1e6:.0f}-megapixel limit: refused before decoding (a decompression "
                        f"bomb, or not a digit image); expected a {SIZE}x{SIZE} grayscale PNG")
                im.load()
                fmt, image = im.format, im.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"{path}: refused before decoding: {exc}") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from None
    if fmt != "PNG":
        raise ValueError(f"{path}: is a {fmt} file; expected a PNG")
    problems = []
    if image.size != (SIZE, SIZE):
        problems.append(f"is {image.size[0]}x{image.size[1]} pixels, expected {SIZE}x{SIZE}")
    if image.mode not in GRAYSCALE_MODES:
        problems.append(f"has mode {image.mode}, expected 8-bit grayscale (L)")
    if problems and not resize:
        raise ValueError(f"{path}: {' and '.join(problems)}; pass --resize to convert it to a "
                         f"{SIZE}x{SIZE} grayscale image")
    warnings = [f"{path}: converted: {p}" for p in problems]
    image = image.convert("L")
    if image.size != (SIZE, SIZE):
        image = image.resize((SIZE, SIZE), Image.LANCZOS)
    pixels = np.asarray(image, np.float32) / 255.0
    if pixels.mean() > 0.5:
        warnings.append(f"{path}: mostly light pixels: the models were trained on white digits on a black "
                        "background (MNIST); invert the image if it is a dark digit on white")
    return pixels, warnings


def classify(module, image: np.ndarray) -> np.ndarray:
    """Softmax scores (10,) for one 28x28 image, shaped the way the network was trained."""
    import torch

    x = torch.from_numpy(image)[None]  # (1, 28, 28): the MLP flattens it
    if getattr(module, "in_channels", None) == 1:
        x = x[:, None]                  # (1, 1, 28, 28) for the CNN
    return module.predict_proba(x)[0].numpy()


def denoise(module, image: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(image)[None, None])[0, 0].numpy()


def add_noise(image: np.ndarray, factor: float, seed: int) -> np.ndarray:
    """The chapter's exercise: image + factor * N(0, 1), clipped to [0, 1] (seeded)."""
    rng = np.random.default_rng(seed)
    return np.clip(image + factor * rng.standard_normal(image.shape), 0, 1).astype(np.float32)


def write_png(path: Path, image: np.ndarray) -> Path:
    from PIL import Image

    from dllaunchpad import io

    with io.atomic_path(path) as tmp:
        Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), mode="L").save(tmp, format="PNG")
    return path


def predict(exp: Experiment, image_path: str | Path, *, resize: bool = False,
            out: str | Path | None = None, noise: float = 0.0, seed: int = 0) -> str:
    """Run the exercise for one image; returns the text to print."""
    is_classifier = exp.family in CLASSIFIER_FAMILIES and exp.dataset == "mnist"
    if not is_classifier and exp.family not in DENOISER_FAMILIES:
        raise ValueError(f"predict: {exp.name} is a {exp.family} on {exp.dataset}; predict works for the MNIST "
                         "classifiers (mlp_classifier, cnn_classifier on mnist) and the denoising autoencoder")
    if is_classifier and out:
        raise ValueError(f"predict: --out is for the denoising autoencoder; {exp.name} prints its scores")
    image, warnings = read_digit(image_path, resize)
    from dllaunchpad.runners.train import load_trained

    module = load_trained(exp)  # the network alone: predict reads no training data
    lines = [f"warning: {w}" for w in warnings]
    if noise:
        image = add_noise(image, noise, seed)
        lines.append(f"added noise: {noise:g} * N(0, 1), seed {seed}, clipped to [0, 1]")
    if is_classifier:
        scores = classify(module, image)
        lines.append(f"{exp.name}: softmax scores for {image_path}")
        lines += [f"  {digit}: {score:.6f}" for digit, score in enumerate(scores)]
        lines.append(f"predicted digit: {int(scores.argmax())} (score {scores.max():.4f})")
    else:
        path = Path(out) if out else Path(image_path).with_suffix(".denoised.png")
        write_png(path, denoise(module, image))
        lines.append(f"{exp.name}: wrote the cleaned image to {path}")
    card = f"{exp.model_dir}/{provenance.CARD}"
    lines += provenance.summary(provenance.read_card(exp.path(card)), card)  # what made this model
    return "\n".join(lines)
