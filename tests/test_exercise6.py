"""Exercise 31.9.6 (the MNIST example, parts a-n): its entries expand into the variants it asks
for without touching the 31.8.4 entries; the L2 penalty is Keras' l2; the own-digit renderer is
seeded and MNIST-normalised; load_weights round-trips; the own_digits table on tiny fake
checkpoints agrees with the models it loads."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from conftest import require
from dllaunchpad.datasets import digit_images as D
from dllaunchpad.pipeline.registry import Experiment
from dllaunchpad.training.checkpoints import load_weights

RMSPROP = {"name": "rmsprop", "lr": 0.001, "rho": 0.9, "eps": 1.0e-7}


# -- the registry entries ------------------------------------------------------------------------

QUICK_VARIANTS = {  # two runs per comparison in quick mode
    "ex6_mlp_architectures": ["hidden64__seed0", "hidden256x128__seed0"],
    "ex6_l2": ["l1__seed0", "l20p001__seed0"],
    "ex6_dropout": ["dropout0p0x0p2x0p2x0p0__seed0", "dropout0p0x0p8x0p8x0p0__seed0"],
    "ex6_early_stopping_dropout": ["dropout0p0x0p0x0p0x0p0__patience3__seed0",
                                   "dropout0p0x0p5x0p5x0p0__patience3__seed0"],
    "ex6_cnn_epochs_batch": ["epochs1__batch_size100", "epochs1__batch_size500"],
    "ex6_denoising_epochs": ["epochs1__batch_size600", "epochs2__batch_size600"],
}
# full scale: (variants, seeds): the exercise's grids
FULL_COUNTS = {"ex6_mlp_architectures": (6, 3), "ex6_l2": (5, 3), "ex6_dropout": (6, 3),
               "ex6_early_stopping_dropout": (5, 3), "ex6_cnn_epochs_batch": (10, 1),
               "ex6_denoising_epochs": (9, 1)}


def test_quick_entries_expand_into_small_grids(quick):
    for entry, labels in QUICK_VARIANTS.items():
        assert quick.comparisons[entry].variants == tuple(f"{entry}__{lab}" for lab in labels), entry
        for v in quick.comparisons[entry].variants:
            exp = quick.experiment(v)
            assert exp.chapter == "31.9.6" and exp.variant_of == entry and exp.spec.get("question")
            epochs = exp.spec["trainer"]["epochs"]
            assert epochs <= 2, (v, epochs)  # the quick DAG stays within minutes
    # own digits: the entry (seed 0) and one more rendering, evaluate only
    assert quick.comparisons["ex6_own_digits"].variants == ("ex6_own_digits", "ex6_own_digits__seed1")
    assert not quick.experiment("ex6_own_digits").trains


def test_full_entries_are_the_exercise_settings(full):
    for entry, (n, seeds) in FULL_COUNTS.items():
        assert len(full.comparisons[entry].variants) == n * seeds, entry
    cnn = {(full.experiment(v).spec["trainer"]["epochs"], full.experiment(v).spec["trainer"]["batch_size"])
           for v in full.comparisons["ex6_cnn_epochs_batch"].variants if "wider" not in v}
    assert cnn == {(e, b) for e in (1, 5, 10) for b in (100, 500, 2000)}
    ae = {(full.experiment(v).spec["trainer"]["epochs"], full.experiment(v).spec["trainer"]["batch_size"])
          for v in full.comparisons["ex6_denoising_epochs"].variants if "lr1" not in v}
    assert ae == {(e, b) for e in (1, 10, 20, 50) for b in (100, 600)}  # parts m and n
    assert full.experiment("ex6_denoising_epochs").spec["optimizer"] == \
        full.experiment("mnist_denoising_ae").spec["optimizer"]  # "the" denoising autoencoder's Adadelta
    rates = sorted({full.experiment(v).spec["model"]["dropout"][1] for v in full.comparisons["ex6_dropout"].variants})
    assert rates == [0.0, 0.2, 0.4, 0.5, 0.6, 0.8]
    l2 = full.experiment("ex6_l2__l20p0001__seed1").spec["model"]
    assert l2 == {"hidden": [400, 400, 400, 200], "l2": 1.0e-4} and full.experiment("ex6_l2__l20p0001__seed1").seed == 1
    own = full.experiment("ex6_own_digits")
    assert set(own.spec["uses_specs"]) == set(own.spec["uses"])
    assert own.spec["uses_specs"]["mnist_cnn"] == full.experiment("mnist_cnn").spec


def _training(spec: dict) -> dict:
    """The settings that decide a trained model's numbers (not its title or chapter)."""
    trainer = {k: v for k, v in spec["trainer"].items() if v is not None}
    model = {k: v for k, v in spec["model"].items() if not (k == "dropout" and not any(v))}
    return {"model": model, "optimizer": spec["optimizer"], "trainer": trainer, "dataset": spec["dataset"],
            "family": spec["family"]}


