"""Exercise 31.9.8: one classifier for the 10 digits and the 26 uppercase letters, and a routine
that reads a line of them into a string.

(a) The letters are made by data augmentation from a few source images: every letter drawn in
each installed TrueType font (datasets/letter_images.py), each copy rotated, distorted
elastically, thickened, shifted and scaled by a seeded generator, then normalised as MNIST is.
(b) They are lumped with as many MNIST digits per class (drawn, seeded, from MNIST's training
split) and the pool of 36 balanced classes is split, per class and seeded, into training,
validation (for early stopping) and test parts.
(c) A CNN (the chapter's MNIST CNN shape, 36 outputs) trains with early stopping and the weights
of the best validation epoch; the variants add dropout and weight decay.
(d) Lines of text are rendered the same way (letters from a stream the training never saw,
digits from MNIST's *test* split, so both are new to the model), segmented into characters by
their ink columns and classified one by one (analysis/line_reader.py); the score is the
character accuracy, 1 - edit distance / length.

What the exercise asks to look at: the confusion of look-alikes (8/B, 1/I, 0/O, 5/S, 2/Z, 6/G),
counted both ways in the metrics and drawn as a sub-matrix beside the full 36 x 36 one.

A caveat: the letters are typefaces made to look handwritten, the digits are handwriting. A
model could lean on "typeset or handwritten" to tell an 8 from a B; the elastic distortion and
the stroke widths are there to blur that cue. No handwritten letter is tested, so whether a
handwritten B would be read as an 8 is not measured here.

params: data {per_class, val_fraction, test_fraction, augment: {...} (letter_images.Augment),
fonts (optional file names)}, model {filters, pool, dense, dropout (per dense layer),
kernel_size}, evaluate {lines (texts read by the line reader), random_lines, random_length}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.datasets import letter_images as li
from dllaunchpad.experiments import _classification
from dllaunchpad.models.cnn_classifier import CNNClassifier
from dllaunchpad.training.batches import TensorDataModule

CLASSES = list(li.CLASSES)  # "0".."9", "A".."Z": label = index, so digits keep MNIST's labels
# The look-alike pairs the exercise names (8/B, 1/I) and their neighbours.
LOOK_ALIKES = [("8", "B"), ("1", "I"), ("0", "O"), ("5", "S"), ("2", "Z"), ("6", "G")]


def _augment(exp) -> li.Augment:
    return li.Augment.from_settings(exp.spec["data"].get("augment") or {},
                                    where=f"experiments.{exp.variant_of or exp.name}.data.augment")


def _fonts(exp) -> tuple[str, ...]:
    return tuple(exp.spec["data"].get("fonts") or li.DEFAULT_FONTS)


def part_copies(n: int, val_fraction: float, test_fraction: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """{train, val, test}: sorted copy indices 0..n-1 of one class, shuffled and cut by the
    fractions, so every part holds every class in the same proportion."""
    order = rng.permutation(n)
    n_test, n_val = round(test_fraction * n), round(val_fraction * n)
    return {"test": np.sort(order[:n_test]), "val": np.sort(order[n_test:n_test + n_val]),
            "train": np.sort(order[n_test + n_val:])}


def part(exp, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One part ("train", "val" or "test") of the pool: (x (N, 1, 28, 28) float32, y int64).

    The pool holds per_class images of each of the 36 classes: MNIST training digits drawn per
    digit (seeded), and augmented copies of every letter. Each class is cut into parts by its own
    seeded permutation of copy indices, and a letter's copy k is rendered from its own seed
    (letter_images.generate), so a part is made without rendering the rest of the pool."""
    from dllaunchpad.datasets import mnist

    data = exp.spec["data"]
    n = int(data["per_class"])
    cut = {label: part_copies(n, float(data["val_fraction"]), float(data["test_fraction"]),
                              np.random.default_rng([exp.seed, 9, label]))[name] for label in range(len(CLASSES))}
    x_mnist, y_mnist = mnist.load(exp.data_dir, "train")
    xs, ys = [], []
    for d in range(10):
        pool = np.flatnonzero(y_mnist == d)
        if len(pool) < n:
            raise ValueError(f"experiments.{exp.variant_of or exp.name}.data.per_class {n}: the prepared MNIST "
                             f"has {len(pool)} training images of the digit {d}")
        pick = np.sort(np.random.default_rng([exp.seed, 8, d]).choice(pool, n, replace=False))[cut[d]]
        xs.append(x_mnist[pick].astype(np.float32))
        ys.append(np.full(len(pick), d, np.int64))
    aug, fonts = _augment(exp), _fonts(exp)
    for letter in li.LETTERS:
        images, labels, _ = li.generate(letter, n, seed=exp.seed, augment=aug, fonts=fonts,
                                        copies=cut[CLASSES.index(letter)])
        xs.append(images)
        ys.append(labels)
    return torch.from_numpy(np.concatenate(xs)).unsqueeze(1), torch.from_numpy(np.concatenate(ys))


