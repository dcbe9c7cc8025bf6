"""Discrete convolution and cross-correlation as chapter 31.5.1 defines them, written out in
NumPy, and the output size of a strided, padded convolution.

The chapter's definitions (indices from 0 here):

- 1-D convolution   s(i) = (x * y)(i) = sum_m x(m) y(i - m);
- 2-D convolution   (X * K)(i, j) = sum_m sum_n X[m, n] K[i - m, j - n];
- cross-correlation (K ⊠ X)(i, j) = sum_m sum_n X[i + m, j + n] K[m, n]  ("convolution" in DL).

The convolutions are the *full* ones (every i where a term is nonzero: length n + k - 1), the
cross-correlation the *valid* one (the kernel inside the input: n - k + 1), which is what
torch.nn.functional.conv1d/conv2d compute with padding 0. Flipping the kernel on every axis
turns one into the other: full convolution = cross-correlation with the flipped kernel over the
input zero-padded by k - 1 on each side.

Output size: the chapter describes stride, padding and kernel size (31.5.2, Figures 31.8-31.11)
but prints no formula; the standard one, for input length n, kernel k, stride s and zero padding
p on each side, is floor((n + 2p - k) / s) + 1 (the kernel's positions, every s-th, that fit).
"""

from __future__ import annotations

import numpy as np


def conv1d_definition(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Full 1-D convolution by the definition: s(i) = sum_m x(m) y(i - m), i = 0 .. n + k - 2
    (y(j) = 0 outside 0 .. k-1)."""
    x, y = np.asarray(x), np.asarray(y)
    s = np.zeros(len(x) + len(y) - 1, dtype=np.result_type(x, y))
    for i in range(len(s)):
        for m in range(len(x)):
            if 0 <= i - m < len(y):
                s[i] += x[m] * y[i - m]
    return s


def conv2d_definition(X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Full 2-D convolution by the definition: (X * K)(i, j) = sum_m sum_n X[m, n] K[i - m, j - n].
    Each input value X[m, n] adds X[m, n] * K to the output block at (m, n): the same sum, taken
    input value by input value."""
    X, K = np.asarray(X), np.asarray(K)
    (h, w), (kh, kw) = X.shape, K.shape
    out = np.zeros((h + kh - 1, w + kw - 1), dtype=np.result_type(X, K))
    for m in range(h):
        for n in range(w):
            out[m:m + kh, n:n + kw] += X[m, n] * K
    return out


def xcorr2d_definition(X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Valid 2-D cross-correlation by the definition: (K ⊠ X)(i, j) = sum_m sum_n X[i+m, j+n] K[m, n]."""
    X, K = np.asarray(X), np.asarray(K)
    (h, w), (kh, kw) = X.shape, K.shape
    out = np.zeros((h - kh + 1, w - kw + 1), dtype=np.result_type(X, K))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return out


def flip(kernel: np.ndarray) -> np.ndarray:
    """The kernel reversed along every axis (rows and columns for 2-D)."""
    return np.flip(np.asarray(kernel), axis=tuple(range(np.ndim(kernel)))).copy()


def output_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """floor((n + 2p - k) / s) + 1: how many kernel positions fit, every s-th, in the padded input."""
    if n + 2 * padding < kernel:
        raise ValueError(f"kernel {kernel} does not fit in input {n} padded by {padding}")
    return (n + 2 * padding - kernel) // stride + 1
