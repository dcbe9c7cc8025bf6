"""Device choice and DDP set-up, on the CPU: a fake or absent GPU never crashes training, and
`trainer.devices` > 1 builds a DDP trainer that also works inside a one-task SLURM job."""

from __future__ import annotations

import logging

import pytest
import torch

from dllaunchpad.training import devices
from dllaunchpad.runners import train
from dllaunchpad.training import fit as train_fit
from dllaunchpad.pipeline.config import load_params
from dllaunchpad.pipeline.registry import Registry


def test_training_with_a_fake_gpu_visible_falls_back_to_the_cpu(raw_params, tmp_path, monkeypatch, caplog):
    if torch.cuda.is_available():
        pytest.skip("a real GPU is visible")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # what a SLURM gres gives a job on a node without a device
    params = load_params(raw_params, scale="quick")
    exp = Registry.from_params(params).experiment("xor")
    exp.spec["trainer"]["epochs"] = 5
    with caplog.at_level(logging.INFO, logger="dllaunchpad.training.devices"):
        info = train.train(exp.at(tmp_path), progress=False)
    assert info["device"] == "cpu" and info["epochs_run"] == 5
    assert "no usable GPU (CUDA_VISIBLE_DEVICES=0): training on the CPU" in caplog.text


def test_two_devices_make_a_ddp_trainer_that_starts_its_own_processes_in_a_slurm_job(monkeypatch):
    from lightning.fabric.plugins.environments import LightningEnvironment
    from lightning.pytorch.strategies import DDPStrategy

    # A Snakemake job on SLURM: one task (SLURM_NTASKS=1) holding the GPUs of `gres: gpu:2`.
    for key, value in {"SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1", "SLURM_JOB_NAME": "train_x",
                       "SLURM_NNODES": "1", "SLURM_NODEID": "0", "SLURM_PROCID": "0", "SLURM_LOCALID": "0",
                       "SLURM_JOB_ID": "7", "SLURM_NODELIST": "vm"}.items():
        monkeypatch.setenv(key, value)
    # CPU processes stand in for the two GPUs (the DDP wiring is the same; nothing is launched).
    monkeypatch.setattr(devices, "choose", lambda requested, want_gpu=True: ("cpu", requested))
    trainer, _ = train_fit.make_trainer({"epochs": 1, "devices": 2}, [], want_gpu=True, progress=False)
    assert isinstance(trainer.strategy, DDPStrategy) and trainer.num_devices == 2
    assert isinstance(trainer.strategy.cluster_environment, LightningEnvironment)


def test_ddp_plugins_only_when_slurm_started_fewer_tasks_than_devices(monkeypatch):
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    assert train_fit.ddp_plugins(4) == []            # a workstation: Lightning's own default
    monkeypatch.setenv("SLURM_NTASKS", "4")
    assert train_fit.ddp_plugins(4) == []            # srun started one task per device: SLURM's
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert train_fit.ddp_plugins(1) == []            # one device: no DDP at all
    assert len(train_fit.ddp_plugins(4)) == 1
