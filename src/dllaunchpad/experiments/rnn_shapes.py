"""Chapter 31.6.1-31.6.4: the four shapes of RNN, each a small model trained on a task of its own
(models/rnn_shapes.py has the models). `model.shape` picks one:

- vector_to_sequence (31.6.1): X = (start, step, length) as one-hot blocks -> the arithmetic
  progression start, start + step, ... mod 10, `length` digits long, then EOS. The previous
  output is fed back at every step (the chapter's h_t = f(h_{t-1}, y_{t-1}, X)), so the model has
  to learn "add `step` to what I just wrote" and to count to `length`; the test triples
  (start, step, length) never occur in training. Scored by free-running generation.
- sequence_to_vector (31.6.2): a digit sequence of variable length -> "is its last digit larger
  than its first?", read from the last hidden state only. The first digit has to be carried
  through the whole sequence (order matters: no count of the digits decides it); the majority
  class ("no", 55 % of sequences) is the bar to clear. (The parity of a bit sequence, tried
  first, sat at chance: one label per sequence gives gradient descent nothing to climb.)
- aligned (31.6.3): a digit sequence -> its running sum mod 10, one output per input step:
  the hidden state must carry a 10-valued counter.
- encoder_decoder (31.6.4): the transformer's task (experiments/transformer.py: sorting digit
  sequences), made by its own `make_splits` with the same `data:` block and seed, so the test
  set is the transformer's; scored with its `sequence_scores` (greedy decoding, exact match and
  token accuracy), so the two numbers compare. No attention: the decoder sees the source only
  through the encoder's final state. Exact match by source length shows what that costs.

Every split is drawn from a numpy generator seeded with exp.seed; validation and test items never
occur in the training set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dllaunchpad.experiments import transformer as sorting
from dllaunchpad.models.rnn_shapes import (IGNORE, AlignedSequence, EncoderDecoder, SequenceToVector,
                                           VectorToSequence)
from dllaunchpad.training.batches import TensorDataModule

DIGITS = 10
EOS = DIGITS                       # vector_to_sequence's output tokens: digits 0-9, then EOS
SPLITS = ("train", "val", "test")


# -- the tasks ---------------------------------------------------------------------------------

def progression(start: int, step: int, length: int) -> list[int]:
    """start, start + step, ..., `length` digits mod 10."""
    return [(start + t * step) % DIGITS for t in range(length)]


def progression_splits(data: dict, seed: int) -> dict[str, list[tuple[int, int, int]]]:
    """Every (start, step, length) triple, shuffled and cut into test, val and the rest: train."""
    triples = [(s, k, n) for s in range(DIGITS) for k in range(DIGITS)
               for n in range(data["min_len"], data["max_len"] + 1)]
    if data["val"] + data["test"] >= len(triples):
        raise ValueError(f"data.val + data.test must leave training triples (there are {len(triples)})")
    order = np.random.default_rng(seed).permutation(len(triples))
    picked = [triples[i] for i in order]
    test, val = picked[:data["test"]], picked[data["test"]:data["test"] + data["val"]]
    return {"train": picked[data["test"] + data["val"]:], "val": val, "test": test}


def encode_progressions(triples: list[tuple[int, int, int]], data: dict) -> tuple[torch.Tensor, ...]:
    """(X (N, 10 + 10 + lengths), y_prev (N, T), target (N, T)), T = max_len + 1: target is the
    progression then EOS, IGNORE after; y_prev is BOS then the target shifted (teacher forcing),
    EOS after the end."""
    lengths = data["max_len"] - data["min_len"] + 1
    steps = data["max_len"] + 1
    x = torch.zeros(len(triples), 2 * DIGITS + lengths)
    target = torch.full((len(triples), steps), IGNORE, dtype=torch.long)
    for i, (s, k, n) in enumerate(triples):
        x[i, s], x[i, DIGITS + k], x[i, 2 * DIGITS + n - data["min_len"]] = 1, 1, 1
        target[i, :n + 1] = torch.tensor(progression(s, k, n) + [EOS])
    bos = EOS + 1
    y_prev = torch.cat([torch.full((len(triples), 1), bos), target[:, :-1].masked_fill(target[:, :-1] == IGNORE, EOS)],
                       1)
    return x, y_prev, target


def random_sequences(data: dict, symbols: int, seed: int) -> dict[str, list[tuple[int, ...]]]:
    """data.train / val / test distinct sequences of symbols 0..symbols-1, lengths uniform in
    [min_len, max_len]; no sequence in two splits."""
    rng = np.random.default_rng(seed)
    possible = sum(symbols ** n for n in range(data["min_len"], data["max_len"] + 1))
    wanted = sum(data[s] for s in SPLITS)
    if wanted > possible // 2:   # rejection sampling would crawl; and the splits would be the population
        raise ValueError(f"data asks for {wanted} distinct sequences of {possible} possible")
    seen: set[tuple[int, ...]] = set()
    out = {}
    for split in SPLITS:
        seqs = []
        while len(seqs) < data[split]:
            seq = tuple(int(v) for v in rng.integers(0, symbols, int(rng.integers(data["min_len"], data["max_len"] + 1))))
            if seq not in seen:
                seen.add(seq)
                seqs.append(seq)
        out[split] = seqs
    return out


def last_above_first(seq: tuple[int, ...]) -> int:
    return int(seq[-1] > seq[0])


def running_sum_mod10(seq: tuple[int, ...]) -> list[int]:
    return [int(v) for v in np.cumsum(seq) % DIGITS]


def pad_tokens(seqs: list[tuple[int, ...]], width: int, fill: int = 0) -> torch.Tensor:
    out = torch.full((len(seqs), width), fill, dtype=torch.long)
    for i, seq in enumerate(seqs):
        out[i, :len(seq)] = torch.tensor(seq)
    return out


def make_splits(exp) -> dict[str, tuple[torch.Tensor, ...]]:
    """{split: the tensors one batch holds, target last} for the entry's shape."""
    shape, data, seed = exp.spec["model"]["shape"], exp.spec["data"], exp.seed
    if shape == "vector_to_sequence":
        return {k: encode_progressions(v, data) for k, v in progression_splits(data, seed).items()}
    if shape == "sequence_to_vector":
        seqs = random_sequences(data, DIGITS, seed)
        return {k: (pad_tokens(v, data["max_len"]), torch.tensor([len(s) for s in v]),
                    torch.tensor([last_above_first(s) for s in v])) for k, v in seqs.items()}
    if shape == "aligned":
        seqs = random_sequences(data, DIGITS, seed)
        return {k: (pad_tokens(v, data["max_len"]),
                    pad_tokens([tuple(running_sum_mod10(s)) for s in v], data["max_len"], IGNORE))
                for k, v in seqs.items()}
    if shape == "encoder_decoder":
        return sorting.make_splits(data, seed)
    raise ValueError(f"model.shape {shape!r}")


