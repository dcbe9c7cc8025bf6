"""Chapter 31.7.3: an encoder-decoder transformer (models/transformer.py) on a small real
sequence-to-sequence task that trains on a CPU in minutes: sorting (or reversing) sequences of
digits of varying length, so padding masks matter.

The sequences are drawn from a seeded generator; validation and test sequences never occur in
the training set. The variants in `model.variants` differ only in their label smoothing eps
(the chapter's formula) and are trained side by side on the same batches with teacher forcing
and scheduled sampling. Evaluate reports, per variant, on the test sequences:

- greedy and beam-search decoding: exact-match rate and token accuracy;
- teacher-forced NLL (no smoothing, so variants compare) and expected calibration error (ECE,
  equal-width confidence bins) of the next-token predictions;

with figures: validation NLL per epoch (the effect of smoothing), reliability diagrams, greedy
against beam accuracy, and cross-attention heat maps for a few test sequences.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from dllaunchpad.training.batches import TensorDataModule
from dllaunchpad.models.transformer import BOS, EOS, PAD, SPECIALS, Seq2SeqSet


def _sequences(n: int, data: dict, rng: np.random.Generator, exclude: set) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []
    seen = set(exclude)
    while len(out) < n:
        length = int(rng.integers(data["min_len"], data["max_len"] + 1))
        seq = tuple(int(t) for t in rng.integers(0, data["symbols"], length))
        if seq not in seen:
            seen.add(seq)
            out.append(seq)
    return out


def _target(seq: tuple[int, ...], task: str) -> tuple[int, ...]:
    if task == "sort":
        return tuple(sorted(seq))
    if task == "reverse":
        return seq[::-1]
    raise ValueError(f"unknown task {task!r} (known: sort, reverse)")


def encode_pairs(seqs: list[tuple[int, ...]], task: str, max_len: int) -> tuple[torch.Tensor, ...]:
    """(src (N, max_len), tgt_in (N, max_len + 1) = BOS + target, tgt_out = target + EOS), PAD-padded;
    symbol s is token SPECIALS + s."""
    n = len(seqs)
    src = torch.full((n, max_len), PAD, dtype=torch.long)
    tgt_in = torch.full((n, max_len + 1), PAD, dtype=torch.long)
    tgt_out = torch.full((n, max_len + 1), PAD, dtype=torch.long)
    for i, seq in enumerate(seqs):
        tgt = [SPECIALS + s for s in _target(seq, task)]
        src[i, :len(seq)] = torch.tensor([SPECIALS + s for s in seq])
        tgt_in[i, :len(tgt) + 1] = torch.tensor([BOS] + tgt)
        tgt_out[i, :len(tgt) + 1] = torch.tensor(tgt + [EOS])
    return src, tgt_in, tgt_out


def make_splits(data: dict, seed: int) -> dict[str, tuple[torch.Tensor, ...]]:
    """train / val / test pairs; val and test sequences are distinct from each other and from
    every training sequence."""
    if data["min_len"] > data["max_len"]:
        raise ValueError(f"data.min_len {data['min_len']} > data.max_len {data['max_len']}")
    rng = np.random.default_rng(seed)
    train = _sequences(data["train"], data, rng, set())
    val = _sequences(data["val"], data, rng, set(train))
    test = _sequences(data["test"], data, rng, set(train) | set(val))
    return {name: encode_pairs(seqs, data["task"], data["max_len"])
            for name, seqs in (("train", train), ("val", val), ("test", test))}


def vocab_size(data: dict) -> int:
    return SPECIALS + data["symbols"]


def model(exp) -> Seq2SeqSet:
    data = exp.spec["data"]
    return Seq2SeqSet(exp.spec["model"], vocab_size(data), data["max_len"] + 2, exp.spec["optimizer"],
                      exp.spec["trainer"]["epochs"])


def build(exp):
    # The splits come first, as before: they draw from their own numpy generator, the model's
    # initialisation from torch's seeded stream.
    splits = make_splits(exp.spec["data"], exp.seed)
    module = model(exp)
    dm = TensorDataModule(splits["train"], val=splits["val"], batch_size=exp.spec["trainer"]["batch_size"],
                          seed=exp.seed)
    return module, dm


def sequence_scores(pred: torch.Tensor, tgt_out: torch.Tensor) -> tuple[float, float]:
    """(exact-match rate, token accuracy) of decoded sequences against the targets (EOS
    included); a prediction shorter than its target counts its missing tokens as wrong."""
    width = tgt_out.size(1)
    pred = F.pad(pred, (0, max(0, width - pred.size(1))), value=PAD)[:, :width]
    keep = tgt_out != PAD
    correct = (pred == tgt_out) & keep
    exact = (correct.sum(1) == keep.sum(1)) & ((pred != PAD).sum(1) == keep.sum(1))
    return float(exact.float().mean()), float(correct.sum() / keep.sum())


def calibration(probs: torch.Tensor, target: torch.Tensor, bins: int) -> dict:
    """Expected calibration error over equal-width confidence bins, and the per-bin numbers of
    a reliability diagram. probs (N, V) of N predictions, target (N,)."""
    confidence, predicted = probs.max(1)
    correct = (predicted == target).float()
    edges = torch.linspace(0, 1, bins + 1)
    which = torch.clamp(torch.bucketize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece, per_bin = 0.0, []
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            conf, acc = float(confidence[in_bin].mean()), float(correct[in_bin].mean())
            ece += float(in_bin.float().mean()) * abs(acc - conf)
            per_bin.append((b, conf, acc, int(in_bin.sum())))
    return {"ece": ece, "bins": per_bin, "mean_confidence": float(confidence.mean()),
            "accuracy": float(correct.mean())}


def _figures(exp, module, test, results, figures_dir: Path) -> None:
    from dllaunchpad.analysis.figures import curves, pyplot, read_history, save

    plt = pyplot()
    names = list(module.models)
    eps = {n: module.variants[n]["label_smoothing"] for n in names}
    history = read_history(exp.path(exp.history))
    curves(figures_dir / "val_nll.png", history, [f"val_{n}_nll" for n in names],
           "validation NLL per token (nats)", "Label smoothing and validation loss",
           labels={f"val_{n}_nll": f"{n} (eps = {eps[n]})" for n in names}, logy=True)

    bins = exp.spec["evaluate"]["calibration_bins"]
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], color="black", lw=1, ls=":", label="perfect calibration")
    for n in names:
        per_bin = results[n]["calibration"]["bins"]
        ax.plot([c for _, c, _, _ in per_bin], [a for _, _, a, _ in per_bin], "o-",
                label=f"{n} (eps = {eps[n]}), ECE = {results[n]['calibration']['ece']:.3f}")
    ax.set_xlabel(f"confidence (mean of its bin, {bins} bins)")
    ax.set_ylabel("accuracy in the bin")
    ax.set_title("Reliability of next-token predictions (test)")
    ax.legend(fontsize=8)
    save(fig, figures_dir / "reliability.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    x = np.arange(len(names))
    for ax, key, label in ((axes[0], "exact", "exact-match rate"), (axes[1], "token", "token accuracy")):
        ax.bar(x - 0.2, [results[n][f"greedy_{key}"] for n in names], 0.4, label="greedy")
        ax.bar(x + 0.2, [results[n][f"beam_{key}"] for n in names], 0.4,
               label=f"beam (width {exp.spec['evaluate']['beam_width']})")
        ax.set_xticks(x, names)
        ax.set_ylabel(label)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
    fig.suptitle("Greedy against beam-search decoding (test sequences)")
    save(fig, figures_dir / "greedy_vs_beam.png")

    model = module.models[names[0]]
    src, tgt_in, tgt_out = test
    shown = exp.spec["evaluate"]["attention_examples"]
    with torch.no_grad():
        _, cross = model.decode(tgt_in[:shown], model.encode(src[:shown]), src[:shown], return_attention=True)
    weights = cross[-1].mean(1)  # last decoder layer, mean over heads: (n, T, S)
    fig, axes = plt.subplots(1, shown, figsize=(4.2 * shown, 4.2), squeeze=False)

    def label(t: int) -> str:
        return {BOS: "BOS", EOS: "EOS"}.get(t, str(t - SPECIALS))

    for i, ax in enumerate(axes[0]):
        s_len, t_len = int((src[i] != PAD).sum()), int((tgt_in[i] != PAD).sum())
        im = ax.imshow(weights[i, :t_len, :s_len].numpy(), cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(s_len), [label(int(t)) for t in src[i, :s_len]])
        ax.set_yticks(range(t_len), [label(int(t)) for t in tgt_in[i, :t_len]])
        ax.set_xlabel("source token (key)")
        ax.set_ylabel("decoder input token (query)")
        ax.grid(False)
    fig.colorbar(im, ax=axes[0][-1], label="attention weight", fraction=0.046)
    fig.suptitle(f"Cross-attention, last decoder layer, mean over heads ({names[0]})")
    save(fig, figures_dir / "attention.png")


def evaluate(exp, module, figures_dir: Path) -> dict:
    seed = exp.seed
    data, ev = exp.spec["data"], exp.spec["evaluate"]
    test = make_splits(data, seed)["test"]
    src, tgt_in, tgt_out = test
    max_len = data["max_len"] + 1
    results, metrics = {}, {}
    for name, model in module.models.items():
        model.eval()
        with torch.no_grad():
            logits = model(src, tgt_in)
            keep = tgt_out != PAD
            nll = float(F.cross_entropy(logits[keep], tgt_out[keep]))
            cal = calibration(torch.softmax(logits[keep], -1), tgt_out[keep], ev["calibration_bins"])
            greedy = sequence_scores(model.greedy(src, max_len), tgt_out)
            beam = sequence_scores(model.beam_search(src, max_len, ev["beam_width"], ev["length_penalty"]), tgt_out)
        results[name] = {"calibration": cal, "greedy_exact": greedy[0], "greedy_token": greedy[1],
                         "beam_exact": beam[0], "beam_token": beam[1]}
        metrics.update({
            f"{name}_label_smoothing": module.variants[name]["label_smoothing"],
            f"{name}_greedy_exact_match": round(greedy[0], 4),
            f"{name}_greedy_token_accuracy": round(greedy[1], 4),
            f"{name}_beam_exact_match": round(beam[0], 4),
            f"{name}_beam_token_accuracy": round(beam[1], 4),
            f"{name}_test_nll": round(nll, 5),
            f"{name}_test_ece": round(cal["ece"], 5),
            f"{name}_test_mean_confidence": round(cal["mean_confidence"], 5),
        })
    metrics["beam_width"] = ev["beam_width"]
    _figures(exp, module, test, results, figures_dir)
    return metrics
