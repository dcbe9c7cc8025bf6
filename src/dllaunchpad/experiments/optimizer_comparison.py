"""Chapter 31.4: the chapter's eight optimizers, from its update equations
(dllaunchpad.optim.chapter), on the same problems from the same start.

Problems:
- MNIST with the chapter's MLP (784-256-128-10, ReLU, Keras' Glorot-uniform init, cross-entropy):
  every optimizer is trained once per learning rate of its grid (`evaluate.optimizers.<name>.lr`,
  a small sweep), same seed, same batches; the rate with the lowest validation loss at the end
  is kept.
- Two 2-D surfaces whose trajectories can be drawn: an ill-conditioned quadratic
  f = a x1^2 + b x2^2 (condition number b/a) and Rosenbrock's f = (c - x1)^2 + d (x2 - x1^2)^2.
  Every optimizer starts at the same point with every rate of one shared grid
  (`evaluate.surface_lr`); the rate with the lowest final f is kept.

Outputs (figures_dir):
- mnist_loss.png: training loss per step (running mean), all eight on one plot;
- trajectories_quadratic.png, trajectories_rosenbrock.png: paths on the contours, one panel each;
- surface_loss.png: f(theta_t) - f* per step on both surfaces;
- table.png and summary.csv: per problem and optimizer the kept rate, final loss, steps to the
  threshold and wall time; lr_sweep.csv: every run of every sweep.

"Steps to threshold": the first step at which the loss (MNIST: its running mean over
`evaluate.smoothing` steps) is <= the problem's threshold; null when never reached. "Wall time":
seconds of the kept run (MNIST: training.fit's, including Lightning's per-epoch work); they depend
on the machine and its load, the step counts do not.
Compute-only family: see _many_models for why it trains its models with training.fit from here.
"""

from __future__ import annotations

import csv
import io as _io
import math
import time
from pathlib import Path

import numpy as np
import torch

from dllaunchpad import io
from dllaunchpad.models.configurable_mlp import ConfigurableMLP, evaluate_split
from dllaunchpad.optim import build_optimizer
from dllaunchpad.experiments._many_models import finite_or_none, first_below, fit_model, mnist_splits, one_thread, running_mean

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "yogi")
LABELS = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adagrad": "AdaGrad",
          "rmsprop": "RMSprop", "adadelta": "AdaDelta", "adam": "Adam", "yogi": "Yogi"}


# -- the 2-D surfaces ----------------------------------------------------------------------

def quadratic(theta: torch.Tensor, spec: dict) -> torch.Tensor:
    return spec["a"] * theta[..., 0] ** 2 + spec["b"] * theta[..., 1] ** 2


def rosenbrock(theta: torch.Tensor, spec: dict) -> torch.Tensor:
    x1, x2 = theta[..., 0], theta[..., 1]
    return (spec["a"] - x1) ** 2 + spec["b"] * (x2 - x1 ** 2) ** 2


SURFACES = {"quadratic": quadratic, "rosenbrock": rosenbrock}
MINIMA = {"quadratic": lambda s: (0.0, 0.0), "rosenbrock": lambda s: (s["a"], s["a"] ** 2)}


def optimizer_spec(name: str, settings: dict, lr: float) -> dict:
    """The params.yaml optimizer spec for one run: the fixed settings plus one rate, always
    the chapter's implementation."""
    fixed = {k: v for k, v in settings.items() if k != "lr"}
    return {"name": name, "impl": "chapter", "lr": lr, **fixed}


def descend(surface: str, spec: dict, opt_spec: dict) -> dict:
    """Step an optimizer from spec.start for spec.steps on a surface (float64).

    Returns {"path" (steps+1, 2), "f" (steps+1,), "seconds"}; after a non-finite value the rest
    of the path is NaN (diverged)."""
    fn = SURFACES[surface]
    steps = int(spec["steps"])
    theta = torch.tensor(spec["start"], dtype=torch.float64, requires_grad=True)
    opt = build_optimizer([theta], opt_spec)
    path = np.full((steps + 1, 2), np.nan)
    values = np.full(steps + 1, np.nan)
    t0 = time.perf_counter()
    for t in range(steps + 1):
        f = fn(theta, spec)
        path[t], values[t] = theta.detach().numpy(), f.item()
        if t == steps or not math.isfinite(values[t]) or not np.isfinite(path[t]).all():
            break
        opt.zero_grad()
        f.backward()
        opt.step()
    return {"path": path, "f": values, "seconds": time.perf_counter() - t0}


def sweep_surface(surface: str, spec: dict, optimizers: dict, lrs: list[float]) -> tuple[dict, list[dict]]:
    """Per optimizer, the run with the lowest final f over the rate grid; and every run's row."""
    kept, rows = {}, []
    f_star = SURFACES[surface](torch.tensor(MINIMA[surface](spec), dtype=torch.float64), spec).item()
    for name in OPTIMIZERS:
        best = None
        for lr in lrs:
            run = descend(surface, spec, optimizer_spec(name, optimizers[name], lr))
            final = run["f"][-1] - f_star
            rows.append({"problem": surface, "optimizer": name, "lr": lr,
                         "final_loss": final, "diverged": not math.isfinite(final)})
            if math.isfinite(final) and (best is None or final < best["final"]):
                best = {**run, "lr": lr, "final": final,
                        "steps_to_threshold": first_below(run["f"][1:] - f_star, spec["threshold"])}
        if best is None:
            raise RuntimeError(f"{surface}: {name} diverged at every rate of evaluate.surface_lr {lrs}")
        kept[name] = best
    return kept, rows


