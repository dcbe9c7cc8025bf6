"""Interruption: a killed job leaves nothing that looks finished, and a killed training run,
rerun, resumes from its last epoch and ends exactly where an uninterrupted run ends (CPU)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import torch

import workcopy
from dllaunchpad import experiments as families
from dllaunchpad.pipeline.config import load_params
from dllaunchpad.pipeline.registry import Registry
from dllaunchpad.runners.train import train

def _results(metrics_path: Path) -> dict:
    # results only, compared whole: wall-clock times live in reports/figures/<exp>/run.json
    return json.loads(metrics_path.read_text())


def _weights(ckpt: Path) -> dict:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


# -- in process: a crash at a chosen epoch, for families with either kind of data loader --------

class Crash(Exception):
    pass


def _crash_at(epoch: int):
    import lightning as L

    class CrashAt(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):  # before that epoch's checkpoint
            if trainer.current_epoch + 1 == epoch:
                raise Crash(f"simulated crash in epoch {epoch}")

    return CrashAt()


@pytest.mark.parametrize("name, epochs, crash", [
    ("xor", 300, 137),              # TensorDataModule: the shuffle generator is DataModule state
    ("linear_regression", 40, 17),  # torch DataLoader(shuffle=True): torch's global stream
])
def test_crashed_training_resumes_to_identical_results(raw_params, tmp_path, monkeypatch, name, epochs, crash):
    raw_params["cluster"]["checkpoint_interval_s"] = 0  # every epoch
    params = load_params(raw_params, scale="quick")
    exp = Registry.from_params(params).experiment(name)
    exp.spec["trainer"]["epochs"] = epochs
    train(exp.at(tmp_path / "whole"), progress=False)

    fam = families.family_module(exp.family)
    monkeypatch.setattr(fam, "callbacks", lambda e: [_crash_at(crash)], raising=False)
    with pytest.raises(Crash):
        train(exp.at(tmp_path / "crashed"), progress=False)
    assert not (tmp_path / "crashed" / exp.model_dir).exists()  # no output that looks finished
    assert list((tmp_path / "crashed/models/.resume" / name).glob("*/last.ckpt"))
    monkeypatch.undo()

    info = train(exp.at(tmp_path / "crashed"), progress=False)
    assert info["resumed_from_epoch"] == crash - 1 and info["epochs_run"] == epochs
    assert (tmp_path / "crashed" / exp.history).read_text() == (tmp_path / "whole" / exp.history).read_text()
    whole, resumed = _weights(tmp_path / "whole" / exp.checkpoint), _weights(tmp_path / "crashed" / exp.checkpoint)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert not (tmp_path / "crashed/models/.resume").exists()  # cleared once the outputs are written


def test_a_run_killed_after_early_stopping_does_not_train_on(raw_params, tmp_path, monkeypatch):
    import lightning as L

    class CrashAtEnd(L.Callback):  # after the last epoch's checkpoint, before the outputs
        def on_train_end(self, trainer, pl_module):
            raise Crash("simulated crash before the outputs were written")

    raw_params["cluster"]["checkpoint_interval_s"] = 0
    params = load_params(raw_params, scale="quick")
    exp = Registry.from_params(params).experiment("xor")
    # stops after epoch 3: train_loss never improves by 10 between epochs
    exp.spec["trainer"].update(epochs=50, early_stopping={"monitor": "train_loss", "patience": 2, "min_delta": 10.0})
    whole = train(exp.at(tmp_path / "whole"), progress=False)
    assert whole["epochs_run"] == 3

    fam = families.family_module(exp.family)
    monkeypatch.setattr(fam, "callbacks", lambda e: [CrashAtEnd()], raising=False)
    with pytest.raises(Crash):
        train(exp.at(tmp_path / "crashed"), progress=False)
    monkeypatch.undo()
    info = train(exp.at(tmp_path / "crashed"), progress=False)
    assert info["resumed_from_epoch"] == 3 and info["epochs_run"] == 3
    assert (tmp_path / "crashed" / exp.history).read_text() == (tmp_path / "whole" / exp.history).read_text()


def test_resume_state_of_other_settings_is_dropped(raw_params, tmp_path):
    from dllaunchpad.training import resume

    params = load_params(raw_params, scale="quick")
    exp = Registry.from_params(params).experiment("xor")
    here = resume.state_dir(exp.at(tmp_path))
    here.mkdir(parents=True)
    exp.spec["optimizer"]["lr"] = 0.5
    other = resume.state_dir(exp.at(tmp_path))
    assert other.parent == here.parent and other != here
    assert not here.exists()  # a state written under other settings is never resumed from


def test_an_unreadable_resume_state_is_dropped_not_fatal(raw_params, tmp_path):
    from dllaunchpad.training import resume

    params = load_params(raw_params, scale="quick")
    exp = Registry.from_params(params).experiment("xor")
    exp.spec["trainer"]["epochs"] = 5
    state = resume.state_dir(exp.at(tmp_path))
    state.mkdir(parents=True)
    (state / resume.CHECKPOINT).write_bytes(b"not a checkpoint")
    info = train(exp.at(tmp_path), progress=False)
    assert info["resumed_from_epoch"] == 0 and info["epochs_run"] == 5


# -- real processes, SIGKILL, in a working copy: the quick MNIST MLP ------------------------------

@pytest.fixture(scope="module")
def mnist_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("interrupt") / "launchpad"
    params = workcopy.read_params(workcopy.REPO)
    cluster = {**params["cluster"], "checkpoint_interval_s": 0}  # save every epoch
    workcopy.make_copy(root, datasets=["mnist"], experiments=["mnist_mlp"], scale="quick", cluster=cluster)
    workcopy.run(["snakemake", "--cores", "1", "data/raw/mnist"], root)
    return root


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 300):
    t0 = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the process ended ({proc.returncode}) before {what}")
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_killed_preprocess_leaves_no_output(mnist_copy):
    root = mnist_copy
    processed = root / "data/processed"
    proc = subprocess.Popen(["dllaunchpad", "prepare", "mnist"], cwd=root, env=workcopy.env(root),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def writing() -> bool:  # the job's temporary folder exists and has content: mid-way
        return processed.is_dir() and any(any(t.rglob("*")) for t in processed.glob(".mnist.*.tmp"))

    _wait_for(writing, proc, "preprocess started writing")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (processed / "mnist").exists()
    leftovers = list(processed.glob(".mnist.*.tmp"))
    assert leftovers  # the half-written temporary, under a name no stage declares
    dry = workcopy.run(["snakemake", "-n", "--cores", "1", "data/processed/mnist"], root)
    assert workcopy.ran_rules(dry.stdout + dry.stderr) == ["preprocess_mnist"]
    status = workcopy.run(["dvc", "status", "preprocess_mnist"], root)
    assert "preprocess_mnist" in status.stdout  # DVC does not take it as done either

    tmp = root.parent / "job-tmp"  # temporary files (tensorflow-datasets makes some) stay per job
    tmp.mkdir()
    workcopy.run(["snakemake", "--cores", "1", "data/processed/mnist"], root, env={**workcopy.env(root), "TMPDIR": str(tmp)})
    assert json.loads((processed / "mnist/summary.json").read_text())["train"]["n"] == 6000
    assert not any(p.exists() for p in leftovers)  # the next writer removed the killed one's
    left = [p.name for p in tmp.iterdir()]
    assert not [n for n in left if n.startswith("dllaunchpad-") or n.endswith("tfds")], left  # per job, removed


def test_killed_training_resumes_to_the_uninterrupted_result(mnist_copy):
    root = mnist_copy
    target = "reports/metrics/mnist_mlp.json"
    workcopy.run(["snakemake", "--cores", "1", target], root)
    reference = {"metrics": _results(root / target),
                 "history": (root / "reports/history/mnist_mlp.csv").read_text(),
                 "weights": _weights(root / "models/mnist_mlp/last.ckpt")}
    assert reference["metrics"]["epochs_run"] == 3
    assert not (root / "models/.resume").exists()

    # The experiment's outputs gone, as before its first run; run it again and SIGKILL the
    # training job once an epoch's checkpoint is on disk, i.e. during the next epoch.
    for out in ("models/mnist_mlp", "reports/figures/mnist_mlp", target, "reports/history/mnist_mlp.csv"):
        shutil.rmtree(root / out) if (root / out).is_dir() else (root / out).unlink()
    proc = subprocess.Popen(["snakemake", "--cores", "1", target], cwd=root,
                            env=workcopy.env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: any((root / "models/.resume/mnist_mlp").glob("*/last.ckpt")), proc,
              "the first epoch's checkpoint")
    trainers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                if "train" in p.cmdline() and "mnist_mlp" in p.cmdline()]
    assert trainers, "no training process found under snakemake"
    for p in trainers:
        p.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, out[-3000:]
    assert not (root / "models/mnist_mlp").exists()  # nothing that looks finished
    assert not (root / target).exists()

    # The same rule again: it resumes and ends exactly where the uninterrupted run ended.
    workcopy.run(["snakemake", "--cores", "1", target], root)
    info = json.loads((root / "models/mnist_mlp/train.json").read_text())
    assert 1 <= info["resumed_from_epoch"] < 3
    assert "resuming from" in (root / "logs/train/mnist_mlp.log").read_text()
    assert _results(root / target) == reference["metrics"]
    assert (root / "reports/history/mnist_mlp.csv").read_text() == reference["history"]
    weights = _weights(root / "models/mnist_mlp/last.ckpt")
    assert all(torch.equal(weights[k], reference["weights"][k]) for k in reference["weights"])
    assert not (root / "models/.resume").exists()
