"""Chapter 31.1.3: the worked tensor-product examples, recomputed and compared with the values
the chapter printed.

Nothing is trained. `evaluate` writes every product (inputs, our result, the chapter's printed
result, whether they agree) to ``reports/figures/tensor_products/products.json`` and a figure
of the matrix-valued ones.

One printed result does not follow from the code printed above it: the mode-1 product. The
chapter multiplies by A = [[1, 0], [0, 1], [1, -1], [2, 0]] but prints the values that
A = [[1, 0], [0, 1], [1, 1], [2, 1]] gives. We report our value for the chapter's A, flag the
mismatch, and record the matrix that reproduces the print (tests check that claim).

Chapter 31.1.1's identities (entries with an ``evaluate.identities`` block, e.g.
tensor_identities): the Kronecker mixed-product rule (A (x) B)(C (x) D) = (AC) (x) (BD), the
transpose rule (A (x) B)^T = A^T (x) B^T, and the Hadamard product's commutativity,
associativity and distributivity over addition, each checked on ``trials`` seeded random
matrices of random compatible shapes (numpy Generator seeded with the experiment's seed). With
small integer entries both sides are computed exactly, so every error is exactly 0; the same
shapes with standard-normal entries show what floating point makes of them (rounding-level
errors: floating-point products are not associative). For contrast, the two products the
chapter calls "not necessarily commutative" (Kronecker, Khatri-Rao) are counted on the same
draws. Such an entry computes only the identities (``identities.json``, ``identities.png``,
``identity_examples.png``); the products above stay on tensor_products' page, whose metrics
are the same as before.
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


# -- chapter 31.1.1: the identities, on seeded random matrices ------------------------------

IDENTITIES = {
    "kronecker_mixed_product": "(A ⊗ B)(C ⊗ D) = (AC) ⊗ (BD)",
    "kronecker_transpose": "(A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ",
    "hadamard_commutative": "A * B = B * A",
    "hadamard_associative": "(A * B) * C = A * (B * C)",
    "hadamard_distributive": "A * (B + C) = A * B + A * C",
}
# What the chapter says is *not* an identity in general: counted, not expected to hold.
NON_IDENTITIES = {
    "kronecker_commutative": "A ⊗ B = B ⊗ A",
    "khatri_rao_commutative": "A ⊙ B = B ⊙ A",
}


def identity_sides(name: str, m: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(left side, right side) of one identity for the matrices m (A, B, C, D, H1, H2, H3)."""
    A, B, C, D = m["A"], m["B"], m["C"], m["D"]
    X, Y, Z = m["H1"], m["H2"], m["H3"]
    if name == "kronecker_mixed_product":
        return P.kronecker(A, B) @ P.kronecker(C, D), P.kronecker(A @ C, B @ D)
    if name == "kronecker_transpose":
        return P.kronecker(A, B).T, P.kronecker(A.T, B.T)
    if name == "hadamard_commutative":
        return P.hadamard(X, Y), P.hadamard(Y, X)
    if name == "hadamard_associative":
        return P.hadamard(P.hadamard(X, Y), Z), P.hadamard(X, P.hadamard(Y, Z))
    if name == "hadamard_distributive":
        return P.hadamard(X, Y + Z), P.hadamard(X, Y) + P.hadamard(X, Z)
    if name == "kronecker_commutative":
        return P.kronecker(A, B), P.kronecker(B, A)
    if name == "khatri_rao_commutative":
        return P.khatri_rao(A, m["E"]), P.khatri_rao(m["E"], A)
    raise KeyError(name)


def draw_shapes(rng: np.random.Generator, max_dim: int) -> dict[str, tuple[int, int]]:
    """Compatible shapes: A (m, n), B (p, q), C (n, r), D (q, s) for the Kronecker rules; E
    (t, n) shares A's column count (Khatri-Rao); H1-H3 one common shape (Hadamard)."""
    m, n, p, q, r, s, t, h, w = (int(v) for v in rng.integers(1, max_dim + 1, 9))
    return {"A": (m, n), "B": (p, q), "C": (n, r), "D": (q, s), "E": (t, n),
            "H1": (h, w), "H2": (h, w), "H3": (h, w)}


def identity_checks(rng: np.random.Generator, trials: int, max_dim: int, low: int, high: int) -> dict:
    """Per identity (and non-identity): the largest |left - right| over `trials` draws with
    integer entries in [low, high] (int64, exact) and with standard-normal entries (float64),
    and the number of integer draws where the two sides differ. The first draw uses 2 x 2
    matrices throughout: it is the example the figure shows."""
    names = [*IDENTITIES, *NON_IDENTITIES]
    out = {name: {"int_max_abs_error": 0, "float_max_abs_error": 0.0, "int_trials_differing": 0} for name in names}
    example = None
    for trial in range(trials):
        shapes = draw_shapes(rng, max_dim)
        if trial == 0:
            shapes = {k: (2, 2) for k in shapes}
        ints = {k: rng.integers(low, high + 1, shape) for k, shape in shapes.items()}
        floats = {k: rng.standard_normal(shape) for k, shape in shapes.items()}
        if trial == 0:
            example = ints
        for name in names:
            left, right = identity_sides(name, ints)
            err = int(np.abs(left - right).max()) if left.shape == right.shape else None
            lf, rf = identity_sides(name, floats)
            r = out[name]
            if err is None or err > 0:
                r["int_trials_differing"] += 1
            r["int_max_abs_error"] = max(r["int_max_abs_error"], err if err is not None else 0)
            r["float_max_abs_error"] = max(r["float_max_abs_error"], float(np.abs(lf - rf).max()))
    for name in names:
        out[name]["statement"] = IDENTITIES.get(name) or NON_IDENTITIES[name]
        out[name]["holds_in_every_trial"] = out[name]["int_trials_differing"] == 0
    return {"trials": trials, "max_dim": max_dim, "int_range": [low, high], "results": out,
            "example": {k: v.tolist() for k, v in example.items()}}


