"""Integration: the README's quick command, offline from the shared mirror, in a fresh copy of
the repository, with params.yaml as committed:

    LAUNCHPAD_MIRROR=../shared/mirror dllaunchpad --scale quick run

It leaves RPS out (the mirror has no copy), runs the quick DAG through Snakemake, and records it
in dvc.lock: `dvc status` is clean and `dvc repro` reruns nothing. Then a second copy holding the
files a user would commit after that run (params.yaml, the dvc.yaml the run wrote for its mode)
runs `dvc repro` alone for a sample of the chapter's experiments, one stage at a time on one
thread each as under Snakemake, and their metrics files come out byte-identical to the Snakemake
run's on 2 cores (whose jobs forked from the warm server). (tests/test_dvc.py checks the other direction
on a small DAG.)"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time

import pytest

import workcopy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    dst = tmp_path_factory.mktemp("pipeline") / "launchpad"
    workcopy.make_copy(dst)
    params = (dst / "params.yaml").read_text()
    assert "scale: full" in params and "skip_datasets: []" in params  # as committed: nothing edited
    return dst, workcopy.env(dst)


def _run(cmd, cwd, env, check=True, timeout=1800):
    return workcopy.run(cmd, cwd, check=check, timeout=timeout, env=env)


def _metrics(root) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "reports/metrics").glob("*.json"))}


def test_the_readme_quick_command_runs_the_quick_dag(work):
    dst, env = work
    run = _run(["dllaunchpad", "--scale", "quick", "run", "--cores", "2"], dst, env)
    assert "leaving it out" in run.stderr and "rps" in run.stderr
    assert "stage(s) in dvc.lock: dvc commit --force" in run.stderr  # recorded for DVC
    assert "warm server did not start" not in run.stderr  # the jobs forked from it (warm.py)
    assert (dst / "reports/index.html").stat().st_size > 10_000
    assert json.loads((dst / "reports/metrics/xor.json").read_text())["binary_accuracy"] == 1.0
    for ds in ("mnist", "classical_piano", "sunspots", "boston", "iris"):
        assert (dst / f"data/processed/{ds}/summary.json").exists(), ds
        assert (dst / f"logs/preprocess/{ds}.log").exists(), ds
    assert not (dst / "data/raw/rps").exists()
    # every job timed (benchmarks/quick_dag.py sums these)
    timed = {p.relative_to(dst / "logs/benchmarks/quick").as_posix() for p in (dst / "logs/benchmarks/quick").rglob("*.tsv")}
    assert {"train/xor.tsv", "evaluate/xor.tsv", "fetch/mnist.tsv", "preprocess/mnist.tsv",
            "report/report.tsv"} <= timed, sorted(timed)
    assert (dst / "logs/benchmarks/quick/train/xor.tsv").read_text().startswith("s\t")
    summary = json.loads((dst / "data/processed/mnist/summary.json").read_text())
    assert (summary["params"]["train_samples"], summary["params"]["test_samples"]) == (6000, 1000)  # quick mode


# The quick DAG's headline of every experiment (params.yaml `headline:`) and the band it must fall
# in. Derived from repeated quick runs: the headline of the committed quick run (seed 0, the one in
# /work/snap/reports/metrics when this was written) and of the same quick settings, prepared data
# and code with every entry's seed set to 1 and then 2 (one experiment at a time); values in the
# comments, seed 0 / 1 / 2. Band = [min, max] widened on each side by half the range or 2 % of the
# value, whichever is larger (by a factor sqrt(max / min), at least 1.5, when they span more than a
# factor 2); counts by 1 where the seeds differ; deterministic values exactly. Variants (seed
# repeats `__seed<k>`, the sunspot RNNs over seeds) use the band of the run they repeat.
QUICK_HEADLINE_BANDS = {
    "tensor_products": (10, 10),                          # 10 / 10 / 10 (the chapter's mode-1 print differs)
    "tensor_identities": (5, 5),                          # 5 / 5 / 5 of 5 identities hold
    "linear_regression": (2.82, 3.06),                    # slope 2.998 / 2.887 / 2.911
    "xor": (0.75, 1.0),                                   # 1.0 / 0.75 / 0.75
    "iris_mlp": (0.633, 1.0),                             # 0.733 / 0.733 / 0.933 (150 epochs: at the mercy of its start)
    "boston_mlp": (3.07, 3.81),                           # test MAE 3.618 / 3.253 / 3.328
    "mnist_mlp": (0.896, 0.941),                          # 0.917 / 0.915 / 0.922
    "mnist_early_stopping": (0.895, 0.950),               # 0.914 / 0.916 / 0.931
    "mnist_l1": (0.829, 0.934),                           # 0.908 / 0.896 / 0.856
    "mnist_dropout": (0.877, 0.934),                      # 0.912 / 0.915 / 0.896
    "mnist_cnn": (0.583, 0.846),                          # 0.763 / 0.780 / 0.649 (one epoch)
    "mnist_denoising_ae": (0.645, 0.750),                 # BCE 0.692 / 0.724 / 0.672 (lr 1e-3: barely moves)
    "mnist_denoising_ae_lr1": (0.463, 0.740),             # 0.561 / 0.670 / 0.532
    "sunspots_lstm": (1.53, 2.14),                        # 1.687 / 1.806 / 1.983
    "sunspots_gru": (1.02, 2.53),                         # 1.408 / 2.152 / 1.402
    "sunspots_gru_chapter": (0.839, 1.88),                # 1.098 / 1.614 / 1.265 (the chapter's GRU equations)
    "sunspots_bilstm": (1.09, 1.85),                      # 1.284 / 1.655 / 1.355
    "sunspots_tuned": (0.395, 0.448),                     # 0.409 / 0.432 / 0.435 (the naive forecast: 0.401)
    "midi_lstm": (3.76, 4.01),                            # val_loss 3.841 / 3.915 / 3.924
    "optimizer_comparison": (0.895, 0.958),               # Adam's MNIST val accuracy 0.922 / 0.939 / 0.914
    "activations": (2.63e-6, 4.06e-6),                    # 3.24e-6 / 3.70e-6 / 2.99e-6 (sigmoid's vanishing gradient)
    "initialization": (0.876, 1.12),                      # He, ReLU: 1.052 / 0.935 / 1.035 per layer
    "regularization_comparison": (0.359, 0.377),          # L1: 36.8 / 36.9 / 36.6 % of |w| < 1e-3
    "tensor_decompositions_mnist": (0.465, 0.485),        # 0.4754 / 0.4754 / 0.4754
    "tensor_decompositions_sunspots": (0.233, 0.244),     # 0.2387 / 0.2387 / 0.2387
    "model_compression": (0.867, 0.922),                  # Tucker-2 25 %, fine-tuned: 0.885 / 0.902 / 0.904
    "gan": (1, 4),                                        # digits covered 2 / 1 / 3 (a GAN covers at least 1)
    "autoencoders": (1.15, 1.24),                         # linear AE MSE / PCA's: 1.183 / 1.210 / 1.206
    "vae": (-178, -168),                                  # ELBO -173.7 / -171.6 / -172.4 nats
    "transformer": (0.161, 0.202),                        # beam exact match, eps 0.1: 0.172 / 0.192 / 0.172
}
for _variant in ("lstm", "gru", "bilstm", "tuned"):
    QUICK_HEADLINE_BANDS[f"sunspots_rnn_seeds__{_variant}"] = QUICK_HEADLINE_BANDS[f"sunspots_{_variant}"]
QUICK_HEADLINE_BANDS["sunspots_rnn_seeds"] = QUICK_HEADLINE_BANDS["sunspots_lstm"]  # the entry's own settings
QUICK_HEADLINE_BANDS["linear_regions"] = (357, 417)        # 398 / 402 / 372 regions after training (seeds 0/1/2)
QUICK_HEADLINE_BANDS["convolution_mechanics"] = (96, 96)   # 96 of 96 settings agree (deterministic)
# The RNN shapes (31.6), seeds 0 / 1 / 2 with the same data (data_seed 0):
QUICK_HEADLINE_BANDS["rnn_vec2seq"] = (0.543, 0.930)          # exact match 0.833 / 0.687 / 0.640
QUICK_HEADLINE_BANDS["rnn_seq2vec"] = (0.966, 1.0)            # accuracy 0.998 / 0.996 / 0.986
QUICK_HEADLINE_BANDS["rnn_aligned"] = (0.945, 1.0)            # token accuracy 0.988 / 0.998 / 0.964
QUICK_HEADLINE_BANDS["rnn_encoder_decoder"] = (0.0, 0.037)    # exact match 0.014 / 0.012 / 0.002 (5 epochs)


def headlines_outside_their_band(root, params) -> list[str]:
    """Every experiment of the quick registry whose registry headline is missing from its metrics,
    has no band, or falls outside it."""
    import re

    from dllaunchpad.pipeline.registry import Registry

    bad = []
    for name, exp in Registry.from_params(params).experiments.items():
        key = exp.spec["headline"]
        band = QUICK_HEADLINE_BANDS.get(re.sub(r"__seed\d+$", "", name)) or QUICK_HEADLINE_BANDS.get(exp.variant_of)
        if not (root / exp.metrics).is_file():
            bad.append(f"{name}: no {exp.metrics}")
            continue
        value = json.loads((root / exp.metrics).read_text()).get(key)
        if band is None and exp.chapter.startswith("31.9"):
            # The exercises' sweeps (added last) have no derived bands yet: their headline must
            # at least exist and be a finite number, or a text where the exercise's answer is one
            # (ex7's forecast cycle peaks, ex9's external tool); the chapter's own experiments
            # need a band.
            text = isinstance(value, str) and value.strip()
            finite = isinstance(value, (int, float)) and value == value and abs(value) != float("inf")
            if not (text or finite):
                bad.append(f"{name}: headline {key} = {value!r} is neither a finite number nor a text")
        elif band is None:
            bad.append(f"{name}: no band for its headline {key} in QUICK_HEADLINE_BANDS")
        elif not isinstance(value, (int, float)) or not band[0] <= value <= band[1]:
            bad.append(f"{name}: {key} = {value} outside {band}")
    return bad


def test_every_headline_of_the_quick_dag_is_in_its_band(work):
    from dllaunchpad.pipeline.config import load_params

    dst, _ = work
    params = load_params(workcopy.read_params(dst), scale="quick", skip_datasets=["rps"])
    assert not headlines_outside_their_band(dst, params)


def test_snakemake_rerun_has_nothing_to_do(work):
    dst, env = work
    proc = _run(["snakemake", "-n", "--cores", "2", "--config", "scale=quick", "skip_datasets=[rps]"], dst, env)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_dvc_agrees_nothing_is_left_to_reproduce(work):
    dst, env = work
    assert (dst / "dvc.lock").exists()
    status = _run(["dvc", "status"], dst, env)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout[-3000:]
    repro = _run(["dvc", "repro"], dst, env)
    assert "Running stage" not in repro.stdout, repro.stdout[-3000:]


# Compute-only, a tiny MLP, MNIST CNN, sunspot LSTM, the music LSTM (generation too), the GAN.
REPRO_SAMPLE = ["tensor_products", "xor", "iris_mlp", "mnist_cnn", "sunspots_lstm", "midi_lstm", "gan"]


def _copy_without_outputs(dst, to, dvc=True):
    """The first run's copy, as a user would commit it: its outputs and state stay behind, named
    by their place (src/dllaunchpad/models is code, models/ is checkpoints); DVC's cache too, so
    that no stage is restored from it. `dvc=False` leaves DVC out altogether (no record is made)."""
    left_behind = {str(dst): {"data", "models", "reports", "logs", ".snakemake", "dvc.lock"} | (set() if dvc else {".dvc"}),
                   str(dst / ".dvc"): {"cache", "tmp"}}
    shutil.copytree(dst, to, symlinks=True, ignore=lambda folder, names: left_behind.get(folder, set()) & set(names))


def test_dvc_repro_alone_in_a_second_copy_gives_the_same_metrics(work, tmp_path):
    dst, env = work
    second = tmp_path / "second"
    _copy_without_outputs(dst, second)
    # A sample of the chapter's experiments, one per kind of model and data (DVC runs its stages
    # one after another, each in a fresh interpreter: all of them would take longer than the
    # whole quick DAG did): `dvc repro <their evaluate stages>` runs them and everything upstream.
    # The first run went through the warm server (warm.py), this one does not: equal files also
    # say that forking jobs from a warm interpreter changes no number.
    # Snakemake sets OMP_NUM_THREADS=1 for each job; `dvc repro` sets nothing, so this copy's
    # jobs would take every core, and the sunspot LSTM's weights then differed in the last
    # float32 bits (test0_predicted_next 0.266841501 against 0.266841471, seen here). The stage
    # commands pin the count (`dllaunchpad --threads 1 ...`, params.yaml threads), so the
    # launcher's thread variables are removed here, as a user's shell would have none.
    thread_vars = {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LAUNCHPAD_WARM"}
    env = {k: v for k, v in workcopy.env(second).items() if k not in thread_vars}
    repro = _run(["dvc", "repro", *(f"evaluate_{name}" for name in REPRO_SAMPLE)], second, env)
    assert "Running stage 'train_xor'" in repro.stdout
    first = {k: v for k, v in _metrics(dst).items() if k in {f"{name}.json" for name in REPRO_SAMPLE}}
    again = _metrics(second)
    assert len(first) == len(REPRO_SAMPLE) and first.keys() == again.keys()
    differing = [name for name in first if first[name] != again[name]]
    assert not differing, f"metrics that differ between Snakemake --cores 2 and dvc repro: {differing}"


def test_bad_params_stop_snakemake_before_any_job(work, tmp_path):
    dst, env = work
    original = (dst / "params.yaml").read_text()
    try:
        (dst / "params.yaml").write_text(original.replace("epochs: 2000", "epochs: lots", 1))
        proc = _run(["snakemake", "-n", "--cores", "1"], dst, env, check=False)
        assert proc.returncode != 0
        assert "experiments.xor.trainer.epochs" in proc.stdout + proc.stderr
    finally:
        (dst / "params.yaml").write_text(original)


def _kill_everything(proc) -> None:
    """SIGKILL a run and every process it started (Snakemake, its jobs, the warm server and its
    children), as a lost node or a closed laptop would."""
    import psutil

    procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=60)
    proc.wait(timeout=60)


def test_a_killed_run_resumes_to_the_same_results(work, tmp_path):
    """The README's quick command in another copy, for the sample above (the GAN among them),
    killed with everything it started while the GAN trains, then the README's recovery
    (`--unlock`, then the same command with --rerun-incomplete): every metrics file and training
    history of the sample equals the uninterrupted run's, and the GAN resumed from its checkpoint
    instead of starting over. The sample, not the whole quick DAG: a second whole DAG would check
    the same resume path for 20 more minutes. (DVC is left out of this copy: the record is tested
    above and costs minutes.)"""
    dst, _ = work
    third = tmp_path / "resumed"
    _copy_without_outputs(dst, third, dvc=False)
    env = workcopy.env(third)
    command = ["dllaunchpad", "--scale", "quick", "run", "--cores", "2", *REPRO_SAMPLE]
    # Its output goes to a file: a pipe nobody reads fills up, and Snakemake then blocks on it.
    log = tmp_path / "killed-run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=third, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 1800
        while not list((third / "models/.resume/gan").glob("*/last.ckpt")):
            assert proc.poll() is None, f"the run ended before the GAN saved a checkpoint:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no GAN checkpoint within 30 min"
            time.sleep(0.2)
    finally:
        _kill_everything(proc)
    assert not (third / "models/gan/last.ckpt").exists()  # it was killed mid-training
    assert "gan.json" not in _metrics(third)
    _run(["dllaunchpad", "--scale", "quick", "run", "--unlock"], third, env)
    _run([*command, "--rerun-incomplete"], third, env)

    gan = json.loads((third / "models/gan/train.json").read_text())
    assert gan["resumed_from_epoch"] >= 1, gan
    # The sample's results (`run gan` also runs gan's seed repeats), each against the first run's.
    again = _metrics(third)
    assert {f"{name}.json" for name in REPRO_SAMPLE} <= again.keys()
    first = {k: v for k, v in _metrics(dst).items() if k in again}
    assert first.keys() == again.keys()
    differing = [name for name in first if first[name] != again[name]]
    assert not differing, f"metrics that differ after a kill and resume: {differing}"
    resumed = {p.name: p.read_text() for p in (third / "reports/history").glob("*.csv")}
    histories = {name: (dst / "reports/history" / name).read_text() for name in resumed}
    assert {"gan.csv", "xor.csv", "midi_lstm.csv"} <= resumed.keys()
    assert histories == resumed, sorted(n for n in histories if histories[n] != resumed[n])