# -- the family hooks ----------------------------------------------------------------------------

def model(exp):
    m, data, opt = exp.spec["model"], exp.spec["data"], exp.spec["optimizer"]
    shape, cell, hidden = m["shape"], m["cell"], m["hidden"]
    if shape == "vector_to_sequence":
        return VectorToSequence(cell, hidden, 2 * DIGITS + data["max_len"] - data["min_len"] + 1, DIGITS + 1, opt)
    if shape == "sequence_to_vector":
        return SequenceToVector(cell, hidden, DIGITS, 2, opt)
    if shape == "aligned":
        return AlignedSequence(cell, hidden, DIGITS, DIGITS, opt)
    if shape == "encoder_decoder":
        return EncoderDecoder(cell, hidden, m["embedding"], sorting.vocab_size(data), sorting.PAD, sorting.BOS,
                              sorting.EOS, opt)
    raise ValueError(f"model.shape {shape!r}")


def build(exp):
    splits = make_splits(exp)      # its own numpy generator: the model's torch draws are unaffected
    module = model(exp)
    dm = TensorDataModule(splits["train"], val=splits["val"], batch_size=exp.spec["trainer"]["batch_size"],
                          seed=exp.seed)
    return module, dm


def evaluate(exp, module, figures_dir: Path) -> dict:
    from dllaunchpad.analysis.figures import read_history

    module.eval()
    splits = make_splits(exp)
    shape = exp.spec["model"]["shape"]
    metrics = EVALUATORS[shape](exp, module, splits, figures_dir)
    history = read_history(exp.path(exp.history))   # its curves: runners/evaluate.py draws them
    metrics.update({
        "shape": shape,
        "cell": exp.spec["model"]["cell"],
        "parameters": sum(p.numel() for p in module.parameters()),
        "train_examples": len(splits["train"][0]),
        "test_examples": len(splits["test"][0]),
        "data_seed": exp.seed,
        "history_epochs": len(history["epoch"]),
        "final_train_loss": float(history["train_loss"][-1]),
        "final_val_loss": float(history["val_loss"][-1]),
    })
    # rates over a few hundred items: 5 decimals say all there is (and read on the page)
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in metrics.items()}


# -- evaluation per shape --------------------------------------------------------------------