def model(exp) -> CNNClassifier:
    m = exp.spec["model"]
    return CNNClassifier(1, 28, m["filters"], m["pool"], m["dense"], len(CLASSES), exp.spec["optimizer"],
                         kernel_size=m.get("kernel_size", 3), dropout=m.get("dropout"))


def build(exp):
    dm = TensorDataModule(part(exp, "train"), val=part(exp, "val"), batch_size=exp.spec["trainer"]["batch_size"],
                          seed=exp.seed)
    return model(exp), dm


def look_alike_counts(counts: np.ndarray) -> dict[str, int]:
    """For each look-alike pair (a, b): a predicted as b, b predicted as a, and both together."""
    out = {}
    for a, b in LOOK_ALIKES:
        i, j = CLASSES.index(a), CLASSES.index(b)
        out[f"confusion_{a}_as_{b}"] = int(counts[i, j])
        out[f"confusion_{b}_as_{a}"] = int(counts[j, i])
        out[f"confusion_{a}_{b}"] = int(counts[i, j] + counts[j, i])
    return out


def classify_fn(module):
    """(N, 28, 28) float32 images -> (N,) predicted labels, for the line reader."""
    def classify(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)
        return _classification.predict_logits(module, x).argmax(1).numpy()
    return classify


def line_texts(exp) -> list[str]:
    """The evaluate block's fixed lines, then random_lines seeded strings of random_length
    characters (digits and letters, one space in the middle)."""
    ev = exp.spec.get("evaluate") or {}
    texts = [str(t) for t in ev.get("lines", [])]
    rng = np.random.default_rng([exp.seed, 10])
    length = int(ev.get("random_length", 8))
    for _ in range(int(ev.get("random_lines", 0))):
        chars = [CLASSES[int(k)] for k in rng.integers(len(CLASSES), size=length)]
        chars.insert(length // 2, " ")
        texts.append("".join(chars))
    for text in texts:
        bad = sorted({c for c in text if c != " " and c not in CLASSES})
        if bad or not text.strip():
            raise ValueError(f"experiments.{exp.variant_of or exp.name}.evaluate.lines: {text!r} "
                             + (f"has characters outside 0-9 A-Z: {bad}" if bad else "is empty"))
    return texts


def render_lines(exp, texts: list[str]) -> list[np.ndarray]:
    """Each text as one image: letters augmented from a seed the training pool never used, digits
    taken from MNIST's test split (handwriting the model has not seen)."""
    from dllaunchpad.datasets import mnist

    x_test, y_test = mnist.load(exp.data_dir, "test")
    by_digit = {d: np.flatnonzero(y_test == d) for d in range(10)}
    rng = np.random.default_rng([exp.seed, 11])
    aug, fonts = _augment(exp), _fonts(exp)
    sources = li.source_glyphs(li.LETTERS, fonts)

    def glyph(char: str, r: np.random.Generator) -> np.ndarray:
        if char.isdigit():
            return x_test[int(r.choice(by_digit[int(char)]))].astype(np.float32)
        letter_sources = [p for c, p in sources if c == char]
        return li.augmented_glyph(char, letter_sources[int(r.integers(len(letter_sources)))], r, aug)

    return [li.render_line(text, seed=int(rng.integers(2**31)), augment=aug, fonts=fonts, glyph=glyph)[0]
            for text in texts]


def read_lines(exp, module) -> tuple[list[dict], dict]:
    """Read every line; rows {text, read, character_accuracy} and the summary metrics."""
    from dllaunchpad.analysis import line_reader

    texts = line_texts(exp)
    if not texts:  # evaluate.lines empty and random_lines 0: nothing to read
        return [], {"lines_read": 0, "line_characters": 0, "line_character_accuracy": None, "lines_read_exactly": 0}
    images = render_lines(exp, texts)
    classify = classify_fn(module)
    rows, errors, total = [], 0, 0
    for text, image in zip(texts, images):
        read = line_reader.read_line(image, classify, classes=CLASSES, space_gap=li.SPACE_GAP)
        acc = line_reader.character_accuracy(read, text)
        rows.append({"text": text, "read": read, "character_accuracy": acc, "image": image})
        errors += line_reader.edit_distance(read, text)
        total += len(text)
    metrics = {"lines_read": len(rows), "line_characters": total,
               "line_character_accuracy": max(0.0, 1 - errors / total) if total else None,
               "lines_read_exactly": sum(r["read"] == r["text"] for r in rows)}
    return rows, metrics


def _lines_figure(exp, rows: list[dict], path: Path, shown: int = 8) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    rows = rows[:shown]
    plt = pyplot()
    width = max(r["image"].shape[1] for r in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(min(14, 2 + width / 28), 1.05 * len(rows) + 0.6), squeeze=False)
    for ax, r in zip(axes[:, 0], rows):
        ax.imshow(r["image"], cmap="gray", vmin=0, vmax=1)
        ax.set_xlim(0, width)
        ax.axis("off")
        mark = "" if r["read"] == r["text"] else f"   (true: {r['text']})"
        ax.set_title(f"read: {r['read']}{mark}   character accuracy {r['character_accuracy']:.2f}",
                     fontsize=9, loc="left", color="black" if not mark else "#b2182b")
    fig.suptitle(f"{exp.name}: lines segmented by ink columns, each character classified")
    save(fig, path, alt="Rendered lines of digits and uppercase letters, each titled with the string the model "
                        "read from it; lines read wrongly also show the true text.")


def _generated_letters_figure(exp, path: Path) -> None:
    """A few letters as the training pool holds them: the same generator, a small sample."""
    images, labels, fonts = li.generate(list("BIOSZG"), 6, seed=exp.seed + 1000, augment=_augment(exp),
                                        fonts=_fonts(exp))
    _classification.image_grid(images, [f"{CLASSES[int(k)]} ({Path(f).stem[:12]})" for k, f in zip(labels, fonts)],
                               path, f"{exp.name}: augmented look-alike letters, made as the pool's are "
                                     "(the pool's digits are MNIST's)", cols=6)


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad import io

    x_test, y_test = part(exp, "test")
    metrics = _classification.report(exp, module, x_test, y_test, CLASSES, figures_dir,
                                      images=x_test[:, 0].numpy())
    pred = _classification.predict_logits(module, x_test).argmax(1).numpy()
    truth = y_test.numpy()
    counts = _classification.confusion(truth, pred, len(CLASSES))
    digits = truth < 10
    metrics.update({
        "digit_test_accuracy": float((pred[digits] == truth[digits]).mean()),
        "letter_test_accuracy": float((pred[~digits] == truth[~digits]).mean()),
        # a digit taken for a letter or the other way round: the part of the errors the exercise adds
        "digit_letter_mixups": int(((pred < 10) != digits).sum()),
        "pool_per_class": int(exp.spec["data"]["per_class"]),
        **look_alike_counts(counts),
    })
    pair_classes = [c for pair in LOOK_ALIKES for c in pair]
    idx = [CLASSES.index(c) for c in pair_classes]
    _classification.confusion_figure(counts[np.ix_(idx, idx)], pair_classes, figures_dir / "look_alikes.png",
                                     f"{exp.name}: the look-alikes' corner of the confusion matrix")
    rows, line_metrics = read_lines(exp, module)
    metrics.update(line_metrics)
    if rows:
        _lines_figure(exp, rows, figures_dir / "lines_read.png")
        io.write_text(figures_dir / "lines_read.csv", "text,read,character_accuracy\n" + "".join(
            f"{r['text']},{r['read']},{r['character_accuracy']:.4f}\n" for r in rows))  # no commas in 0-9 A-Z
    _generated_letters_figure(exp, figures_dir / "generated_letters.png")
    metrics["note"] = answer(metrics, counts)
    metrics["thumbnail"] = "look_alikes.png"
    return metrics


def answer(m: dict, counts: np.ndarray) -> str:
    """The exercise's questions answered from this run's numbers."""
    per = counts.sum(axis=1)
    pair = lambda a, b: (f"{a}/{b}: {m[f'confusion_{a}_as_{b}']} of {per[CLASSES.index(a)]} {a}s read as {b}, "  # noqa: E731
                         f"{m[f'confusion_{b}_as_{a}']} of {per[CLASSES.index(b)]} {b}s as {a}")
    worst = max(LOOK_ALIKES, key=lambda ab: m[f"confusion_{ab[0]}_{ab[1]}"])
    return (f"Test accuracy {m['test_accuracy']:.3f} on {m['test_examples']} images of 36 classes (digits "
            f"{m['digit_test_accuracy']:.3f}, letters {m['letter_test_accuracy']:.3f}); {m['digit_letter_mixups']} "
            f"test images were taken for the other kind. {pair('8', 'B')}; {pair('1', 'I')}; the most confused "
            f"look-alike pair is {worst[0]}/{worst[1]} ({m[f'confusion_{worst[0]}_{worst[1]}']} both ways)."
            + (f" The line reader read {m['lines_read_exactly']} of {m['lines_read']} lines exactly, with character "
               f"accuracy {m['line_character_accuracy']:.3f} over {m['line_characters']} characters."
               if m["lines_read"] else " No lines were read (evaluate.lines is empty and random_lines 0)."))
