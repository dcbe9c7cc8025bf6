"""Exercises 31.9.2 (the MIDI LSTM varied: an extra layer, dropout, weight decay, loss weights) and
31.9.8 (digits and letters in one CNN, and a line reader): their registry entries, the pool's
seeded per-class parts, and the letters_digits family trained and evaluated end to end on a
small real-MNIST pool."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from conftest import require
from dllaunchpad.datasets import letter_images as L
from dllaunchpad.datasets.digit_images import find_fonts
from dllaunchpad.datasets.idx import read_idx_pair
from dllaunchpad.experiments import letters_digits as LD
from dllaunchpad.pipeline.config import load_params, read_params
from dllaunchpad.pipeline.stages import build_stages

from supervised_data import experiment, one_thread


# -- exercise 2 -----------------------------------------------------------------------------------

def test_ex2_variants_change_one_setting_each_and_all_generate(full, quick):
    names = ("chapter", "two_layers", "dropout_0p3", "no_weight_decay", "weight_decay_1em4", "pitch_weight_0p05")
    cmp = full.comparisons["ex2_midi_variants"]
    assert cmp.variants == tuple(f"ex2_midi_variants__{n}__seed{s}" for n in names for s in (42, 0))
    assert cmp.compare["metric"] == "val_unweighted_loss" and cmp.compare["goal"] == "min"
    spec = {n: full.experiment(f"ex2_midi_variants__{n}__seed42").spec for n in names}
    chapter = full.experiment("midi_lstm").spec
    # the "chapter" variant trains midi_lstm's model, optimizer, data and trainer
    for key in ("data", "optimizer", "trainer"):
        assert spec["chapter"][key] == chapter[key]
    assert {k: v for k, v in spec["chapter"]["model"].items() if k != "layers"} == chapter["model"]
    assert spec["two_layers"]["model"]["layers"] == 2
    assert spec["dropout_0p3"]["model"]["dropout"] == 0.3
    assert spec["no_weight_decay"]["optimizer"]["weight_decay"] == 0.0
    assert spec["weight_decay_1em4"]["optimizer"]["weight_decay"] == 1.0e-4
    assert spec["pitch_weight_0p05"]["model"]["loss_weights"] == {"pitch": 0.05}
    table = build_stages(quick)
    for v in quick.comparisons["ex2_midi_variants"].variants:  # quick: chapter and two_layers
        assert f"generate_{v}" in table and f"evaluate_{v}" in table
        assert quick.experiment(v).spec["trainer"]["epochs"] <= 3
    assert len(quick.comparisons["ex2_midi_variants"].variants) == 2


def test_ex2_a_bad_loss_term_is_refused_before_any_job():
    params = read_params()
    params["experiments"]["ex2_midi_variants"]["variants"]["named"]["velocity"] = {
        "model.loss_weights": {"velocity": 1.0}}
    with pytest.raises(Exception, match="ex2_midi_variants.*velocity"):
        load_params(params)


# -- exercise 8: the entry and the pool's parts -----------------------------------------------------

def test_ex8_entry(full, quick):
    cmp = full.comparisons["ex8_letters_digits"]
    assert len(cmp.variants) == 8 and cmp.compare["metric"] == "test_accuracy"
    for v in cmp.variants:
        s = full.experiment(v).spec
        assert s["trainer"]["early_stopping"]["restore_best"] is True and s["trainer"]["epochs"] >= 25
    both = full.experiment("ex8_letters_digits__dropout_weight_decay__seed0").spec
    assert both["model"]["dropout"] == [0.5] and both["optimizer"]["weight_decay"] == 1.0e-4
    # the params' augmentation is a valid Augment
    L.Augment.from_settings(full.experiment("ex8_letters_digits").spec["data"]["augment"])
    assert len(quick.comparisons["ex8_letters_digits"].variants) == 2
    assert quick.experiment("ex8_letters_digits").spec["data"]["per_class"] <= 100


def test_part_copies_cut_each_class_into_disjoint_parts():
    parts = LD.part_copies(50, 0.1, 0.2, np.random.default_rng(3))
    assert [len(parts[k]) for k in ("train", "val", "test")] == [35, 5, 10]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(50))
    again = LD.part_copies(50, 0.1, 0.2, np.random.default_rng(3))
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


@pytest.fixture(scope="module")
def fonts():
    return require(find_fonts(), "TrueType fonts (apt-get install fonts-dejavu-core fonts-liberation "
                                 "fonts-freefont-ttf)")


@pytest.mark.real_component
def test_some_copies_are_the_same_copies_of_a_full_pool(fonts):
    full_images, full_labels, _ = L.generate("B8", 6, seed=4)
    some, labels, _ = L.generate("B8", 6, seed=4, copies=[1, 4])
    np.testing.assert_array_equal(some, full_images[[1, 4, 7, 10]])
    np.testing.assert_array_equal(labels, full_labels[[1, 4, 7, 10]])
    with pytest.raises(ValueError, match="copies"):
        L.generate("B", 3, seed=0, copies=[3])


def test_look_alike_counts_read_both_directions():
    counts = np.zeros((36, 36), int)
    eight, b, one, i = (LD.CLASSES.index(c) for c in "8B1I")
    counts[eight, b], counts[b, eight], counts[one, i] = 3, 2, 5
    out = LD.look_alike_counts(counts)
    assert out["confusion_8_as_B"] == 3 and out["confusion_B_as_8"] == 2 and out["confusion_8_B"] == 5
    assert out["confusion_1_I"] == 5 and out["confusion_I_as_1"] == 0 and out["confusion_0_O"] == 0


def test_bad_line_texts_are_refused_naming_the_entry():
    exp = experiment(read_params(), "ex8_letters_digits", evaluate={"lines": ["AB c1"]})
    with pytest.raises(ValueError, match=r"ex8_letters_digits\.evaluate\.lines.*'c'"):
        LD.line_texts(exp)


# -- exercise 8 end to end: a small real-MNIST pool, trained and read -------------------------------

def _real_mnist(mirror, root, n_train=4000, n_test=1000):
    """The first MNIST images from the offline mirror, as datasets/mnist.py's processed files."""
    out = root / "data" / "processed" / "mnist"
    out.mkdir(parents=True)
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        x, y = read_idx_pair(mirror("mnist") / f"{prefix}-images-idx3-ubyte.gz",
                             mirror("mnist") / f"{prefix}-labels-idx1-ubyte.gz")
        np.savez(out / f"{split}.npz", x=x[:n], y=y[:n].astype(np.int64))