# -- MNIST ---------------------------------------------------------------------------------

def sweep_mnist(exp, settings: dict) -> tuple[dict, list[dict]]:
    splits = mnist_splits(exp)
    seed = exp.seed
    model_cfg = exp.spec["model"]
    kept, rows = {}, []
    for name in OPTIMIZERS:
        best = None
        for lr in settings["optimizers"][name]["lr"]:
            spec = optimizer_spec(name, settings["optimizers"][name], lr)
            run = fit_model(lambda: ConfigurableMLP(model_cfg["hidden"], spec, activation=model_cfg.get("activation", "relu")),
                            splits, epochs=settings["epochs"], batch_size=settings["batch_size"], seed=seed,
                            want_gpu=exp.gpu)
            val = evaluate_split(run["model"], *splits["val"])
            rows.append({"problem": "mnist", "optimizer": name, "lr": lr, "final_loss": val["loss"],
                         "diverged": not math.isfinite(val["loss"])})
            if math.isfinite(val["loss"]) and (best is None or val["loss"] < best["val"]["loss"]):
                best = {**run, "lr": lr, "val": val}
        if best is None:
            raise RuntimeError(f"mnist: {name} diverged at every rate of evaluate.optimizers.{name}.lr")
        smoothed = running_mean(best["step_losses"], settings["smoothing"])
        best.update(train=evaluate_split(best["model"], *splits["train"]), smoothed=smoothed,
                    steps_to_threshold=first_below(smoothed, settings["loss_threshold"]))
        kept[name] = best
    return kept, rows


# -- figures and tables ----------------------------------------------------------------------

