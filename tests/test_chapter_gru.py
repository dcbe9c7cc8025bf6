"""Chapter 31.6.6's GRU (models/chapter_gru.py): its equations checked step by step against hand
and numpy computations, against torch's GRU (which applies the reset gate after the recurrent
product), and its sunspot entry against sunspots_gru."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from dllaunchpad.models.chapter_gru import ChapterGRU, chapter_gru_step


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _load(cell: ChapterGRU, w_ih, w_hh, b) -> ChapterGRU:
    with torch.no_grad():
        cell.weight_ih_l0.copy_(torch.as_tensor(w_ih, dtype=torch.float64))
        cell.weight_hh_l0.copy_(torch.as_tensor(w_hh, dtype=torch.float64))
        cell.bias_ih_l0.copy_(torch.as_tensor(b, dtype=torch.float64))
    return cell


def test_two_steps_by_hand():
    # d = 1 input, u = 2 units. Gate rows r, z, candidate (torch's order r, z, n).
    #   R = sigmoid(0 x + H [[0, 0], [0, 0]] + [0, ln 3])      = [1/2, 3/4] whatever the inputs
    #   Z = sigmoid(0 x + 0 H + [0, 0])                         = [1/2, 1/2]
    #   H~ = tanh(x [1, -1] + (R * H) [[0, 1], [1, 0]] + 0)    (W_hh swaps the two units)
    w_ih = [[0], [0], [0], [0], [1], [-1]]                   # (3u, d): rows r1 r2 z1 z2 n1 n2
    w_hh = [[0, 0], [0, 0], [0, 0], [0, 0], [0, 1], [1, 0]]  # row i: unit i's weights on (h1, h2)
    b = [0, math.log(3), 0, 0, 0, 0]
    cell = _load(ChapterGRU(1, 2).double(), w_ih, w_hh, b)
    # step 1, x = 0.5, H0 = 0:   H~ = tanh([0.5, -0.5]), H1 = 0.5 H~
    h1 = [0.5 * math.tanh(0.5), 0.5 * math.tanh(-0.5)]                # [0.231059, -0.231059]
    # step 2, x = 0: R * H1 = [h1_1 / 2, 3 h1_2 / 4]; swapped by W_hh: H~ = tanh([3 h1_2 / 4, h1_1 / 2])
    h2 = [0.5 * h1[0] + 0.5 * math.tanh(0.75 * h1[1]), 0.5 * h1[1] + 0.5 * math.tanh(0.5 * h1[0])]
    x = torch.tensor([[[0.5], [0.0]]], dtype=torch.float64)
    out, h_n = cell(x)
    assert out[0].flatten().tolist() == pytest.approx(h1 + h2, abs=1e-12)
    assert h_n.shape == (1, 1, 2) and h_n[0, 0].tolist() == pytest.approx(h2, abs=1e-12)
    step1 = chapter_gru_step(x[:, 0], torch.zeros(1, 2, dtype=torch.float64), cell.weight_ih_l0,
                             cell.weight_hh_l0, cell.bias_ih_l0)
    assert step1[0].tolist() == pytest.approx(h1, abs=1e-12)
    # torch's GRU with the same numbers (bias_hh = 0): r * (W_hn H1) = [r1 h1_2, r2 h1_1] = [h1_2 / 2, 3 h1_1 / 4]:
    # each unit's own reset gate scales what it reads, where the chapter's scales the unit being read.
    gru = nn.GRU(1, 2, batch_first=True).double()
    with torch.no_grad():
        gru.weight_ih_l0.copy_(cell.weight_ih_l0)
        gru.weight_hh_l0.copy_(cell.weight_hh_l0)
        gru.bias_ih_l0.copy_(cell.bias_ih_l0)
        gru.bias_hh_l0.zero_()
    torch_h2 = [0.5 * h1[0] + 0.5 * math.tanh(0.5 * h1[1]), 0.5 * h1[1] + 0.5 * math.tanh(0.75 * h1[0])]
    assert gru(x)[0][0].flatten().tolist() == pytest.approx(h1 + torch_h2, abs=1e-12)
    assert abs(torch_h2[0] - h2[0]) > 0.02                      # the placement of R matters


def _chapter_numpy(x, w_ih, w_hh, b):
    """The chapter's equations with its own matrices: X W_x* (d, u), H W_h* (u, u), biases (u,)."""
    u = w_hh.shape[1]
    W_xr, W_xz, W_xh = (w_ih[i * u:(i + 1) * u].T for i in range(3))
    W_hr, W_hz, W_hh = (w_hh[i * u:(i + 1) * u].T for i in range(3))
    b_r, b_z, b_h = b[:u], b[u:2 * u], b[2 * u:]
    H = np.zeros((x.shape[0], u))
    states = []
    for t in range(x.shape[1]):
        X = x[:, t]
        R = sigmoid(X @ W_xr + H @ W_hr + b_r)
        Z = sigmoid(X @ W_xz + H @ W_hz + b_z)
        H_tilde = np.tanh(X @ W_xh + (R * H) @ W_hh + b_h)
        H = Z * H + (1 - Z) * H_tilde
        states.append(H)
    return np.stack(states, 1)


