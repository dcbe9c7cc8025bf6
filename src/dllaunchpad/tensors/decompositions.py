"""The tensor decompositions of chapter 31.1.2, through tensorly: CP (PARAFAC), Tucker and
tensor train, with what the chapter's text asks of them: how well a rank-R approximation
reconstructs the tensor, and how many numbers it needs compared with the tensor itself.

Conventions (the same as tensorly's):

- CP:     T ~ sum_r w_r a_r^(1) o ... o a_r^(N); factors[n] has shape (M_n, R).
- Tucker: T ~ C x_1 A^(1) ... x_N A^(N); core (R_1, ..., R_N), factors[n] (M_n, R_n).
- TT:     T[i_1, ..., i_N] = G^(1)[:, i_1, :] ... G^(N)[:, i_N, :]; core n has shape
          (r_{n-1}, M_n, r_n) with r_0 = r_N = 1.

Every function takes a NumPy array and returns NumPy arrays; the seeds make ALS (CP) and HOOI
(Tucker) repeat exactly (both start from an SVD, so the seed only matters for degenerate cases).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

METHODS = ("cp", "tucker", "tt")


def _tl():
    import tensorly as tl

    tl.set_backend("numpy")
    return tl


def _check_tensor(tensor: np.ndarray, name: str = "tensor") -> np.ndarray:
    tensor = np.asarray(tensor, dtype=np.float64)
    if tensor.ndim < 2:
        raise ValueError(f"{name}: a decomposition needs at least 2 modes, got shape {tensor.shape}")
    if not np.isfinite(tensor).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return tensor


def cp(tensor: np.ndarray, rank: int, *, n_iter_max: int = 100, tol: float = 1e-8,
       seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(weights (R,), factors [(M_n, R)]): a rank-R CP decomposition by alternating least squares."""
    from tensorly.decomposition import parafac

    tensor = _check_tensor(tensor)
    if rank < 1:
        raise ValueError(f"CP rank must be >= 1, got {rank}")
    with warnings.catch_warnings():
        # With R above a mode's size the SVD start has too few singular vectors; tensorly says
        # so and fills the remaining columns from `random_state`, which is what we want.
        warnings.filterwarnings("ignore", message="Trying to compute SVD with n_eigenvecs")
        weights, factors = parafac(_tl().tensor(tensor), rank=int(rank), n_iter_max=n_iter_max, tol=tol,
                                   init="svd", random_state=seed)
    return np.asarray(weights), [np.asarray(f) for f in factors]


def cp_reconstruct(weights: np.ndarray, factors: list[np.ndarray]) -> np.ndarray:
    return np.asarray(_tl().cp_to_tensor((weights, factors)))


