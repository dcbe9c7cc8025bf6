"""Your own digits through every MNIST model (chapter 31.9, exercise 6 b-f, i, k, l).

The exercise asks for a 28x28 PNG of one's own handwriting, white on black, and the prediction of
each MNIST model of section 31.8.4 on it: the 784-256-128-10 MLP (b), the early-stopping model's
best checkpoint (c), the L1 model (d), the L2 model (e), the dropout model (f), the CNN (i); then
the denoising autoencoder on a noisier copy of it (k, l). This family trains nothing: its evaluate
loads the trained models of the experiments its entry `uses:` (their `models/<exp>/` folders are
the stage's inputs) and tables their answers.

The digits (datasets/digit_images.py):

- by default, `data.per_digit` renderings of each digit 0-9 drawn from TrueType fonts, seeded by
  the experiment's seed, MNIST-normalised (20x20 box, centre of mass at the centre); they are
  written to ``reports/figures/<exp>/digits/<label>_<font>_<k>.png``, the format a folder of your
  own takes;
- with `data.folder` set (a path, relative to the repository root or absolute), the PNGs in it
  named ``<label>_<anything>.png`` (``7_mine.png``): the label is the digit before the first
  underscore. 28x28 grayscale white-on-black images are read as they are; others are converted
  (inverted if dark on light; cropped and centred like MNIST if another size) and the table says so.

Each used model is built with its own family's ``model()`` from its resolved settings
(``exp.spec["uses_specs"][name]``, provided by the registry) and given the weights its own
evaluation used (training/checkpoints.py: best.ckpt, else last.ckpt).

Outputs: ``accuracy.png`` (each classifier's accuracy on the digits), ``predictions.png`` (each
digit and every classifier's prediction with its softmax score, green when right),
``predictions.csv`` (the same for every digit), ``denoising.png`` (clean, noisy, and each
autoencoder's cleaned version, with `evaluate.classifier`'s prediction on each),
and metrics: each classifier's accuracy and mean softmax score of the true label; the noisy
input's and each denoised version's mean squared error to the clean digit, and the judging
classifier's accuracy on the noisy and on each denoised set.

Noise, as the exercise writes it: ``clip(x + 0.7 * noise_factor * N(0, 1), 0, 1)`` with the
chapter's noise_factor 0.4, i.e. `evaluate.noise` 0.28 (seeded by the experiment's seed).

params: uses [experiments], data {folder, per_digit, fonts}, evaluate {noise, classifier}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.datasets import digit_images
from dllaunchpad.experiments import cnn_classifier, denoising_autoencoder, mlp_classifier
from dllaunchpad.pipeline.registry import Experiment
from dllaunchpad.training.checkpoints import load_weights

# The families whose MNIST models this one reads, by what they do with a digit.
CLASSIFIERS = {"mlp_classifier": mlp_classifier, "cnn_classifier": cnn_classifier}
DENOISERS = {"denoising_autoencoder": denoising_autoencoder}
NOISE_STREAM = 6   # default_rng([seed, 6]): the noise draws, apart from the renderer's
MAX_TABLE_ROWS = 40
MAX_DENOISE_COLUMNS = 12
RIGHT, WRONG = "#CDEBDD", "#F7D9C4"  # light Okabe-Ito green / vermilion


def used_models(exp) -> tuple[dict, dict]:
    """({name: classifier}, {name: denoiser}) for the experiments in `uses:`, in that order,
    each with its trained weights."""
    specs = exp.spec.get("uses_specs")
    if specs is None:
        raise KeyError(f"{exp.name}: no uses_specs (the registry adds them for the experiments in `uses:`)")
    classifiers, denoisers = {}, {}
    for name in exp.spec["uses"]:
        spec = specs[name]
        family, dataset = spec.get("family"), spec.get("dataset")
        fams = CLASSIFIERS if family in CLASSIFIERS else DENOISERS if family in DENOISERS else None
        if fams is None or dataset != "mnist":
            raise ValueError(f"{exp.name}.uses: {name} is a {family} on {dataset}; own_digits reads MNIST models "
                             f"of the families {sorted(CLASSIFIERS) + sorted(DENOISERS)}")
        module = fams[family].model(Experiment(name, spec, root=exp.root))
        load_weights(module, exp.path(f"models/{name}"))
        (classifiers if fams is CLASSIFIERS else denoisers)[name] = module
    return classifiers, denoisers


def load_digits(exp) -> tuple[list[digit_images.Digit], str, int]:
    """(digits, where they came from, files skipped)."""
    data = exp.spec.get("data") or {}
    folder = data.get("folder")
    if folder:
        path = Path(folder).expanduser()
        path = path if path.is_absolute() else exp.path(str(path))
        digits, skipped = digit_images.read_folder(path)
        return digits, f"folder {folder}", len(skipped)
    fonts = data.get("fonts") or digit_images.DEFAULT_FONTS
    digits = digit_images.render_digits(exp.seed, int(data.get("per_digit", 2)), fonts)
    used = sorted({d.note.split(",")[0] for d in digits})
    return digits, f"rendered (seed {exp.seed}; fonts {', '.join(used)})", 0


@torch.no_grad()
def classify(family: str, module, images: np.ndarray) -> np.ndarray:
    """Softmax scores (n, 10) for (n, 28, 28) images, shaped as the family trained on them."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if family == "cnn_classifier":
        x = x.unsqueeze(1)  # (n, 1, 28, 28); the MLP flattens (n, 28, 28) itself
    module.eval()
    return torch.softmax(module(x), dim=1).numpy()