@pytest.mark.real_component
def test_letters_digits_trains_reads_lines_and_counts_look_alikes(tmp_path, mirror, fonts):
    from dllaunchpad.runners.evaluate import evaluate
    from dllaunchpad.runners.train import train

    _real_mnist(mirror, tmp_path)
    exp = experiment(read_params(), "ex8_letters_digits", data={"per_class": 40},
                     trainer={"epochs": 4, "batch_size": 64},
                     evaluate={"lines": ["B8 I1", "OSLO 2025"], "random_lines": 2, "random_length": 6}).at(tmp_path)
    with one_thread():
        train(exp, progress=False)
        m = evaluate(exp)
    n_test = 36 * 8  # 20 % of 40 per class
    assert m["test_examples"] == n_test and m["pool_per_class"] == 40
    # the two halves of the test set add up to the whole
    assert m["test_accuracy"] == pytest.approx((80 * m["digit_test_accuracy"] + 208 * m["letter_test_accuracy"]) / n_test)
    assert m["test_accuracy"] > 0.4  # 36 classes: chance is 0.03 (measured 0.64)
    figures = tmp_path / exp.figures_dir
    rows = list(csv.reader((figures / "confusion_matrix.csv").open()))
    assert rows[0][1:] == LD.CLASSES
    counts = np.array([[int(v) for v in r[1:]] for r in rows[1:]])
    assert counts.sum() == n_test and np.trace(counts) == round(m["test_accuracy"] * n_test)
    assert m["confusion_8_as_B"] == counts[8, LD.CLASSES.index("B")]
    assert m["confusion_1_I"] == counts[1, LD.CLASSES.index("I")] + counts[LD.CLASSES.index("I"), 1]
    lines = list(csv.DictReader((figures / "lines_read.csv").open()))
    assert [r["text"] for r in lines[:2]] == ["B8 I1", "OSLO 2025"] and len(lines) == m["lines_read"] == 4
    assert m["line_characters"] == 5 + 9 + 2 * 7
    assert 0.0 <= m["line_character_accuracy"] <= 1.0
    for name in ("look_alikes.png", "lines_read.png", "generated_letters.png", "confusion_matrix.png"):
        assert (figures / name).stat().st_size > 1000
    # the checkpoint's module gives the same test accuracy when loaded again
    from dllaunchpad.runners.train import load_trained

    module = load_trained(exp)
    x, y = LD.part(exp, "test")
    with torch.no_grad():
        assert float((module(x).argmax(1) == y).float().mean()) == pytest.approx(m["test_accuracy"])
