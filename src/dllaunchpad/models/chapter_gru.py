"""The GRU exactly as chapter 31.6.6 writes it, next to torch's (and Keras' default) variant.

The chapter, in row-vector form (X_t: (N, d), H: (N, u)):

    R_t  = sigmoid(X_t W_xr + H_{t-1} W_hr + b_r)                 reset gate
    Z_t  = sigmoid(X_t W_xz + H_{t-1} W_hz + b_z)                 update gate
    H~_t = tanh(X_t W_xh + (R_t * H_{t-1}) W_hh + b_h)            candidate
    H_t  = Z_t * H_{t-1} + (1 - Z_t) * H~_t

torch.nn.GRU computes the candidate as tanh(W_in x + b_in + r * (W_hn h + b_hn)): the reset gate
multiplies the recurrent product (and its own bias) *after* the matrix product. That is Keras'
`reset_after=True` (its TF2 default); the chapter's formula, the original of Cho et al. (2014),
is Keras' `reset_after=False`, with a single bias per gate. The two agree only where the reset
gate is 1 and b_hn = 0. The update rule H_t = Z H_{t-1} + (1 - Z) H~ is the same in both.

`ChapterGRU` is a drop-in for a one-layer, unidirectional, batch_first `nn.GRU`: same call,
same returns (outputs (N, L, u), h_n (1, N, u)), and its parameters carry torch's names and
layouts (weight_ih_l0 (3u, d), weight_hh_l0 (3u, u), bias_ih_l0 (3u,); gate blocks in torch's
order r, z, n), so the same initialisers apply (models/rnn_forecaster.keras_recurrent_init).
Row i of weight_ih_l0 is column i of the chapter's W_x: X W_x = x @ weight_ih_l0.T. There is no
bias_hh: the chapter has one bias per gate, so the cell has 3u fewer numbers than torch's.
"""

from __future__ import annotations

import torch
from torch import nn


def chapter_gru_step(x: torch.Tensor, h: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
                     bias: torch.Tensor) -> torch.Tensor:
    """One step of the chapter's GRU: x (N, d), h (N, u) -> H_t (N, u)."""
    return _step(x @ weight_ih.T + bias, h, weight_hh)


def _step(x_part: torch.Tensor, h: torch.Tensor, weight_hh: torch.Tensor) -> torch.Tensor:
    """The step given x_part = [X W_xr + b_r, X W_xz + b_z, X W_xh + b_h] (N, 3u), which does not
    depend on H: a whole sequence's is computed in one product before the loop."""
    u = h.size(1)
    xr, xz, xh = x_part.split(u, dim=1)
    w_hr, w_hz, w_hh = weight_hh.split(u)       # (u, u) each: the chapter's W_h* transposed
    r = torch.sigmoid(xr + h @ w_hr.T)
    z = torch.sigmoid(xz + h @ w_hz.T)
    candidate = torch.tanh(xh + (r * h) @ w_hh.T)   # the reset gate BEFORE the product
    return z * h + (1 - z) * candidate


class ChapterGRU(nn.Module):
    """A one-layer GRU with the chapter's candidate state; the `nn.GRU(batch_first=True)` call."""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = True, bidirectional: bool = False):
        super().__init__()
        if not batch_first or bidirectional:
            raise ValueError("ChapterGRU is one direction, batch_first only")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(3 * hidden_size))
        # torch's own default initialisation, U(-1/sqrt(u), 1/sqrt(u)); the forecaster replaces it.
        bound = hidden_size ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, L, d) -> (outputs (N, L, u), h_n (1, N, u)), as nn.GRU."""
        h = x.new_zeros(x.size(0), self.hidden_size) if h0 is None else h0[0]
        x_parts = x @ self.weight_ih_l0.T + self.bias_ih_l0   # (N, L, 3u), every step at once
        outputs = []
        for t in range(x.size(1)):
            h = _step(x_parts[:, t], h, self.weight_hh_l0)
            outputs.append(h)
        return torch.stack(outputs, 1), h[None]
