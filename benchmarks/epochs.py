"""Training epochs to time: ours (the pipeline's own runner) and a minimal plain PyTorch loop.

`our_epoch` is what `dllaunchpad train` does for one epoch: the family builds the module and
DataModule from params.yaml, and training.fit.fit runs Lightning with the pipeline's callbacks
(history, resume checkpoints aside). `plain_epoch` is the smallest honest baseline: the same
network, optimizer and in-memory tensors, a shuffled index per batch, forward, loss, backward,
step, and the same validation pass over the test set (the chapter validates on it every epoch),
with no framework at all.

Both set the same number of intra-op threads. The knobs of `plain_epoch` (allocator, layout,
layer order) let convolutions.py show what each speed change buys on its own.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.nn import functional as F

from common import ensure_prepared, experiment


def _family(exp):
    from dllaunchpad.experiments import family_module

    return family_module(exp.family)


def build(name: str):
    """(experiment, module, datamodule) at full scale, built the way `dllaunchpad train` does."""
    import lightning as L

    exp = experiment(name)
    ensure_prepared(exp.dataset)
    L.seed_everything(0, workers=True, verbose=False)
    module, dm = _family(exp).build(exp)
    return exp, module, dm


def our_epoch(name: str, threads: int, epochs: int = 1) -> dict:
    """Train `name` for `epochs` with the pipeline's runner; {"seconds", "module", "exp", "history"}."""
    from dllaunchpad.training.fit import fit

    torch.set_num_threads(threads)
    exp, module, dm = build(name)
    cfg = {**exp.spec["trainer"], "epochs": epochs}
    cfg.pop("early_stopping", None)
    result = fit(module, dm, cfg, seed=None, want_gpu=False, progress=False)
    return {"seconds": result["seconds"], "module": module, "exp": exp, "history": result["history"]}


# -- the plain loop ---------------------------------------------------------------------------

def keras_order(module: nn.Module) -> nn.Module:
    """Undo the pipeline's MaxPool-before-ReLU order (models/cnn_classifier.py), in place: the
    layer order of the chapter's Keras code, for the baseline."""
    for child in module.children():
        keras_order(child)
    if isinstance(module, nn.Sequential):
        layers = list(module)
        for i in range(len(layers) - 1):
            if isinstance(layers[i], nn.MaxPool2d) and isinstance(layers[i + 1], nn.ReLU):
                layers[i], layers[i + 1] = layers[i + 1], layers[i]
        for i, layer in enumerate(layers):
            module[i] = layer
    return module


def loss_fn(exp, module):
    """(network, loss(net_out, target)) for a plain loop over the family's batches."""
    if exp.family in ("mlp_classifier", "cnn_classifier"):
        return module.net, F.cross_entropy
    if exp.family == "denoising_autoencoder":
        return nn.Sequential(module.encoder, module.decoder), F.binary_cross_entropy_with_logits
    raise ValueError(f"no plain loop for family {exp.family}")


def set_allocator(tuned: bool) -> None:
    if tuned:
        from dllaunchpad.training.devices import tune_cpu_allocator

        assert tune_cpu_allocator(), "the allocator setting is not available here (glibc only)"


def plain_epoch(name: str, threads: int, *, channels_last: bool = False, pool_first: bool = False,
                allocator: bool = False, steps: int | None = None, validate: bool = True,
                warmup: int = 3) -> dict:
    """One epoch (or `steps` training steps after `warmup` untimed ones) of a plain loop.

    Returns {"seconds" (timed part), "steps" (timed), "steps_per_epoch", "val_seconds",
    "flops_per_sample" (forward, from the layer shapes)}.
    """
    from dllaunchpad.optim import build_optimizer

    torch.set_num_threads(threads)
    set_allocator(allocator)
    exp, module, dm = build(name)
    if not pool_first:
        keras_order(module)
    net, loss = loss_fn(exp, module)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=layout)
    opt = build_optimizer(net.parameters(), exp.spec["optimizer"])
    (x, y), (xv, yv) = dm.train, dm.val
    bs = exp.spec["trainer"]["batch_size"]
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    per_epoch = -(-len(x) // bs)
    n = per_epoch if steps is None else min(steps + warmup, per_epoch)

    def step(i):
        idx = perm[i * bs:(i + 1) * bs]
        xb = x[idx].contiguous(memory_format=layout) if x.ndim == 4 else x[idx]
        out = loss(net(xb), y[idx])
        opt.zero_grad()
        out.backward()
        opt.step()

    start = 0 if steps is None else warmup
    for i in range(start):
        step(i)
    t0 = time.perf_counter()
    for i in range(start, n):
        step(i)
    seconds = time.perf_counter() - t0
    val_seconds = 0.0
    if validate:
        t0 = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(xv), bs):
                xb = xv[i:i + bs]
                xb = xb.contiguous(memory_format=layout) if xb.ndim == 4 else xb
                out = net(xb)
                loss(out, yv[i:i + bs])
                if exp.family != "denoising_autoencoder":
                    (out.argmax(1) == yv[i:i + bs]).float().mean()
        val_seconds = time.perf_counter() - t0
    return {"seconds": seconds, "steps": n - start, "steps_per_epoch": per_epoch, "val_seconds": val_seconds,
            "flops_per_sample": forward_flops(net, x[:1].contiguous(memory_format=layout) if x.ndim == 4 else x[:1]),
            "train_samples": len(x), "val_samples": len(xv)}


def forward_flops(net: nn.Module, sample: torch.Tensor) -> int:
    """Multiply-adds x 2 of the Conv2d and Linear layers for one sample (the rest is small)."""
    total = 0

    def hook(layer, inputs, output):
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            k = layer.kernel_size[0] * layer.kernel_size[1] * layer.in_channels // layer.groups
            total += 2 * k * output[0].numel()
        elif isinstance(layer, nn.Linear):
            total += 2 * layer.in_features * layer.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net(sample)
    for h in handles:
        h.remove()
    return total
