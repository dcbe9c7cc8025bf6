"""Random-feature regression: the smallest model that shows double descent (exercise 31.9.10).

A width-p model is phi(x) = relu(x W) / sqrt(p) with a fixed random W (d, p) ~ N(0, 1), and a
linear readout fitted by least squares to the targets (one column per output). Only the readout
is trained, so each output has exactly p parameters and the interpolation threshold, where the
model can just fit n training points, is p = n:

- p < n: the least-squares solution (the training error generally stays above 0);
- p >= n: infinitely many readouts fit the training set exactly; the minimum-norm one is taken
  (what gradient descent from zero converges to), computed with the pseudo-inverse.

Near p = n the feature matrix's smallest singular values approach 0, the readout's norm blows up
and with noisy targets the test error peaks: the "double descent" curve. A ridge penalty
lam * |w|^2 (per training example: the loss is mean squared error + lam |w|^2) tames the small
singular values and flattens the peak.

Both solutions come from one SVD, Phi = U S V^T: w = V diag(f(s)) U^T Y with f(s) = 1/s (s above
numpy's pinv cut-off, else 0) or s / (s^2 + n lam). Computations in float64 on the CPU.
"""

from __future__ import annotations

import torch

TEST_CHUNK = 2048  # rows of test features multiplied at a time (bounds the float64 temporaries)


def draw_weights(d: int, max_width: int, seed: int, trial: int = 0) -> torch.Tensor:
    """W (d, max_width) ~ N(0, 1); a width-p model uses its first p columns, so the models of a
    sweep are nested (a wider model adds features to a narrower one) and the curve is smooth."""
    g = torch.Generator().manual_seed(int(seed) * 1000 + int(trial))
    return torch.randn(d, max_width, generator=g, dtype=torch.float64)


def features(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.relu(x.to(torch.float64) @ w) / w.shape[1] ** 0.5


def readouts(phi: torch.Tensor, y: torch.Tensor, ridges: list[float]) -> list[torch.Tensor]:
    """The readouts (p, outputs), one per ridge strength (0: min-norm least squares), from one SVD."""
    if phi.shape[1] > phi.shape[0]:  # wide: LAPACK is many times faster on the tall transpose
        v, s, uh = torch.linalg.svd(phi.T, full_matrices=False)
        u, vh = uh.T, v.T
    else:
        u, s, vh = torch.linalg.svd(phi, full_matrices=False)
    uty = u.T @ y.to(torch.float64)
    out = []
    for ridge in ridges:
        if ridge > 0:
            f = s / (s ** 2 + phi.shape[0] * ridge)
        else:
            cutoff = max(phi.shape) * torch.finfo(s.dtype).eps * (s[0] if len(s) else 0.0)
            f = torch.where(s > cutoff, 1.0 / s, torch.zeros_like(s))
        out.append(vh.T @ (f[:, None] * uty))
    return out


def readout(phi: torch.Tensor, y: torch.Tensor, ridge: float = 0.0) -> torch.Tensor:
    return readouts(phi, y, [ridge])[0]


def predict(phi_test: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Test predictions from (float32-stored) test features, in float64, a chunk at a time."""
    return torch.cat([phi_test[i:i + TEST_CHUNK].to(torch.float64) @ beta for i in range(0, len(phi_test), TEST_CHUNK)])


def squared_error(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Mean over examples of the squared error summed over outputs."""
    return float(((pred - y.to(pred.dtype)) ** 2).sum(dim=1).mean())


def class_error(pred: torch.Tensor, labels: torch.Tensor) -> float:
    return float((pred.argmax(dim=1) != labels).double().mean())


def sweep_ridges(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                 widths: list[int], *, seed: int, trials: int = 1, ridges: list[float] = (0.0,),
                 labels_train: torch.Tensor | None = None, labels_test: torch.Tensor | None = None) -> dict:
    """{ridge: one row per width}: train/test squared error (and class error, given labels),
    averaged over `trials` draws of the random features, and the readout's norm."""
    max_width = max(widths)
    draws = []
    for t in range(trials):
        # Every width's features are the first columns of the widest model's, rescaled (nested
        # models, see draw_weights): built once per draw. Test features are kept in float32.
        w = draw_weights(x_train.shape[1], max_width, seed, t)
        test = torch.cat([features(x_test[i:i + TEST_CHUNK], w).float() for i in range(0, len(x_test), TEST_CHUNK)])
        draws.append((features(x_train, w), test))
    rows: dict[float, list[dict]] = {r: [] for r in ridges}
    for p in widths:
        scale = (max_width / p) ** 0.5  # 1/sqrt(p) instead of the widest model's 1/sqrt(max_width)
        acc: dict[float, dict[str, float]] = {r: {} for r in ridges}
        for phi_all, test_all in draws:
            phi = phi_all[:, :p] * scale
            for ridge, beta in zip(ridges, readouts(phi, y_train, list(ridges))):
                fit, pred = phi @ beta, predict(test_all[:, :p], beta) * scale
                vals = {"train_mse": squared_error(fit, y_train), "test_mse": squared_error(pred, y_test),
                        "readout_norm": float(beta.norm())}
                if labels_train is not None:
                    vals["train_error"] = class_error(fit, labels_train)
                if labels_test is not None:
                    vals["test_error"] = class_error(pred, labels_test)
                for k, v in vals.items():
                    acc[ridge][k] = acc[ridge].get(k, 0.0) + v / trials
        for ridge in ridges:
            rows[ridge].append({"width": int(p), **acc[ridge]})
    return rows


def sweep(x_train, y_train, x_test, y_test, widths: list[int], *, seed: int, trials: int = 1, ridge: float = 0.0,
          labels_train=None, labels_test=None) -> list[dict]:
    """sweep_ridges for one ridge strength: its rows."""
    return sweep_ridges(x_train, y_train, x_test, y_test, widths, seed=seed, trials=trials, ridges=[ridge],
                        labels_train=labels_train, labels_test=labels_test)[ridge]