@pytest.mark.parametrize("variant, same_as", [
    ("ex6_early_stopping_dropout__no_early_stopping__seed0", "mnist_dropout"),
    ("ex6_early_stopping_dropout__dropout0p0x0p0x0p0x0p0__patience3__seed0", "mnist_early_stopping"),
    ("ex6_l2__l1__seed0", "mnist_l1"),
    ("ex6_mlp_architectures__hidden256x128__seed0", "mnist_mlp"),
    ("ex6_dropout__dropout0p0x0p5x0p5x0p0__seed0", "mnist_dropout"),
])
def test_the_chapter_settings_are_one_of_the_variants(full, variant, same_as):
    """Each sweep contains the chapter's own model (with seed 0, the entries' seed), so its
    comparison has the 31.8.4 result as a reference point; l2 0 and dropout rates of 0 build the
    same network as no penalty and no dropout layer."""
    a, b = _training(full.experiment(variant).spec), _training(full.experiment(same_as).spec)
    a["model"] = {k: v for k, v in a["model"].items() if not (k == "l2" and v == 0)}
    assert a == b and full.experiment(variant).seed == full.experiment(same_as).seed == 0


def test_zero_dropout_rates_build_the_network_without_dropout_layers(full):
    from dllaunchpad.experiments import mlp_classifier

    torch.manual_seed(0)
    zero = mlp_classifier.model(full.experiment("ex6_early_stopping_dropout__dropout0p0x0p0x0p0x0p0__patience3__seed0"))
    torch.manual_seed(0)
    plain = mlp_classifier.model(full.experiment("mnist_early_stopping"))
    assert str(zero.net) == str(plain.net)
    assert all(torch.equal(p, q) for p, q in zip(zero.state_dict().values(), plain.state_dict().values()))


# -- L2 (part e) ---------------------------------------------------------------------------------

def test_l2_penalty_is_keras_l2_on_the_hidden_kernels():
    from dllaunchpad.models.mlp_classifier import MLPClassifier
    from dllaunchpad.models.regularization import l1_penalty

    torch.manual_seed(0)
    m = MLPClassifier(6, [5, 4], 3, RMSPROP, l2=0.1)
    hidden = [m.net[1][0].weight.detach(), m.net[1][2].weight.detach()]  # Linear, ReLU, Linear, ReLU, Linear(out)
    expected = 0.1 * sum(float((w ** 2).sum()) for w in hidden)  # lam * sum w^2: no 1/2, no biases, no output layer
    assert float(m.penalty().detach()) == pytest.approx(expected, rel=1e-6)
    m.l1 = 0.01  # both: the elastic sum
    l1 = 0.01 * sum(float(w.abs().sum()) for w in hidden)
    assert float(m.penalty().detach()) == pytest.approx(expected + l1, rel=1e-6)
    m.l2 = 0.0  # L1 alone: exactly the arithmetic of the L1 model
    assert torch.equal(m.penalty().detach(), l1_penalty(hidden, 0.01))
    x, y = torch.randn(7, 6), torch.randint(0, 3, (7,))
    m.l1, m.l2 = 0.0, 0.1
    m.log = lambda *a, **k: None
    loss = m._step((x, y), "train")
    assert float(loss.detach()) == pytest.approx(float(torch.nn.functional.cross_entropy(m(x), y).detach()) + expected,
                                                 rel=1e-6)


# -- the digit renderer and folder -----------------------------------------------------------------

@pytest.fixture
def fonts():
    return require(D.find_fonts(), "TrueType fonts (apt-get install fonts-dejavu-core fonts-liberation "
                                   "fonts-freefont-ttf)")


def test_mnist_centre_scales_into_20x20_and_centres_the_mass():
    img = np.zeros((100, 100), np.float32)
    img[10:20, 70:74] = 1.0  # a 10 x 4 bar in a corner
    out = D.mnist_centre(img)
    rows, cols = np.nonzero(out)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert rows.max() - rows.min() + 1 == 20 and cols.max() - cols.min() + 1 == 8  # 10:4 scaled to 20:8
    # a symmetric shape: its centre of mass lands exactly on the field's centre 13.5
    assert D.centre_of_mass(out) == pytest.approx((13.5, 13.5), abs=1e-6)
    with pytest.raises(ValueError, match="empty"):
        D.mnist_centre(np.zeros((5, 5)))


