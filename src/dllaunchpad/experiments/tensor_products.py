"""Chapter 31.1.3: the worked tensor-product examples, recomputed and compared with the values
the chapter printed.

Nothing is trained. `evaluate` writes every product (inputs, our result, the chapter's printed
result, whether they agree) to ``reports/figures/tensor_products/products.json`` and a figure
of the matrix-valued ones.

One printed result does not follow from the code printed above it: the mode-1 product. The
chapter multiplies by A = [[1, 0], [0, 1], [1, -1], [2, 0]] but prints the values that
A = [[1, 0], [0, 1], [1, 1], [2, 1]] gives. We report our value for the chapter's A, flag the
mismatch, and record the matrix that reproduces the print (tests check that claim).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dllaunchpad.tensors import products as P

# Inputs of the chapter's examples.
a, b, c = np.array([1, 2]), np.array([3, 4, 5]), np.array([6, 7])
KA, KB = np.array([[1, 2], [3, 4]]), np.array([[0, 5], [6, 7]])
RA, RB = np.array([[1, 2], [3, 4]]), np.array([[5, 6], [7, 8]])
T = np.arange(1, 13).reshape(2, 2, 3)
A_MODE1 = np.array([[1, 0], [0, 1], [1, -1], [2, 0]])
A_MODE1_AS_PRINTED = np.array([[1, 0], [0, 1], [1, 1], [2, 1]])
B_MODE2 = np.array([[1, 0, -1], [2, 1, 0]])
B_CONTRACT = np.array([[1, 0], [0, 1], [1, -1]])

# What the chapter printed (transcribed from its output blocks).
CHAPTER_PRINTED = {
    "outer_ab": [[3, 4, 5], [6, 8, 10]],
    "outer_abc": [[[18, 21], [24, 28], [30, 35]], [[36, 42], [48, 56], [60, 70]]],
    "outer_abc_matlab_slices": [[[18, 24, 30], [36, 48, 60]], [[21, 28, 35], [42, 56, 70]]],
    "kronecker_AB": [[0, 5, 0, 10], [6, 7, 12, 14], [0, 15, 0, 20], [18, 21, 24, 28]],
    "kronecker_BA": [[0, 0, 5, 10], [0, 0, 15, 20], [6, 12, 7, 14], [18, 24, 21, 28]],
    "khatri_rao_AB": [[5, 12], [7, 16], [15, 24], [21, 32]],
    "khatri_rao_BA": [[5, 12], [15, 24], [7, 16], [21, 32]],
    "hadamard": [[5, 12], [21, 32]],
    "mode1_product": [[[1, 4, 5, 6], [2, 5, 7, 9], [3, 6, 9, 12]],
                      [[7, 10, 17, 24], [8, 11, 19, 27], [9, 12, 21, 30]]],
    "mode2_product": [[[-2, 4], [-2, 13]], [[-2, 22], [-2, 31]]],
    "contraction": [[[4, -1], [10, -1]], [[16, -1], [22, -1]]],
}


def compute() -> dict[str, dict]:
    """Each product: the operation, its inputs, our result and the chapter's print."""
    abc = P.outer(a, b, c)
    ours = {
        "outer_ab": ("outer(a, b)", {"a": a, "b": b}, P.outer(a, b)),
        "outer_abc": ("outer(a, b, c), NumPy (row-major) layout", {"a": a, "b": b, "c": c}, abc),
        "outer_abc_matlab_slices": ("[T[:, :, 0], T[:, :, 1]] of outer(a, b, c): MATLAB-style frontal slices",
                                    {}, np.stack([abc[:, :, 0], abc[:, :, 1]])),
        "kronecker_AB": ("kron(A, B)", {"A": KA, "B": KB}, P.kronecker(KA, KB)),
        "kronecker_BA": ("kron(B, A)", {"A": KA, "B": KB}, P.kronecker(KB, KA)),
        "khatri_rao_AB": ("khatri_rao(A, B)", {"A": RA, "B": RB}, P.khatri_rao(RA, RB)),
        "khatri_rao_BA": ("khatri_rao(B, A)", {"A": RA, "B": RB}, P.khatri_rao(RB, RA)),
        "hadamard": ("X * Y", {"X": RA, "Y": RB}, P.hadamard(RA, RB)),
        "mode1_product": ("np.tensordot(T, A, axes=([1], [1])) (new axis last)", {"T": T, "A": A_MODE1},
                          P.mode_n_product_numpy_order(T, A_MODE1, 1)),
        "mode2_product": ("np.tensordot(T, B, axes=([2], [1])) (new axis last)", {"T": T, "B": B_MODE2},
                          P.mode_n_product_numpy_order(T, B_MODE2, 2)),
        "contraction": ("contract T's 3rd mode with B's 1st", {"T": T, "B": B_CONTRACT},
                        P.contract(T, B_CONTRACT, [2], [0])),
    }
    out = {}
    for name, (op, inputs, value) in ours.items():
        printed = np.array(CHAPTER_PRINTED[name])
        entry = {
            "operation": op,
            "inputs": {k: v.tolist() for k, v in inputs.items()},
            "shape": list(value.shape),
            "ours": value.tolist(),
            "chapter_printed": printed.tolist(),
            "matches_chapter": bool(value.shape == printed.shape and np.array_equal(value, printed)),
        }
        out[name] = entry
    out["mode1_product"]["note"] = (
        "The chapter's printed values come from A = [[1, 0], [0, 1], [1, 1], [2, 1]], not from the "
        "A in its code; with that A our function reproduces the print exactly.")
    out["mode1_product"]["reproduces_print_with_A"] = A_MODE1_AS_PRINTED.tolist()
    return out


def _figure(results: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    names = ["outer_ab", "kronecker_AB", "khatri_rao_AB", "hadamard"]
    fig, axes = plt.subplots(1, len(names), figsize=(12, 3.4))
    for ax, name in zip(axes, names):
        m = np.array(results[name]["ours"])
        ax.imshow(m, cmap="cividis")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v < m.max() / 2 else "black")
        ax.set_title(results[name]["operation"], fontsize=10)
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]))
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        ax.grid(False)
    save(fig, path)


def evaluate(exp, module, figures_dir: Path) -> dict:
    results = compute()
    (figures_dir / "products.json").write_text(json.dumps(results, indent=2) + "\n")
    _figure(results, figures_dir / "matrix_products.png")
    metrics = {f"{name}_matches_chapter": r["matches_chapter"] for name, r in results.items()}
    metrics["products"] = len(results)
    metrics["products_matching_chapter"] = sum(r["matches_chapter"] for r in results.values())
    return metrics
