"""Chapter 31.1.2-31.1.3: CP, Tucker and tensor-train decompositions of real tensors.

Nothing is trained. For each method and each rank in params, evaluate decomposes the tensor and
records the relative reconstruction error ||T - T_hat|| / ||T|| and the compression ratio
(entries of T / numbers the decomposition stores). Two tensors, one experiment each:

- ``mnist_images``: the first ``data.images`` training digits, an (N, 28, 28) tensor;
- ``sunspot_cycles``: the monthly sunspot numbers folded into (cycle, year in cycle, month),
  with ``data.period_years`` = 11 (the solar cycle): 21 cycles x 11 years x 12 months, the
  years 1749-1979 (the last 4 years do not fill a cycle and are left out).

The chapter's own examples (a random 4x5x5 tensor: rank-2 and rank-3 CP, Tucker ranks [2, 3, 3])
are recomputed too; the chapter printed only their shapes reproducibly (it set no seed), so the
shapes are what the metrics compare.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dllaunchpad.tensors import decompositions as D

METHOD_TITLES = {"cp": "CP (PARAFAC)", "tucker": "Tucker", "tt": "Tensor train"}


def build_tensor(exp) -> tuple[np.ndarray, str]:
    """(the tensor, a description of its modes) for the experiment's `data.tensor`, read from
    its prepared data (exp.data_dir)."""
    data = exp.spec["data"]
    processed = exp.data_dir
    if data["tensor"] == "mnist_images":
        from dllaunchpad.datasets import mnist

        x, _ = mnist.load(processed, "train")
        if data["images"] > len(x):
            raise ValueError(f"experiments.{exp.name}.data.images: {data['images']} > the {len(x)} prepared images")
        return x[:data["images"]].astype(np.float64), "image x row x column"
    if data["tensor"] == "sunspot_cycles":
        from dllaunchpad.datasets import sunspots

        d = sunspots.load(processed)
        counts = d["series"] * float(d["std"]) + float(d["mean"])  # back to sunspot numbers
        if not str(d["months"][0]).endswith("-01"):
            raise ValueError(f"{processed}: the series must start in January, starts {d['months'][0]}")
        period = data["period_years"]
        cycles = len(counts) // (12 * period)
        return counts[:cycles * period * 12].reshape(cycles, period, 12), "cycle x year in cycle x month"
    raise ValueError(f"experiments.{exp.name}.data.tensor: unknown tensor {data['tensor']!r}")


def chapter_examples(seed: int) -> dict:
    """The chapter's 31.1.3 examples on a seeded random 4x5x5 tensor: the shapes it printed."""
    tensor = np.random.default_rng(seed).random((4, 5, 5))
    shapes = {}
    for rank in (2, 3):
        _, factors = D.cp(tensor, rank, seed=seed)
        shapes[f"chapter_cp_rank{rank}_factor_shapes"] = " ".join(str(f.shape) for f in factors)
    core, factors = D.tucker(tensor, [2, 3, 3], seed=seed)
    shapes["chapter_tucker_core_shape"] = str(core.shape)
    shapes["chapter_tucker_factor_shapes"] = " ".join(str(f.shape) for f in factors)
    return shapes


def sweep(tensor: np.ndarray, ranks: dict[str, list[int]], seed: int, n_iter_max: int) -> dict[str, list]:
    return {method: [D.approximate(tensor, method, r, seed=seed, n_iter_max=n_iter_max) for r in rs]
            for method, rs in ranks.items()}


def _method_figure(results: list, method: str, what: str, path: Path) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots()
    ranks = [a.rank for a in results]
    ax.plot(ranks, [a.relative_error for a in results], "o-", color=OKABE_ITO[0])
    ax.set_xlabel("rank" + (" (every mode, capped at its size)" if method != "cp" else " R"))
    ax.set_ylabel("relative reconstruction error", color=OKABE_ITO[0])
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    twin.plot(ranks, [a.compression_ratio for a in results], "s--", color=OKABE_ITO[3])
    twin.set_yscale("log")
    twin.set_ylabel("compression ratio (entries / stored numbers)", color=OKABE_ITO[3])
    twin.grid(False)
    ax.set_title(f"{METHOD_TITLES[method]} of the {what} tensor")
    save(fig, path)