def _sequence_match(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(exact (N,) bool: every non-IGNORE target position right, correct (N, T) bool)."""
    keep = target != IGNORE
    correct = (pred == target) & keep
    return correct.sum(1) == keep.sum(1), correct


def _evaluate_vector_to_sequence(exp, module, splits, figures_dir: Path) -> dict:
    data = exp.spec["data"]
    metrics, per_split = {}, {}
    for split in SPLITS:
        x, _, target = splits[split]
        pred = module.generate(x, target.size(1))
        exact, correct = _sequence_match(pred, target)
        per_split[split] = (pred, exact)
        keep = target != IGNORE
        lengths = keep.sum(1) - 1
        eos_at = torch.where(pred == EOS, torch.arange(pred.size(1)), pred.size(1)).min(1).values
        metrics.update({
            f"{split}_exact_match": float(exact.float().mean()),
            f"{split}_token_accuracy": float(correct.sum() / keep.sum()),
            f"{split}_length_correct": float((eos_at == lengths).float().mean()),
        })
    x, _, target = splits["test"]
    pred, exact = per_split["test"]
    triples = progression_splits(data, exp.seed)["test"]
    by_length = _rate_by(np.array([n for _, _, n in triples]), exact.numpy())
    _bar_by(figures_dir / "exact_match_by_length.png", by_length, "output length (digits before EOS)",
            f"{exp.name}: free-running exact match by length (test)", metrics["test_exact_match"])

    def show(tokens) -> list[str]:
        out = []
        for t in tokens:
            out.append("EOS" if t == EOS else str(int(t)))
            if t == EOS:
                break
        return out

    rows = [(f"start {s}, step {k}, len {n}", show(target[i][target[i] != IGNORE]), show(pred[i]))
            for i, (s, k, n) in enumerate(triples[:10])]
    _examples_figure(figures_dir / "generated_sequences.png", rows,
                     f"{exp.name}: sequences generated from test vectors (fed back its own outputs)")
    metrics.update({"chance_token_accuracy": 1 / (DIGITS + 1)})
    return metrics


def _evaluate_sequence_to_vector(exp, module, splits, figures_dir: Path) -> dict:
    metrics = {}
    with torch.no_grad():
        for split in SPLITS:
            tokens, lengths, y = splits[split]
            pred = module(tokens, lengths).argmax(-1)
            metrics[f"{split}_accuracy"] = float((pred == y).float().mean())
            if split == "test":
                right = (pred == y).numpy()
                final = module.final_state(tokens, lengths).numpy()
    _, _, y_train = splits["train"]
    majority = int(y_train.float().mean() >= 0.5)
    tokens, lengths, y = splits["test"]
    metrics["majority_class_accuracy"] = float((y == majority).float().mean())
    _bar_by(figures_dir / "accuracy_by_length.png", _rate_by(lengths.numpy(), right), "sequence length",
            f"{exp.name}: test accuracy by length", metrics["test_accuracy"],
            chance=metrics["majority_class_accuracy"], ylabel="accuracy")
    _state_figure(figures_dir / "final_states.png", final, y.numpy(),
                  f"{exp.name}: the vector h_T of each test sequence (first two principal components)")
    return metrics


def _evaluate_aligned(exp, module, splits, figures_dir: Path) -> dict:
    metrics = {}
    with torch.no_grad():
        for split in SPLITS:
            tokens, target = splits[split]
            pred = module(tokens).argmax(-1)
            exact, correct = _sequence_match(pred, target)
            keep = target != IGNORE
            metrics.update({f"{split}_token_accuracy": float(correct.sum() / keep.sum()),
                            f"{split}_exact_match": float(exact.float().mean())})
            if split == "test":
                test_pred, test_correct, test_keep = pred, correct, keep
    metrics["chance_token_accuracy"] = 1 / DIGITS
    tokens, target = splits["test"]
    steps = test_keep.sum(0).clamp(min=1)
    by_position = {t + 1: float(test_correct[:, t].sum() / steps[t]) for t in range(target.size(1))
                   if test_keep[:, t].any()}
    _bar_by(figures_dir / "accuracy_by_position.png", by_position, "time step t",
            f"{exp.name}: test accuracy of y_t by position", metrics["test_token_accuracy"],
            chance=metrics["chance_token_accuracy"], ylabel="accuracy of y_t")
    rows = []
    for i in range(8):
        n = int(test_keep[i].sum())
        rows.append((" ".join(str(int(v)) for v in tokens[i, :n]), [str(int(v)) for v in target[i, :n]],
                     [str(int(v)) for v in test_pred[i, :n]]))
    _examples_figure(figures_dir / "running_sums.png", rows,
                     f"{exp.name}: running sums mod 10 of test sequences (input on the left)")
    return metrics


def _evaluate_encoder_decoder(exp, module, splits, figures_dir: Path) -> dict:
    data = exp.spec["data"]
    max_len = data["max_len"] + 1
    metrics = {"task": data["task"]}
    for split in ("val", "test"):     # the test split last: its decodings are drawn below
        src, _, tgt_out = splits[split]
        greedy = module.greedy(src, max_len)
        metrics[f"{split}_exact_match"], metrics[f"{split}_token_accuracy"] = (
            round(v, 4) for v in sorting.sequence_scores(greedy, tgt_out))
    lengths = (src != sorting.PAD).sum(1).numpy()
    exact = np.array([sorting.sequence_scores(greedy[i:i + 1], tgt_out[i:i + 1])[0] == 1.0 for i in range(len(src))])
    _bar_by(figures_dir / "exact_match_by_length.png", _rate_by(lengths, exact), "source length",
            f"{exp.name}: greedy exact match by source length (test), no attention", metrics["test_exact_match"])

    def show(tokens) -> list[str]:
        out = []
        for t in tokens.tolist():
            if t == sorting.PAD:
                break
            out.append("EOS" if t == sorting.EOS else str(t - sorting.SPECIALS))
        return out

    rows = [(" ".join(show(src[i])), show(tgt_out[i]), show(greedy[i])) for i in range(8)]
    _examples_figure(figures_dir / "decoded_sequences.png", rows,
                     f"{exp.name}: greedy decoding of test sequences ({data['task']}; source on the left)")
    return metrics


EVALUATORS = {"vector_to_sequence": _evaluate_vector_to_sequence, "sequence_to_vector": _evaluate_sequence_to_vector,
              "aligned": _evaluate_aligned, "encoder_decoder": _evaluate_encoder_decoder}


# -- figures -------------------------------------------------------------------------------------

def _rate_by(keys: np.ndarray, hits: np.ndarray) -> dict[int, float]:
    return {int(k): float(hits[keys == k].mean()) for k in np.unique(keys)}


def _bar_by(path: Path, rates: dict[int, float], xlabel: str, title: str, overall: float,
            chance: float | None = None, ylabel: str = "exact-match rate") -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.4, 4))
    ax.bar(list(rates), list(rates.values()), color=OKABE_ITO[0])
    ax.axhline(overall, color=OKABE_ITO[3], ls="--", label=f"all test items: {overall:.3f}")
    if chance is not None:
        ax.axhline(chance, color="black", ls=":", label=f"chance / majority: {chance:.3f}")
    ax.set_xticks(list(rates))
    ax.set_ylim(0, 1.25)              # room above the bars for the legend
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(loc="upper center", ncol=2)
    save(fig, path)


def _examples_figure(path: Path, rows: list[tuple[str, list[str], list[str]]], title: str) -> None:
    """One line per example: its input, then the true and the predicted tokens, wrong ones in
    vermillion."""
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    width = max(max(len(t), len(p)) for _, t, p in rows)
    fig, ax = plt.subplots(figsize=(4.2 + 0.42 * width, 0.9 + 0.62 * len(rows)))
    ax.set_xlim(-0.5, width + 8.5)
    ax.set_ylim(len(rows) * 2, -1)
    ax.axis("off")
    for r, (label, truth, pred) in enumerate(rows):
        y = 2 * r
        ax.text(-0.5, y + 0.5, label, ha="left", va="center", fontsize=9, family="monospace")
        ax.text(7.6, y, "true", ha="right", va="center", fontsize=8, color="#555555")
        ax.text(7.6, y + 1, "model", ha="right", va="center", fontsize=8, color="#555555")
        for c in range(width):
            t = truth[c] if c < len(truth) else ""
            p = pred[c] if c < len(pred) else ""
            ax.text(8 + c, y, t, ha="center", va="center", fontsize=9, family="monospace")
            ax.text(8 + c, y + 1, p, ha="center", va="center", fontsize=9, family="monospace",
                    color="#000000" if p == t else "#D55E00", weight="normal" if p == t else "bold")
    ax.set_title(title, fontsize=11)
    save(fig, path, alt=f"{title}: {len(rows)} examples, each with the true sequence above the model's; "
                        "the model's wrong tokens are marked in bold vermillion.")


def _state_figure(path: Path, states: np.ndarray, labels: np.ndarray, title: str) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    centred = states - states.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    for cls, colour, name in ((0, OKABE_ITO[0], "last digit <= first"), (1, OKABE_ITO[3], "last digit > first")):
        pts = xy[labels == cls]
        ax.scatter(pts[:, 0], pts[:, 1], s=10, color=colour, alpha=0.6, label=name)
    ax.set_xlabel("principal component 1 of h_T")
    ax.set_ylabel("principal component 2 of h_T")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)   # below: the points fill the axes
    save(fig, path)