def _identities_table(checks: dict, path: Path) -> None:
    from dllaunchpad.analysis.figures import pyplot, save

    plt = pyplot()
    rows = []
    for name, r in checks["results"].items():
        kind = "identity" if name in IDENTITIES else "not an identity"
        rows.append([r["statement"], kind, f"{r['int_max_abs_error']}", f"{r['float_max_abs_error']:.1e}",
                     f"{checks['trials'] - r['int_trials_differing']} / {checks['trials']}"])
    fig, ax = plt.subplots(figsize=(13, 0.42 * len(rows) + 1.2))
    ax.axis("off")
    lo, hi = checks["int_range"]
    table = ax.table(cellText=rows, cellLoc="center", bbox=[0, 0, 1, 1],
                     colWidths=[0.26, 0.13, 0.23, 0.19, 0.19],
                     colLabels=["statement", "chapter 31.1.1", f"max |left − right|, integers in [{lo}, {hi}]",
                                "max |left − right|, normal floats", "integer draws where it holds"])
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    ax.set_title(f"Chapter 31.1.1's product rules on {checks['trials']} seeded random draws "
                 f"(shapes up to {checks['max_dim']} x {checks['max_dim']})")
    save(fig, path, alt="Table: for each of the chapter's five product identities the largest difference "
                        "between the two sides is exactly 0 for integer matrices and at rounding level for "
                        "floating-point ones; Kronecker and Khatri-Rao commutativity fail on most draws.")


def _identity_examples(checks: dict, path: Path) -> None:
    """The first draw (2 x 2 integer matrices): both sides of the two Kronecker rules and their
    difference, numbers written in."""
    from dllaunchpad.analysis.figures import pyplot, save

    m = {k: np.array(v) for k, v in checks["example"].items()}
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.8))
    for row, name in zip(axes, ("kronecker_mixed_product", "kronecker_transpose")):
        left, right = identity_sides(name, m)
        lhs, rhs = IDENTITIES[name].split(" = ")
        lo, hi = min(left.min(), right.min()), max(left.max(), right.max())
        for ax, value, title in zip(row, (left, right, left - right), (lhs, rhs, "left − right")):
            # one colour scale for both sides; the difference on a symmetric one (0 = mid-grey)
            vmin, vmax = (lo, hi) if title != "left − right" else (-1, 1)
            ax.imshow(value, cmap="cividis", vmin=vmin, vmax=vmax)
            for (i, j), v in np.ndenumerate(value):
                ax.text(j, i, str(v), ha="center", va="center", fontsize=9,
                        color="white" if v < (vmin + vmax) / 2 else "black")
            ax.set_title(title)
            ax.set_xticks(range(value.shape[1]))
            ax.set_yticks(range(value.shape[0]))
            ax.set_xlabel("column")
            ax.set_ylabel("row")
            ax.grid(False)
    fig.suptitle("The Kronecker rules on the first draw (A, B, C, D: 2 x 2 random integers, in identities.json)")
    save(fig, path)


def evaluate_identities(exp, figures_dir: Path) -> dict:
    cfg = exp.spec["evaluate"]["identities"]
    checks = identity_checks(np.random.default_rng(exp.seed), int(cfg["trials"]), int(cfg["max_dim"]),
                             int(cfg["low"]), int(cfg["high"]))
    (figures_dir / "identities.json").write_text(json.dumps(checks, indent=2) + "\n")
    _identities_table(checks, figures_dir / "identities.png")
    _identity_examples(checks, figures_dir / "identity_examples.png")
    metrics: dict = {"trials": checks["trials"]}
    for name, r in checks["results"].items():
        metrics[f"{name}_max_abs_error"] = r["int_max_abs_error"]
        metrics[f"{name}_max_abs_error_float"] = r["float_max_abs_error"]
        if name in IDENTITIES:
            metrics[f"{name}_holds"] = r["holds_in_every_trial"]
        else:
            metrics[f"{name}_counterexamples"] = r["int_trials_differing"]
    metrics["identities_checked"] = len(IDENTITIES)
    metrics["identities_holding"] = sum(checks["results"][n]["holds_in_every_trial"] for n in IDENTITIES)
    metrics["headline"] = "identities_holding"
    metrics["thumbnail"] = "identity_examples.png"
    return metrics


def evaluate(exp, module, figures_dir: Path) -> dict:
    if "identities" in exp.spec.get("evaluate", {}):
        return evaluate_identities(exp, figures_dir)
    results = compute()
    (figures_dir / "products.json").write_text(json.dumps(results, indent=2) + "\n")
    _figure(results, figures_dir / "matrix_products.png")
    metrics = {f"{name}_matches_chapter": r["matches_chapter"] for name, r in results.items()}
    metrics["products"] = len(results)
    metrics["products_matching_chapter"] = sum(r["matches_chapter"] for r in results.values())
    return metrics
