"""The tensor products of chapter 31.1, written out in NumPy.

Index conventions matter here (the chapter warns about row-major versus MATLAB order), so each
function says which axis goes where. tests/test_tensors.py checks each one against tensorly and
against the values the chapter printed.
"""

from __future__ import annotations

import numpy as np


def outer(*vectors: np.ndarray) -> np.ndarray:
    """Outer product of N vectors: T[i, j, ...] = a[i] * b[j] * ...  (shape = the lengths)."""
    out = np.asarray(vectors[0])
    for v in vectors[1:]:
        out = np.multiply.outer(out, np.asarray(v))
    return out


def kronecker(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kronecker product: block (i, j) of the result is a[i, j] * b."""
    a, b = np.asarray(a), np.asarray(b)
    (m, n), (p, q) = a.shape, b.shape
    # a[i, j] * b[k, l] lands at row i*p + k, column j*q + l.
    return (a[:, None, :, None] * b[None, :, None, :]).reshape(m * p, n * q)


def khatri_rao(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise Kronecker product: column r is kron(a[:, r], b[:, r])."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"Khatri-Rao needs equal column counts, got {a.shape} and {b.shape}")
    return (a[:, None, :] * b[None, :, :]).reshape(a.shape[0] * b.shape[0], a.shape[1])


def hadamard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise product of equally shaped arrays."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"Hadamard needs equal shapes, got {a.shape} and {b.shape}")
    return a * b


def mode_n_product(t: np.ndarray, m: np.ndarray, mode: int) -> np.ndarray:
    """T x_mode M: contracts axis `mode` of T with the columns of M; the new axis (M's rows)
    takes the place of the contracted one (the mathematical convention, as tensorly.mode_dot)."""
    t, m = np.asarray(t), np.asarray(m)
    if t.shape[mode] != m.shape[1]:
        raise ValueError(f"mode-{mode} product: T axis {mode} has size {t.shape[mode]}, M has {m.shape[1]} columns")
    return np.moveaxis(np.tensordot(t, m, axes=([mode], [1])), -1, mode)


def mode_n_product_numpy_order(t: np.ndarray, m: np.ndarray, mode: int) -> np.ndarray:
    """The chapter's `np.tensordot(T, M, axes=([mode], [1]))`: same numbers as mode_n_product,
    but NumPy appends the new axis last."""
    return np.moveaxis(mode_n_product(t, m, mode), mode, -1)


def contract(a: np.ndarray, b: np.ndarray, axes_a: list[int], axes_b: list[int]) -> np.ndarray:
    """Sum over the paired axes: C[free_a..., free_b...] = sum_k A[..k..] B[..k..]."""
    a, b = np.asarray(a), np.asarray(b)
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    letters = "abcdefghijklmnopqrstuvwxyz"
    sa, sb = list(letters[:a.ndim]), list(letters[a.ndim:a.ndim + b.ndim])
    for ia, ib in zip(axes_a, axes_b):
        sb[ib] = sa[ia]
    out = "".join(sa[i] for i in free_a) + "".join(sb[i] for i in free_b)
    return np.einsum(f"{''.join(sa)},{''.join(sb)}->{out}", a, b)