@pytest.mark.real_component
def test_rendered_digits_are_seeded_centred_28x28(fonts):
    a, b, c = D.render_digits(3, per_digit=2), D.render_digits(3, per_digit=2), D.render_digits(4, per_digit=2)
    assert [d.label for d in a] == [k for k in range(10) for _ in range(2)]
    assert all(np.array_equal(x.image, y.image) and x.name == y.name for x, y in zip(a, b))  # same seed, same bytes
    assert sum(not np.array_equal(x.image, y.image) for x, y in zip(a, c)) >= 15  # another seed, other digits
    for d in a:
        assert d.image.shape == (28, 28) and d.image.dtype == np.float32
        assert 0.0 <= d.image.min() and d.image.max() <= 1.0 and d.image.max() > 0.5
        rows, cols = np.nonzero(d.image)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 20  # MNIST's 20x20 box
        # a whole-pixel shift puts the centre of mass within half a pixel of the centre
        cy, cx = D.centre_of_mass(d.image)
        assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5, (d.name, cy, cx)
        assert np.array_equal(d.image, np.round(d.image * 255) / 255)  # 8-bit: a PNG holds it exactly


@pytest.mark.real_component
def test_a_folder_of_own_digits(tmp_path, fonts):
    from PIL import Image

    digits = D.render_digits(0, per_digit=1)
    folder = tmp_path / "mine"
    D.write_png(folder / "7_mine.png", digits[7].image)
    Image.fromarray(np.round((1 - digits[3].image) * 255).astype(np.uint8)).save(folder / "3_dark_on_light.png")
    big = np.zeros((90, 60), np.uint8)
    big[20:70, 25:35] = 255
    Image.fromarray(big).save(folder / "1_scan.png")
    (folder / "notes.txt").write_text("not a digit")
    D.write_png(folder / "x_unlabelled.png", digits[0].image)
    read, skipped = D.read_folder(folder)
    assert [d.name for d in read] == ["1_scan.png", "3_dark_on_light.png", "7_mine.png"]
    assert [d.label for d in read] == [1, 3, 7] and skipped == ["notes.txt", "x_unlabelled.png"]
    assert np.array_equal(read[2].image, digits[7].image) and read[2].note == ""  # PNG round trip, as is
    assert np.array_equal(read[1].image, digits[3].image) and "inverted" in read[1].note
    assert read[0].image.shape == (28, 28) and "centred like MNIST" in read[0].note
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="<label>_<anything>.png"):
        D.read_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        D.read_folder(tmp_path / "nowhere")


# -- load_weights ------------------------------------------------------------------------------

def _tiny_mlp():
    from dllaunchpad.models.mlp_classifier import MLPClassifier

    return MLPClassifier(784, [8], 10, RMSPROP)


def test_load_weights_round_trips_and_prefers_best(tmp_path):
    torch.manual_seed(1)
    trained, best = _tiny_mlp(), _tiny_mlp()
    (tmp_path / "m").mkdir()
    torch.save({"state_dict": trained.state_dict(), "epoch": 3}, tmp_path / "m/last.ckpt")
    torch.manual_seed(2)
    fresh = _tiny_mlp()
    assert not torch.equal(fresh.net[1][0].weight, trained.net[1][0].weight)
    assert load_weights(fresh, tmp_path / "m") is fresh and not fresh.training
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), trained.state_dict().values()))
    torch.save({"state_dict": best.state_dict(), "epoch": 1, "monitor": "val_loss", "value": 0.1},
               tmp_path / "m/best.ckpt")
    load_weights(fresh, tmp_path / "m")  # evaluation's choice: the best epoch when kept
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), best.state_dict().values()))
    with pytest.raises(FileNotFoundError, match="no best.ckpt or last.ckpt"):
        load_weights(fresh, tmp_path / "empty")


# -- the own_digits family on tiny fake checkpoints ----------------------------------------------

USES = {
    "tiny_mlp": {"family": "mlp_classifier", "dataset": "mnist", "model": {"hidden": [8]}, "optimizer": RMSPROP},
    "tiny_cnn": {"family": "cnn_classifier", "dataset": "mnist", "optimizer": RMSPROP,
                 "model": {"filters": [2], "pool": [True], "dense": [4], "kernel_size": 3}},
    "tiny_ae": {"family": "denoising_autoencoder", "dataset": "mnist", "model": {"filters": 2},
                "optimizer": {"name": "adadelta", "lr": 1.0}},
}