def _tradeoff_figure(results: dict, what: str, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots()
    for method, rs in results.items():
        ax.plot([a.compression_ratio for a in rs], [a.relative_error for a in rs], "o-", label=METHOD_TITLES[method])
    ax.set_xscale("log")
    ax.set_xlabel("compression ratio (entries / stored numbers)")
    ax.set_ylabel("relative reconstruction error")
    ax.set_title(f"Error against compression: {what} tensor")
    ax.legend()
    save(fig, path)


def _rebuild(tensor: np.ndarray, method: str, rank: int, seed: int, n_iter_max: int) -> tuple[str, np.ndarray]:
    """(a label naming the ranks, the reconstruction) of one decomposition."""
    if method == "cp":
        return f"CP, R={rank}", D.cp_reconstruct(*D.cp(tensor, rank, seed=seed, n_iter_max=n_iter_max))
    if method == "tucker":
        used = [min(rank, m) for m in tensor.shape]
        return f"Tucker, R={used}", D.tucker_reconstruct(*D.tucker(tensor, used, seed=seed, n_iter_max=n_iter_max))
    used = D.tt_ranks(tensor.shape, rank)
    return f"TT, r={used}", D.tt_reconstruct(D.tensor_train(tensor, used))


def _reconstruction_figure(tensor: np.ndarray, kind: str, ranks: dict, seed: int, n_iter_max: int,
                           path: Path) -> None:
    """The tensor beside its reconstructions at the middle and the largest rank of each method:
    MNIST as a few digits, sunspots as the monthly series (one panel per method)."""
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    rebuilt = {method: [_rebuild(tensor, method, r, seed, n_iter_max)
                        for r in sorted({sorted(rs)[len(rs) // 2], max(rs)})]
               for method, rs in ranks.items()}
    if kind == "mnist_images":
        rows = [("original", tensor)] + [row for rs in rebuilt.values() for row in rs]
        shown = min(6, len(tensor))
        fig, axes = plt.subplots(len(rows), shown, figsize=(1.5 * shown, 1.5 * len(rows)), squeeze=False)
        for r, (label, t) in enumerate(rows):
            for col in range(shown):
                ax = axes[r][col]
                ax.imshow(t[col], cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                if col == 0:
                    ax.set_ylabel(label, fontsize=7)
        fig.suptitle("MNIST digits rebuilt from low-rank decompositions")
    else:
        fig, axes = plt.subplots(len(rebuilt), 1, figsize=(10, 2.8 * len(rebuilt)), sharex=True, squeeze=False)
        for ax, (method, rs) in zip(axes[:, 0], rebuilt.items()):
            ax.plot(tensor.reshape(-1), color="black", lw=0.7, label="sunspot number")
            for label, t in rs:
                ax.plot(t.reshape(-1), lw=0.9, label=label)
            ax.set_ylabel("monthly sunspots")
            ax.legend(fontsize=8, loc="upper left")
        axes[-1, 0].set_xlabel("month since January 1749")
        fig.suptitle("Sunspot cycles rebuilt from low-rank decompositions")
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    seed = exp.seed
    ev = exp.spec["evaluate"]
    tensor, modes = build_tensor(exp)
    kind = exp.spec["data"]["tensor"]
    what = "MNIST image" if kind == "mnist_images" else "sunspot"
    results = sweep(tensor, ev["ranks"], seed, ev["n_iter_max"])

    for method, rs in results.items():
        _method_figure(rs, method, what, figures_dir / f"{method}_error_and_compression.png")
    _tradeoff_figure(results, what, figures_dir / "error_vs_compression.png")
    _reconstruction_figure(tensor, kind, ev["ranks"], seed, ev["n_iter_max"], figures_dir / "reconstructions.png")
    table = {m: [a.__dict__ for a in rs] for m, rs in results.items()}
    (figures_dir / "decompositions.json").write_text(json.dumps(
        {"tensor_shape": list(tensor.shape), "modes": modes, "results": table}, indent=2) + "\n")

    metrics: dict = {"tensor_shape": " x ".join(map(str, tensor.shape)), "tensor_modes": modes,
                     "tensor_entries": int(tensor.size)}
    for method, rs in results.items():
        for a in rs:
            metrics[f"{method}_rank{a.rank}_relative_error"] = round(a.relative_error, 6)
            metrics[f"{method}_rank{a.rank}_compression_ratio"] = round(a.compression_ratio, 4)
    metrics.update(chapter_examples(seed))
    return metrics
