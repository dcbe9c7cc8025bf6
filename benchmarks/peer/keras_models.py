"""The chapter's Keras models, written by us from the spec (../shared/chapter/deep-learning-launchpad.md,
31.8.4 and 31.8.5), trained on the same prepared arrays as our stages. Run by benchmarks/peer/run.py
in its own environment (requirements.txt, with tensorflow-cpu); this file imports nothing of ours.

Usage: python keras_models.py <experiment> <repo root> [--scale full|quick]
Prints one JSON line: {"experiment", "wall_seconds", "cpu_seconds", "peak_mib", "metric", "value"}.
Settings come from params.yaml's entry of the same name (epochs, batch size, layer sizes), so the
two sides train the same model on the same data for the same number of steps.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import yaml


def _settings(root: Path, name: str, scale: str) -> dict:
    params = yaml.safe_load((root / "params.yaml").read_text())
    spec = dict(params["experiments"][name])
    if scale == "quick":
        for k, v in (spec.pop("quick", None) or {}).items():
            spec[k] = {**spec.get(k, {}), **v} if isinstance(v, dict) else v
    return spec


def _mnist(root: Path, noisy: bool = False):
    d = root / "data/processed/mnist"
    tr, te = np.load(d / "train.npz"), np.load(d / "test.npz")
    if noisy:
        return (tr["x_noisy"][..., None], tr["x"][..., None].astype("float32") / 255,
                te["x_noisy"][..., None], te["x"][..., None].astype("float32") / 255)
    return tr["x"].astype("float32") / 255, tr["y"], te["x"].astype("float32") / 255, te["y"]


def _rmsprop(keras, o):
    return keras.optimizers.RMSprop(learning_rate=o["lr"], rho=o.get("rho", 0.9), epsilon=o.get("eps", 1e-7))


def run(name: str, root: Path, scale: str) -> dict:
    import keras
    from keras import layers

    spec = _settings(root, name, scale)
    m, o, t = spec.get("model", {}), spec["optimizer"], spec["trainer"]
    callbacks = []
    if spec["family"] == "mlp_classifier":
        x, y, xt, yt = _mnist(root)
        drop = m.get("dropout") or [0.0] * len(m["hidden"])
        reg = keras.regularizers.L1(m["l1"]) if m.get("l1") else None
        net = [layers.Input((28, 28)), layers.Flatten()]
        for units, p in zip(m["hidden"], drop):
            net.append(layers.Dense(units, activation="relu", kernel_regularizer=reg))
            if p:
                net.append(layers.Dropout(p))
        net.append(layers.Dense(10, activation="softmax"))
        model = keras.Sequential(net)
        model.compile(optimizer=_rmsprop(keras, o), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        es = t.get("early_stopping")
        if es:
            callbacks.append(keras.callbacks.EarlyStopping(monitor=es["monitor"], patience=es["patience"],
                                                           restore_best_weights=True))
        fit = dict(x=x, y=y, validation_data=(xt, yt))
        metric = "val_accuracy"
    elif spec["family"] == "cnn_classifier":
        x, y, xt, yt = _mnist(root)
        net = [layers.Input((28, 28, 1))]
        for f, pool in zip(m["filters"], m["pool"]):
            net.append(layers.Conv2D(f, (m.get("kernel_size", 3),) * 2, activation="relu"))
            if pool:
                net.append(layers.MaxPooling2D((2, 2)))
        net += [layers.Flatten(), *[layers.Dense(u, activation="relu") for u in m["dense"]],
                layers.Dense(10, activation="softmax")]
        model = keras.Sequential(net)
        model.compile(optimizer=_rmsprop(keras, o), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        fit = dict(x=x[..., None], y=y, validation_data=(xt[..., None], yt))
        metric = "val_accuracy"
    elif spec["family"] == "denoising_autoencoder":
        xn, x, xtn, xt = _mnist(root, noisy=True)
        f = m["filters"]
        model = keras.Sequential([
            layers.Input((28, 28, 1)),
            layers.Conv2D(f, 3, activation="relu", padding="same"), layers.MaxPooling2D(2, padding="same"),
            layers.Conv2D(f, 3, activation="relu", padding="same"), layers.MaxPooling2D(2, padding="same"),
            layers.Conv2D(f, 3, activation="relu", padding="same"), layers.UpSampling2D(2),
            layers.Conv2D(f, 3, activation="relu", padding="same"), layers.UpSampling2D(2),
            layers.Conv2D(1, 3, activation="sigmoid", padding="same")])
        model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=o["lr"], rho=o.get("rho", 0.95),
                                                          epsilon=o.get("eps", 1e-7)), loss="binary_crossentropy")
        fit = dict(x=xn, y=x, validation_data=(xtn, xt))
        metric = "val_loss"
    elif spec["family"] == "rnn_forecaster":
        d = np.load(root / "data/processed/sunspots/windows.npz")
        model = keras.Sequential([layers.Input(d["x_train"].shape[1:]), layers.LSTM(m["units"]), layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=o["lr"], epsilon=o.get("eps", 1e-7)), loss="mae")
        fit = dict(x=d["x_train"], y=d["y_train"], validation_data=(d["x_test"], d["y_test"]))
        metric = "val_loss"
    else:
        raise SystemExit(f"{name}: no Keras peer for family {spec['family']}")
    t0, c0 = time.perf_counter(), time.process_time()
    hist = model.fit(**fit, epochs=t["epochs"], batch_size=t["batch_size"], callbacks=callbacks, verbose=0)
    return {"experiment": name, "wall_seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "metric": metric,
            "value": float(hist.history[metric][-1]), "epochs": len(hist.history[metric])}


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = sys.argv[1:]
    scale = args[args.index("--scale") + 1] if "--scale" in args else "full"
    print(json.dumps(run(args[0], Path(args[1]), scale)))