def tucker(tensor: np.ndarray, ranks: list[int], *, n_iter_max: int = 100, tol: float = 1e-4,
           seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(core (R_1, ..., R_N), factors [(M_n, R_n)]): a Tucker decomposition (HOOI)."""
    from tensorly.decomposition import tucker as _tucker

    tensor = _check_tensor(tensor)
    ranks = [int(r) for r in ranks]
    if len(ranks) != tensor.ndim or any(r < 1 or r > m for r, m in zip(ranks, tensor.shape)):
        raise ValueError(f"Tucker ranks {ranks} do not fit a tensor of shape {tensor.shape} "
                         "(one rank per mode, 1 <= R_n <= M_n)")
    core, factors = _tucker(_tl().tensor(tensor), rank=ranks, n_iter_max=n_iter_max, tol=tol,
                            init="svd", random_state=seed)
    return np.asarray(core), [np.asarray(f) for f in factors]


def tucker_reconstruct(core: np.ndarray, factors: list[np.ndarray]) -> np.ndarray:
    return np.asarray(_tl().tucker_to_tensor((core, factors)))


def max_tt_ranks(shape: tuple[int, ...]) -> list[int]:
    """The largest useful TT ranks: r_k <= min(M_1...M_k, M_{k+1}...M_N) (beyond that the
    unfolding has no more singular values)."""
    return [1] + [min(math.prod(shape[:k]), math.prod(shape[k:])) for k in range(1, len(shape))] + [1]


def tt_ranks(shape: tuple[int, ...], rank: int) -> list[int]:
    """[1, r, ..., r, 1], each inner rank capped at what the unfolding allows."""
    return [min(rank, cap) if 0 < k < len(shape) else 1 for k, cap in enumerate(max_tt_ranks(shape))]


def tensor_train(tensor: np.ndarray, ranks: list[int]) -> list[np.ndarray]:
    """TT cores [(r_{n-1}, M_n, r_n)] by the TT-SVD algorithm (sequential truncated SVDs)."""
    from tensorly.decomposition import tensor_train as _tt

    tensor = _check_tensor(tensor)
    ranks = [int(r) for r in ranks]
    if len(ranks) != tensor.ndim + 1 or ranks[0] != 1 or ranks[-1] != 1 or min(ranks) < 1:
        raise ValueError(f"TT ranks {ranks}: need {tensor.ndim + 1} ranks, the first and last equal to 1")
    return [np.asarray(core) for core in _tt(_tl().tensor(tensor), rank=ranks)]


def tt_reconstruct(cores: list[np.ndarray]) -> np.ndarray:
    return np.asarray(_tl().tt_to_tensor(cores))


def relative_error(tensor: np.ndarray, approx: np.ndarray) -> float:
    """||T - T_hat||_F / ||T||_F."""
    return float(np.linalg.norm(tensor - approx) / np.linalg.norm(tensor))


def cp_size(shape: tuple[int, ...], rank: int) -> int:
    """Numbers a CP decomposition stores: R per mode row plus the R weights."""
    return rank * sum(shape) + rank


def tucker_size(shape: tuple[int, ...], ranks: list[int]) -> int:
    return math.prod(ranks) + sum(m * r for m, r in zip(shape, ranks))


def tt_size(shape: tuple[int, ...], ranks: list[int]) -> int:
    return sum(ranks[n] * m * ranks[n + 1] for n, m in enumerate(shape))


@dataclass(frozen=True)
class Approximation:
    """One decomposition of one tensor at one rank, summarised."""

    method: str
    rank: int                  # the rank asked for (CP: R; Tucker: per mode, capped; TT: inner ranks, capped)
    ranks: tuple[int, ...]     # the ranks used (CP: (R,); Tucker: (R_1..R_N); TT: (1, r_1, .., 1))
    relative_error: float
    stored_numbers: int
    compression_ratio: float   # entries of the tensor / numbers the decomposition stores


def approximate(tensor: np.ndarray, method: str, rank: int, *, seed: int = 0,
                n_iter_max: int = 100) -> Approximation:
    """Decompose `tensor` with `method` at `rank` and measure the result.

    `rank` is one number for every method: CP's R; Tucker's R_n = min(rank, M_n) for every mode;
    TT's inner ranks r_k = min(rank, the largest useful r_k)."""
    tensor = _check_tensor(tensor)
    shape = tensor.shape
    if method == "cp":
        weights, factors = cp(tensor, rank, n_iter_max=n_iter_max, seed=seed)
        approx, used, size = cp_reconstruct(weights, factors), (rank,), cp_size(shape, rank)
    elif method == "tucker":
        used = tuple(min(rank, m) for m in shape)
        core, factors = tucker(tensor, list(used), n_iter_max=n_iter_max, seed=seed)
        approx, size = tucker_reconstruct(core, factors), tucker_size(shape, list(used))
    elif method == "tt":
        used = tuple(tt_ranks(shape, rank))
        cores = tensor_train(tensor, list(used))
        approx, size = tt_reconstruct(cores), tt_size(shape, list(used))
    else:
        raise ValueError(f"unknown decomposition method {method!r} (known: {', '.join(METHODS)})")
    return Approximation(method, int(rank), tuple(int(r) for r in used), relative_error(tensor, approx),
                         int(size), tensor.size / size)
