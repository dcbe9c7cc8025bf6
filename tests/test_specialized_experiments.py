"""The families of chapter 31.1 / 31.7 end to end at toy size (a few hundred real MNIST digits
prepared from the mirror, one or two epochs): train through the runner, evaluate, and check
the metrics, the history and the figures. The quick DAG runs the real settings."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from dllaunchpad.runners.evaluate import evaluate
from dllaunchpad.pipeline.registry import Experiment
from dllaunchpad.runners.train import train

# What an experiment resolves from params.yaml besides the entry: the seed and the resume
# checkpoint interval.
PARAMS = {"seed": 0, "datasets": {"mnist": {}}, "experiments": {}, "cluster": {"checkpoint_interval_s": 3600}}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from dllaunchpad.datasets import prepare

    from conftest import MIRROR

    if not (MIRROR / "mnist").is_dir():
        pytest.skip(f"dataset mirror {MIRROR / 'mnist'} not available")
    root = tmp_path_factory.mktemp("specialized")
    prepare("mnist", MIRROR / "mnist", root / "data/processed/mnist",
            {"noise_factor": 0.4, "noise_seed": 1, "train_samples": 400, "test_samples": 200})
    return root


def _model_reads_no_data(exp):
    """The family's model(exp) builds the untrained module in a root without any data, with the
    initial weights build(exp) gives under the same seed."""
    import lightning as L

    from dllaunchpad.experiments import family_module

    fam = family_module(exp.family)
    L.seed_everything(exp.seed, verbose=False)
    built, _ = fam.build(exp)
    L.seed_everything(exp.seed, verbose=False)
    alone = fam.model(exp.at(exp.root / "no_data_here"))
    a, b = built.state_dict(), alone.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _run(name, spec, root):
    exp = Experiment.resolve(name, {"chapter": "31.7", "title": name, "gpu": False, **spec}, PARAMS, root)
    if exp.trains:
        _model_reads_no_data(exp)
    info = train(exp, progress=False) if exp.trains else None
    metrics = evaluate(exp)
    assert json.loads((root / exp.metrics).read_text()) == json.loads(json.dumps(metrics))
    pngs = sorted((root / exp.figures_dir).glob("*.png"))
    for png in pngs:
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] >= 300
    return exp, info, metrics, {p.name for p in pngs}


ADAM = {"name": "adam", "lr": 0.002}


def test_gan_family(root):
    variants = {"non_saturating": {"generator_loss": "non_saturating", "minibatch_discrimination": False,
                                   "feature_matching": False},
                "both": {"generator_loss": "non_saturating", "minibatch_discrimination": True, "feature_matching": True}}
    spec = {"family": "gan", "dataset": "mnist",
            "model": {"latent": 8, "generator_hidden": [32], "discriminator_hidden": [32], "k": 2,
                      "minibatch_kernels": 4, "minibatch_kernel_dim": 3, "judge_filters": [4, 8], "judge_lr": 0.01,
                      "fixed_samples": 4, "coverage_samples": 40, "variants": variants},
            "optimizer": ADAM, "trainer": {"epochs": 3, "batch_size": 40},
            "evaluate": {"samples": 100, "min_class_share": 0.025}}
    exp, info, m, figures = _run("gan_toy", spec, root)
    assert info["epochs_run"] == 3
    # Bands from this toy config run with seeds 0, 1, 2 (the spec's seed changed, nothing else):
    # judge accuracy 0.715 / 0.79 / 0.72; both generators collapse onto one digit every time
    # (classes covered 1, class entropy 0, max class share 1, judge score 1.0001-1.017) with a
    # diversity of 0.31-0.43; each band is that range widened by about its own width.
    assert 0.6 < m["judge_test_accuracy"] < 0.9             # 30 steps on 400 digits: well above chance (0.1)
    for v in variants:
        assert m[f"{v}_classes_covered"] <= 2 and m[f"{v}_max_class_share"] >= 0.8   # 3 epochs: collapsed
        assert m[f"{v}_class_entropy"] <= 0.2 and 1.0 <= m[f"{v}_judge_score"] < 1.05
        assert 0.25 < m[f"{v}_diversity"] < 0.5
    history = (root / exp.history).read_text().splitlines()
    assert len(history) == 4 and "train_both_class_entropy" in history[0] and "train_both_g_loss" in history[0]
    state = torch.load(root / exp.checkpoint, weights_only=True)["state_dict"]
    assert state["epoch_samples"].shape == (2, 3, 4, 28, 28)
    assert (state["epoch_samples"].flatten(2).max(2).values > 0).all()   # every epoch's grid was kept
    assert {"losses.png", "class_histogram.png", "samples_by_epoch_both.png", "coverage_by_epoch.png"} <= figures


def test_dense_autoencoder_family(root):
    variants = {"linear": {"hidden": [], "code": 8, "activation": "linear", "code_activation": "linear",
                           "output": "linear"},
                "sparse_kl": {"hidden": [], "code": 16, "activation": "sigmoid", "code_activation": "sigmoid",
                              "output": "sigmoid", "sparsity": {"penalty": "kl", "rho": 0.05, "beta": 3.0}}}
    spec = {"family": "dense_autoencoder", "dataset": "mnist", "model": {"variants": variants},
            "optimizer": {"name": "adam", "lr": 0.01}, "trainer": {"epochs": 3, "batch_size": 50}}
    _, _, m, figures = _run("ae_toy", spec, root)
    assert m["linear_pca_test_mse"] < m["linear_test_mse"] < 0.1   # PCA is the linear optimum
    assert 0 < m["sparse_kl_mean_activation"] < 0.5 and m["sparse_kl_target_rho"] == 0.05
    assert {"reconstructions.png", "pca_vs_autoencoders.png", "mean_activation_per_unit.png",
            "features_sparse_kl.png", "val_mse.png"} <= figures


def test_vae_family_is_deterministic(root, tmp_path):
    spec = {"family": "vae", "dataset": "mnist", "model": {"hidden": [64], "latent": 2}, "optimizer": ADAM,
            "trainer": {"epochs": 2, "batch_size": 50},
            "evaluate": {"elbo_samples": 2, "iwae_samples": 5, "grid": 5, "traversal_dims": [0, 1]}}
    exp, _, m, figures = _run("vae_toy", spec, root)
    # nats per image; seeds 0, 1, 2 of this toy config give -327.9 / -316.8 / -298.7: the band is
    # that range widened by about half its width on each side
    assert -345 < m["test_elbo"] < -280
    assert m["test_elbo"] == pytest.approx(-(m["test_recon_nll"] + m["test_kl"]), abs=1e-3)
    assert m["test_kl"] > 0 and m["test_log_likelihood_iwae"] >= m["test_elbo"] - 1.0
    header = (root / exp.history).read_text().splitlines()[0]
    assert {"train_recon", "train_kl", "val_neg_elbo"} <= set(header.split(","))
    assert {"prior_samples.png", "latent_traversal.png", "latent_means.png", "loss_terms.png"} <= figures
    # the same params give the same metrics (another root, same prepared data)
    (tmp_path / "data/processed").mkdir(parents=True)
    (tmp_path / "data/processed/mnist").symlink_to(root / "data/processed/mnist")
    _, _, again, _ = _run("vae_toy", spec, tmp_path)
    assert {k: v for k, v in again.items() if "seconds" not in k} == {k: v for k, v in m.items() if "seconds" not in k}


def test_transformer_family(tmp_path):
    spec = {"family": "transformer", "dataset": None,
            "data": {"task": "reverse", "symbols": 5, "min_len": 2, "max_len": 5, "train": 800, "val": 40,
                     "test": 40},
            "model": {"d_model": 16, "heads": 2, "d_ff": 32, "layers": 1, "dropout": 0.0, "norm_first": True,
                      "scheduled_sampling": {"schedule": "linear", "max_prob": 0.3},
                      "variants": {"smoothed": {"label_smoothing": 0.1}, "plain": {"label_smoothing": 0.0}}},
            "optimizer": {"name": "adam", "lr": 0.01}, "trainer": {"epochs": 8, "batch_size": 50},
            "evaluate": {"beam_width": 3, "length_penalty": 0.0, "calibration_bins": 10, "attention_examples": 2}}
    exp, _, m, figures = _run("transformer_toy", spec, tmp_path / "a")
    # Bands from this toy config run with seeds 0, 1, 2, over both variants: token accuracy
    # 0.54-0.71 (greedy and beam; chance is 1/5 per token), exact match 0.025-0.3 (greedy and beam),
    # ECE 0.108-0.125 smoothed and 0.046-0.069 plain (label smoothing makes it less confident);
    # each band is the range widened by about half its width.
    for v in ("smoothed", "plain"):
        for k in ("greedy_token_accuracy", "beam_token_accuracy"):
            assert 0.45 < m[f"{v}_{k}"] < 0.8, k
        for k in ("greedy_exact_match", "beam_exact_match"):
            assert 0.0 <= m[f"{v}_{k}"] < 0.45, k
    assert 0.09 < m["smoothed_test_ece"] < 0.15 and 0.03 < m["plain_test_ece"] < 0.09
    history = (tmp_path / "a" / exp.history).read_text().splitlines()
    assert history[0].startswith("epoch,train_plain_loss,train_sampling_prob")
    assert [float(r.split(",")[2]) for r in history[1:]] == pytest.approx([0.3 * e / 7 for e in range(8)])
    assert {"val_nll.png", "reliability.png", "greedy_vs_beam.png", "attention.png"} <= figures


def test_model_compression_family(root):
    spec = {"family": "model_compression", "dataset": "mnist", "model": {"filters": [4, 8], "hidden": 16},
            "optimizer": {"name": "adam", "lr": 0.005}, "trainer": {"epochs": 4, "batch_size": 40},
            "evaluate": {"methods": ["cp", "tucker"], "rank_fractions": [0.5], "n_iter_max": 20, "timing_repeats": 1,
                         "finetune": {"epochs": 1, "limit_train_batches": 2, "lr": 0.0003}}}
    exp, info, m, figures = _run("compression_toy", spec, root)
    assert info["scale"] == "full"  # train.json records the scale too (`dllaunchpad list` reads it)
    # Timings are run facts: none in the metrics (byte-identical across runs), all in run.json.
    saved = json.loads((root / exp.metrics).read_text())
    timing_words = ("_ms", "second", "time", "speed", "per_second", "throughput")
    assert [k for k in saved if any(w in k for w in timing_words)] == []
    run = json.loads((root / exp.figures_dir / "run.json").read_text())
    assert run["baseline_inference_ms"] > 0 and run["scale"] == "full"
    assert m["baseline_params"] == 4 * 9 + 4 + 8 * 4 * 9 + 8 + 16 * 8 * 49 + 16 + 16 * 10 + 10
    # Bands from this toy config run with seeds 0, 1, 2: baseline test accuracy 0.235 / 0.335 / 0.44
    # (4 epochs on 400 digits), fine-tuned CP 0.175-0.34 and Tucker-2 0.225-0.41 at half the ranks;
    # each band is the range widened by about a third of its width.
    assert 0.15 < m["baseline_test_accuracy"] < 0.55
    for method in ("cp", "tucker"):
        assert m[f"{method}_rank50pct_params"] < m["baseline_params"]
        assert m[f"{method}_rank50pct_compression"] == pytest.approx(
            m["baseline_params"] / m[f"{method}_rank50pct_params"], rel=1e-3)
        assert 0.1 < m[f"{method}_rank50pct_test_accuracy_finetuned"] < 0.5
        assert run[f"{method}_rank50pct_inference_ms"] > 0
    assert {"accuracy_vs_compression.png", "inference_time.png"} <= figures


def test_tensor_decompositions_family(root):
    spec = {"family": "tensor_decompositions", "dataset": "mnist", "data": {"tensor": "mnist_images", "images": 30},
            "evaluate": {"n_iter_max": 30, "ranks": {"cp": [1, 4], "tucker": [2, 8], "tt": [2, 8]}}}
    _, _, m, figures = _run("decompositions_toy", spec, root)
    assert m["tensor_shape"] == "30 x 28 x 28" and m["tensor_entries"] == 30 * 784
    for method, (low, high) in {"cp": (1, 4), "tucker": (2, 8), "tt": (2, 8)}.items():
        assert 0 < m[f"{method}_rank{high}_relative_error"] < m[f"{method}_rank{low}_relative_error"] < 1
        assert m[f"{method}_rank{low}_compression_ratio"] > m[f"{method}_rank{high}_compression_ratio"] > 1
    assert m["cp_rank1_compression_ratio"] == pytest.approx(30 * 784 / (30 + 28 + 28 + 1), rel=1e-4)
    assert {"cp_error_and_compression.png", "tucker_error_and_compression.png", "tt_error_and_compression.png",
            "error_vs_compression.png", "reconstructions.png"} <= figures