@torch.no_grad()
def denoise(module, images: np.ndarray) -> np.ndarray:
    """The autoencoder's cleaned (n, 28, 28) images (sigmoid of its logits, as its evaluate)."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)
    return torch.sigmoid(denoising_autoencoder.denoise_logits(module, x))[:, 0].numpy()


def add_noise(images: np.ndarray, factor: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, NOISE_STREAM])
    return np.clip(images + factor * rng.standard_normal(images.shape), 0, 1).astype(np.float32)


def predictions_table(digits, scores: dict[str, np.ndarray]) -> list[dict]:
    """One row per digit: file, label, then per classifier its prediction and softmax score."""
    rows = []
    for i, d in enumerate(digits):
        row = {"file": d.name, "label": d.label}
        for name, s in scores.items():
            row[f"{name}_predicted"] = int(s[i].argmax())
            row[f"{name}_score"] = round(float(s[i].max()), 4)
        row["note"] = d.note
        rows.append(row)
    return rows


def _csv(rows: list[dict]) -> str:
    import csv
    import io as _io

    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _table_figure(digits, scores: dict[str, np.ndarray], path: Path, title: str) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    n, names = min(len(digits), MAX_TABLE_ROWS), list(scores)
    fig, axes = plt.subplots(n, len(names) + 1, figsize=(1.0 + 1.55 * len(names), 0.5 * n + 1.3), squeeze=False)
    for i in range(n):
        ax = axes[i, 0]
        ax.imshow(digits[i].image, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_ylabel(str(digits[i].label), rotation=0, labelpad=10, va="center")
        for j, name in enumerate(names, start=1):
            ax = axes[i, j]
            pred, score = int(scores[name][i].argmax()), float(scores[name][i].max())
            ax.set_facecolor(RIGHT if pred == digits[i].label else WRONG)
            ax.text(0.5, 0.5, f"{pred}  ({score:.2f})", ha="center", va="center", fontsize=10,
                    transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
    axes[0, 0].set_title("digit", fontsize=9)
    for j, name in enumerate(names, start=1):
        axes[0, j].set_title(name, fontsize=8, rotation=20, ha="left", x=0.1)
    shown = "" if n == len(digits) else f" (first {n} of {len(digits)})"
    fig.suptitle(title + shown, fontsize=11)
    fig.subplots_adjust(wspace=0.05, hspace=0.08, top=1 - 1.0 / (0.5 * n + 1.3))
    save(fig, path, alt=f"A table: {n} digit images (left, labelled with the true digit) and, for each of "
                        f"{len(names)} MNIST classifiers ({', '.join(names)}), the predicted digit and its "
                        f"softmax score, green when right and orange when wrong.")


def _accuracy_figure(digits, scores: dict[str, np.ndarray], path: Path, title: str) -> None:
    """Per classifier: the share of digits it gets right and its mean softmax score of the true
    label (a softer measure of the same), side by side."""
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    plt = pyplot()
    labels = np.array([d.label for d in digits])
    names = list(scores)
    acc = [float((scores[n].argmax(1) == labels).mean()) for n in names]
    true = [float(scores[n][np.arange(len(labels)), labels].mean()) for n in names]
    fig, ax = plt.subplots(figsize=(max(6.4, 1.0 * len(names) + 2), 4.0))
    x = np.arange(len(names))
    ax.bar(x - 0.2, acc, 0.4, color=OKABE_ITO[0], label="accuracy")
    ax.bar(x + 0.2, true, 0.4, color=OKABE_ITO[1], label="mean softmax score of the true digit")
    for i, a in enumerate(acc):
        ax.text(i - 0.2, a + 0.01, f"{a:.2f}", ha="center", va="bottom", fontsize=9)
    ax.axhline(0.1, color="grey", linestyle=":", linewidth=1, label="chance (0.1)")
    ax.set_xticks(x, names, rotation=25, ha="right")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel(f"on the {len(digits)} digits")
    ax.legend(loc="upper left", fontsize=9, ncols=3)
    ax.set_title(title)
    save(fig, path, alt=f"Bar chart: per MNIST classifier, its accuracy on the {len(digits)} digits and its mean "
                        f"softmax score of the true digit; " + ", ".join(f"{n} {a:.2f}" for n, a in zip(names, acc)))


def _denoise_columns(digits) -> list[int]:
    """Up to MAX_DENOISE_COLUMNS digits, one of each label first."""
    firsts = list(dict.fromkeys(d.label for d in digits))
    picks = [next(i for i, d in enumerate(digits) if d.label == lab) for lab in firsts]
    picks += [i for i in range(len(digits)) if i not in picks]
    return picks[:MAX_DENOISE_COLUMNS]


def _denoising_figure(digits, noisy, cleaned: dict[str, np.ndarray], judge: str | None,
                      judged: dict[str, np.ndarray], path: Path, title: str) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    cols = _denoise_columns(digits)
    clean = np.stack([d.image for d in digits])
    rows = [("clean", clean, None), ("noisy", noisy, "noisy")] + [(n, c, n) for n, c in cleaned.items()]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(1.25 * len(cols) + 1.6, 1.45 * len(rows) + 0.6),
                             squeeze=False)
    for r, (name, images, key) in enumerate(rows):
        for c, i in enumerate(cols):
            ax = axes[r, c]
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if key is not None and judge:
                pred = int(judged[key][i].argmax())
                ax.set_title(f"{pred}", fontsize=9, color="black" if pred == digits[i].label else "#D55E00")
            elif key is None:
                ax.set_title(f"label {digits[i].label}", fontsize=9)
        axes[r, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(title + (f"\n(titles: {judge}'s prediction, orange when wrong)" if judge else ""), fontsize=10)
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    digits, source, skipped = load_digits(exp)
    if not (exp.spec.get("data") or {}).get("folder"):
        for d in digits:  # the rendered digits, in the format a folder of your own takes
            digit_images.write_png(figures_dir / "digits" / d.name, d.image)
    classifiers, denoisers = used_models(exp)
    fam = {n: exp.spec["uses_specs"][n]["family"] for n in exp.spec["uses"]}
    images = np.stack([d.image for d in digits])
    labels = np.array([d.label for d in digits])

    scores = {n: classify(fam[n], m, images) for n, m in classifiers.items()}
    from dllaunchpad import io

    if scores:
        io.write_text(figures_dir / "predictions.csv", _csv(predictions_table(digits, scores)))
        _table_figure(digits, scores, figures_dir / "predictions.png", f"{exp.name}: your digits, every classifier")
        _accuracy_figure(digits, scores, figures_dir / "accuracy.png",
                         f"{exp.name}: {len(digits)} digits not from MNIST ({source.split(' ')[0]})")
    metrics: dict = {"digits": len(digits), "digits_source": source, "files_skipped": skipped}
    if scores:
        metrics.update(headline="classifiers_mean_accuracy", thumbnail="accuracy.png")
    for n, s in scores.items():
        metrics[f"accuracy_{n}"] = float((s.argmax(1) == labels).mean())
        metrics[f"true_label_score_{n}"] = float(s[np.arange(len(labels)), labels].mean())
    if scores:
        accs = {n: metrics[f"accuracy_{n}"] for n in scores}
        metrics["classifiers_mean_accuracy"] = float(np.mean(list(accs.values())))
        metrics["best_classifier"] = max(accs, key=lambda n: (accs[n], metrics[f"true_label_score_{n}"]))

    if denoisers:
        ev = exp.spec.get("evaluate") or {}
        factor = float(ev.get("noise", 0.28))
        judge = ev.get("classifier") or next(iter(classifiers), None)
        if judge is not None and judge not in classifiers:
            raise ValueError(f"{exp.name}.evaluate.classifier: {judge!r} is not one of the classifiers in uses "
                             f"({sorted(classifiers)})")
        noisy = add_noise(images, factor, exp.seed)
        cleaned = {n: denoise(m, noisy) for n, m in denoisers.items()}
        metrics["noise"] = factor
        metrics["mse_noisy_input"] = float(((noisy - images) ** 2).mean())
        judged = {}
        if judge:
            metrics["judge_classifier"] = judge
            judged["noisy"] = classify(fam[judge], classifiers[judge], noisy)
            metrics["judge_accuracy_noisy"] = float((judged["noisy"].argmax(1) == labels).mean())
        for n, c in cleaned.items():
            metrics[f"mse_denoised_{n}"] = float(((c - images) ** 2).mean())
            if judge:
                judged[n] = classify(fam[judge], classifiers[judge], c)
                metrics[f"judge_accuracy_denoised_{n}"] = float((judged[n].argmax(1) == labels).mean())
        _denoising_figure(digits, noisy, cleaned, judge, judged, figures_dir / "denoising.png",
                          f"{exp.name}: noise {factor:g} x N(0, 1), cleaned by each autoencoder")
        metrics.setdefault("thumbnail", "denoising.png")
    return metrics