def plot_mnist(kept: dict, settings: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name in OPTIMIZERS:
        run = kept[name]
        ax.plot(np.arange(1, len(run["smoothed"]) + 1), run["smoothed"], label=f"{LABELS[name]} (η = {run['lr']:g})")
    ax.axhline(settings["loss_threshold"], color="grey", ls=":", lw=1, label=f"threshold {settings['loss_threshold']:g}")
    ax.set_yscale("log")
    ax.set_xlabel("training step (mini-batch)")
    ax.set_ylabel(f"cross-entropy, running mean of {settings['smoothing']} steps")
    ax.set_title("MNIST MLP: training loss per step, each optimizer at its best swept rate")
    ax.legend(ncol=2, fontsize=9)
    save(fig, path)


def _contour(ax, surface: str, spec: dict, extent: tuple[float, float, float, float]):
    x1, x2 = np.meshgrid(np.linspace(extent[0], extent[1], 300), np.linspace(extent[2], extent[3], 300))
    f = SURFACES[surface](torch.from_numpy(np.stack([x1, x2], -1)), spec).numpy()
    levels = np.geomspace(max(f.min(), 1e-3), f.max(), 15)
    ax.contour(x1, x2, f, levels=levels, colors="#999999", linewidths=0.6)
    ax.plot(*MINIMA[surface](spec), marker="*", color="black", ms=12, ls="none")


def plot_trajectories(surface: str, spec: dict, kept: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    plt = pyplot()
    extent = tuple(spec["view"])
    fig, axes = plt.subplots(2, 4, figsize=(15, 7.2), sharex=True, sharey=True)
    for ax, name, colour in zip(axes.flat, OPTIMIZERS, OKABE_ITO):
        run = kept[name]
        _contour(ax, surface, spec, extent)
        ax.plot(run["path"][:, 0], run["path"][:, 1], "-", color=colour if colour != "#F0E442" else "#B8A800",
                lw=1.4, marker=".", ms=3)
        ax.plot(*spec["start"], "o", color="black", ms=5)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_title(f"{LABELS[name]}, η = {run['lr']:g}\nf - f* = {run['final']:.2g} after {spec['steps']} steps",
                     fontsize=10)
        ax.grid(False)
    for ax in axes[1]:
        ax.set_xlabel("x1")
    for ax in axes[:, 0]:
        ax.set_ylabel("x2")
    fig.suptitle(f"{surface.capitalize()}: trajectories from {tuple(spec['start'])} (• start, ★ minimum)")
    save(fig, path)


def plot_surface_losses(kept_by_surface: dict, surfaces: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, len(kept_by_surface), figsize=(13, 4.6))
    for ax, (surface, kept) in zip(np.atleast_1d(axes), kept_by_surface.items()):
        spec = surfaces[surface]
        f_star = SURFACES[surface](torch.tensor(MINIMA[surface](spec), dtype=torch.float64), spec).item()
        for name in OPTIMIZERS:
            gap = np.maximum(kept[name]["f"] - f_star, 1e-16)
            ax.plot(np.arange(len(gap)), gap, label=f"{LABELS[name]} (η = {kept[name]['lr']:g})")
        ax.axhline(spec["threshold"], color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("f(θ_t) - f*")
        ax.set_title(f"{surface.capitalize()}: distance to the minimum value")
        ax.legend(fontsize=8, ncol=2, loc="best")
    save(fig, path)


def summary_rows(results: dict) -> list[dict]:
    rows = []
    for problem, kept in results.items():
        for name in OPTIMIZERS:
            run = kept[name]
            final = run["train"]["loss"] if problem == "mnist" else run["final"]
            rows.append({"problem": problem, "optimizer": name, "lr": run["lr"], "final_loss": final,
                         "steps_to_threshold": run["steps_to_threshold"], "seconds": run["seconds"],
                         "val_accuracy": run["val"]["accuracy"] if problem == "mnist" else None})
    return rows


def plot_table(rows: list[dict], thresholds: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    fig, axes = plt.subplots(len(problems), 1, figsize=(10, 3.0 * len(problems)))
    for ax, problem in zip(np.atleast_1d(axes), problems):
        sub = [r for r in rows if r["problem"] == problem]
        loss_name = "final training loss" if problem == "mnist" else "final f - f*"
        header = ["optimizer", "η (swept)", loss_name, f"steps to ≤ {thresholds[problem]:g}", "wall time (s)"]
        cells = [[LABELS[r["optimizer"]], f"{r['lr']:g}", f"{r['final_loss']:.3g}",
                  "not reached" if r["steps_to_threshold"] is None else str(r["steps_to_threshold"]),
                  f"{r['seconds']:.2f}"] for r in sub]
        if problem == "mnist":
            header.append("val. accuracy")
            for c, r in zip(cells, sub):
                c.append(f"{r['val_accuracy']:.4f}")
        ax.axis("off")
        table = ax.table(cellText=cells, colLabels=header, loc="center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(9)
        table.scale(1, 1.25)
        ax.set_title(problem.capitalize() if problem != "mnist" else "MNIST MLP", fontsize=11)
    save(fig, path)


def _csv(rows: list[dict]) -> str:
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def evaluate(exp, module, figures_dir: Path) -> dict:
    with one_thread():
        return _evaluate(exp, figures_dir)


def _evaluate(exp, figures_dir: Path) -> dict:
    settings = exp.spec["evaluate"]
    results, sweep_rows = {}, []
    results["mnist"], rows = sweep_mnist(exp, settings)
    sweep_rows += rows
    for surface, spec in settings["surfaces"].items():
        results[surface], rows = sweep_surface(surface, spec, settings["optimizers"], settings["surface_lr"])
        sweep_rows += rows

    thresholds = {"mnist": settings["loss_threshold"], **{s: v["threshold"] for s, v in settings["surfaces"].items()}}
    plot_mnist(results["mnist"], settings, figures_dir / "mnist_loss.png")
    for surface, spec in settings["surfaces"].items():
        plot_trajectories(surface, spec, results[surface], figures_dir / f"trajectories_{surface}.png")
    plot_surface_losses({s: results[s] for s in settings["surfaces"]}, settings["surfaces"],
                        figures_dir / "surface_loss.png")
    rows = summary_rows(results)
    plot_table(rows, thresholds, figures_dir / "table.png")
    io.write_text(figures_dir / "summary.csv", _csv(rows))
    io.write_text(figures_dir / "lr_sweep.csv", _csv(sweep_rows))
    # the plotted series, for tests and for anyone re-plotting
    np.savez_compressed(figures_dir / "series.npz",
                        **{f"mnist_{n}": results["mnist"][n]["smoothed"] for n in OPTIMIZERS},
                        **{f"{s}_{n}_path": results[s][n]["path"] for s in settings["surfaces"] for n in OPTIMIZERS},
                        **{f"{s}_{n}_f": results[s][n]["f"] for s in settings["surfaces"] for n in OPTIMIZERS})

    metrics: dict = {}
    for r in rows:
        key = f"{r['problem']}_{r['optimizer']}"
        metrics[f"{key}_lr"] = r["lr"]
        metrics[f"{key}_final_loss"] = finite_or_none(r["final_loss"])
        metrics[f"{key}_steps_to_threshold"] = r["steps_to_threshold"]
        if r["problem"] == "mnist":
            metrics[f"{key}_val_accuracy"] = r["val_accuracy"]
            metrics[f"{key}_seconds"] = round(r["seconds"], 3)
    for problem in results:
        reached = [r for r in rows if r["problem"] == problem and r["steps_to_threshold"] is not None]
        if reached:
            metrics[f"{problem}_fewest_steps"] = min(reached, key=lambda r: r["steps_to_threshold"])["optimizer"]
        metrics[f"{problem}_lowest_final_loss"] = min((r for r in rows if r["problem"] == problem),
                                                      key=lambda r: r["final_loss"])["optimizer"]
    metrics["runs"] = len(sweep_rows)
    return metrics