def _torch_formula_numpy(x, w_ih, w_hh, b_ih, b_hh):
    """torch.nn.GRU's documented formula: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""
    u = w_hh.shape[1]
    h = np.zeros((x.shape[0], u))
    states = []
    for t in range(x.shape[1]):
        gi, gh = x[:, t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        r = sigmoid(gi[:, :u] + gh[:, :u])
        z = sigmoid(gi[:, u:2 * u] + gh[:, u:2 * u])
        n = np.tanh(gi[:, 2 * u:] + r * gh[:, 2 * u:])
        h = (1 - z) * n + z * h
        states.append(h)
    return np.stack(states, 1)


def test_sequence_matches_numpy_and_differs_from_torch():
    rng = np.random.default_rng(3)
    d, u, n, length = 2, 3, 4, 5
    x = rng.normal(size=(n, length, d))
    w_ih, w_hh, b = rng.normal(size=(3 * u, d)), rng.normal(size=(3 * u, u)), rng.normal(size=3 * u)
    cell = _load(ChapterGRU(d, u).double(), w_ih, w_hh, b)
    out, h_n = cell(torch.from_numpy(x))
    expected = _chapter_numpy(x, w_ih, w_hh, b)
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(h_n[0].detach().numpy(), expected[:, -1], atol=1e-12)

    gru = nn.GRU(d, u, batch_first=True).double()
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b)):
            getattr(gru, name).copy_(torch.from_numpy(value))
        gru.bias_hh_l0.zero_()
    torch_out = gru(torch.from_numpy(x))[0].detach().numpy()
    np.testing.assert_allclose(torch_out, _torch_formula_numpy(x, w_ih, w_hh, b, np.zeros(3 * u)), atol=1e-12)
    assert np.abs(torch_out - expected).max() > 0.05             # same weights, another function

    # With the reset gates saturated at 1 (b_r = +40) and b_hn = 0 the two formulas coincide.
    b_open = b.copy()
    b_open[:u] = 40.0
    _load(cell, w_ih, w_hh, b_open)
    with torch.no_grad():
        gru.bias_ih_l0.copy_(torch.from_numpy(b_open))
    np.testing.assert_allclose(cell(torch.from_numpy(x))[0].detach().numpy(),
                               gru(torch.from_numpy(x))[0].detach().numpy(), atol=1e-12)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    cell = ChapterGRU(1, 4)
    out, _ = cell(torch.randn(3, 6, 1))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in cell.parameters())


def test_forecaster_cell_counts_and_keras_initialisers():
    from dllaunchpad.models.rnn_forecaster import RNNForecaster

    torch.manual_seed(0)
    opt = {"name": "adam", "lr": 0.001}
    chapter, torch_gru = RNNForecaster("chapter_gru", 5, opt), RNNForecaster("gru", 5, opt)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # one bias per gate: 3 * 5 * (1 + 5) + 3 * 5 + Dense(5 -> 1) = 90 + 15 + 6 = 111 (Keras, reset_after=False);
    # torch's GRU has two: 126.
    assert count(chapter) == 111 and count(torch_gru) == 126
    rnn = chapter.rnn
    assert torch.count_nonzero(rnn.bias_ih_l0) == 0                                   # Keras: zeros
    w = rnn.weight_hh_l0.detach()                                                     # (3u, u): orthogonal
    assert torch.allclose(w.T @ w, torch.eye(5), atol=1e-5)
    assert chapter(torch.randn(7, 100, 1)).shape == (7,)
    with pytest.raises(ValueError):
        RNNForecaster("chapter_gru", 5, opt, bidirectional=True)


def test_sunspots_gru_chapter_entry_is_sunspots_gru_with_the_chapter_cell(raw_params):
    exps = raw_params["experiments"]
    mine, theirs = dict(exps["sunspots_gru_chapter"]), dict(exps["sunspots_gru"])
    assert mine["chapter"] == "31.6.6" and mine["model"] == {**theirs["model"], "cell": "chapter_gru"}
    for key in ("family", "dataset", "optimizer", "trainer", "headline"):
        assert mine[key] == theirs[key], key
    assert mine["quick"]["trainer"] == theirs["quick"]["trainer"]
    # its seed comparison runs both cells, all else equal
    assert {v["model.cell"] for v in mine["variants"]["named"].values()} == {"chapter_gru", "gru"}
    assert all(len(v) == 1 for v in mine["variants"]["named"].values())