def _own_exp(root, **data):
    from dllaunchpad.experiments import own_digits

    modules = {}
    for i, (name, spec) in enumerate(USES.items()):
        torch.manual_seed(10 + i)
        fam = own_digits.CLASSIFIERS.get(spec["family"]) or own_digits.DENOISERS[spec["family"]]
        modules[name] = fam.model(Experiment(name, spec, root=root))
        (root / "models" / name).mkdir(parents=True)
        torch.save({"state_dict": modules[name].state_dict()}, root / "models" / name / "last.ckpt")
        modules[name].eval()
    spec = {"family": "own_digits", "chapter": "31.9.6", "title": "t", "dataset": "mnist", "gpu": False,
            "uses": list(USES), "uses_specs": USES, "data": {"per_digit": 1, **data},
            "evaluate": {"noise": 0.28, "classifier": "tiny_cnn"}}
    return Experiment("own", spec, seed=0, root=root), modules


@pytest.mark.real_component
def test_own_digits_table_agrees_with_the_models_it_loads(tmp_path, fonts):
    from dllaunchpad.experiments import own_digits

    exp, modules = _own_exp(tmp_path)
    figures = tmp_path / "figures"
    figures.mkdir()
    metrics = own_digits.evaluate(exp, None, figures)

    digits = D.render_digits(0, per_digit=1)
    x = torch.from_numpy(np.stack([d.image for d in digits]))
    labels = np.arange(10)
    with torch.no_grad():
        pred = {"tiny_mlp": modules["tiny_mlp"](x).argmax(1).numpy(),
                "tiny_cnn": modules["tiny_cnn"](x[:, None]).argmax(1).numpy()}
        noisy = torch.from_numpy(own_digits.add_noise(x.numpy(), 0.28, 0))
        cleaned = torch.sigmoid(modules["tiny_ae"].logits(noisy[:, None]))[:, 0]
    assert metrics["digits"] == 10 and metrics["files_skipped"] == 0 and metrics["digits_source"].startswith("rendered")
    for name in ("tiny_mlp", "tiny_cnn"):
        assert metrics[f"accuracy_{name}"] == pytest.approx(float((pred[name] == labels).mean()))
    assert metrics["classifiers_mean_accuracy"] == pytest.approx(
        (metrics["accuracy_tiny_mlp"] + metrics["accuracy_tiny_cnn"]) / 2)
    assert metrics["mse_noisy_input"] == pytest.approx(float(((noisy - x) ** 2).mean()), rel=1e-5)
    assert metrics["mse_denoised_tiny_ae"] == pytest.approx(float(((cleaned - x) ** 2).mean()), rel=1e-5)
    assert "accuracy_tiny_ae" not in metrics and metrics["judge_classifier"] == "tiny_cnn"
    assert not any(isinstance(v, (dict, list)) for v in metrics.values())  # flat, as the runner requires

    rows = list(csv.DictReader((figures / "predictions.csv").open()))
    assert [r["file"] for r in rows] == [d.name for d in digits] and [int(r["label"]) for r in rows] == list(labels)
    assert [int(r["tiny_mlp_predicted"]) for r in rows] == list(pred["tiny_mlp"])
    assert [int(r["tiny_cnn_predicted"]) for r in rows] == list(pred["tiny_cnn"])
    assert {p.name for p in figures.iterdir()} == {"predictions.csv", "predictions.png", "accuracy.png",
                                                  "denoising.png", "digits"}
    assert sorted(p.name for p in (figures / "digits").iterdir()) == sorted(d.name for d in digits)
    again, _ = D.read_folder(figures / "digits")  # the rendered PNGs are a valid folder of one's own digits
    assert sorted((d.name, d.image.tobytes()) for d in again) == sorted((d.name, d.image.tobytes()) for d in digits)


@pytest.mark.real_component
def test_own_digits_from_a_folder_and_bad_uses(tmp_path, fonts):
    from dllaunchpad.experiments import own_digits

    for i, d in enumerate(D.render_digits(5, per_digit=1)[:4]):
        D.write_png(tmp_path / "mine" / f"{d.label}_{i}.png", d.image)
    (tmp_path / "mine" / "readme.md").write_text("x")
    exp, _ = _own_exp(tmp_path, folder="mine")
    (tmp_path / "figures").mkdir()
    metrics = own_digits.evaluate(exp, None, tmp_path / "figures")
    assert (metrics["digits"], metrics["files_skipped"], metrics["digits_source"]) == (4, 1, "folder mine")
    assert not (tmp_path / "figures" / "digits").exists()  # the reader's digits are not copied

    odd = {**USES["tiny_mlp"], "dataset": "iris"}
    bad = Experiment("own", {**exp.spec, "uses": ["odd"], "uses_specs": {"odd": odd}}, root=tmp_path)
    with pytest.raises(ValueError, match="odd is a mlp_classifier on iris"):
        own_digits.used_models(bad)
