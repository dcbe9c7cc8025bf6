"""One-step-ahead forecasters of chapter 31.8.5 (sunspots), with the RNN variants of 31.6:
a recurrent layer (LSTM, GRU, optionally bidirectional) whose final state goes through one
Dense(1) layer. Input (N, L, 1), output (N,).

Keras translation:
- `LSTM(units, return_sequences=False)` -> nn.LSTM(batch_first=True), keeping the final hidden
  state. Keras' initialisers: kernel Glorot-uniform (torch's weight_ih is the transposed kernel,
  and xavier_uniform_ on it uses the same fans: input dim and 4*units), recurrent kernel
  orthogonal (orthogonal_ on torch's (4*units, units) weight_hh = the transpose of an orthogonal
  (units, 4*units) matrix), biases zero except `unit_forget_bias=True`: the forget gate's bias
  starts at 1. Gate order is i, f, c, o in Keras and i, f, g, o in torch: the forget gate is the
  second block in both.
- torch has two bias vectors (bias_ih and bias_hh) where Keras has one; only their sum matters,
  so we put Keras' bias in bias_ih and start bias_hh at zero. The count of trainable numbers
  therefore exceeds Keras' by 4*units per direction (LSTM) resp. matches it (GRU: Keras'
  default reset_after=True also keeps two biases, 3*units each, and is torch's GRU formula).
- GRU: same initialisers (no forget bias); `Bidirectional(LSTM(u))` concatenates the forward
  final state and the backward layer's final state (its state after reading the sequence from
  the end back to the start) = torch's h_n[0] and h_n[1].
- `Dense(1)` -> keras_dense; loss 'mae' -> F.l1_loss.
- `dropout` (exercise 31.9.7, default 0): Keras' `Dropout(rate)` layer between the recurrent
  layer and Dense(1), on the final state (nn.LSTM's own `dropout` acts between stacked layers
  only, and there is one layer). At 0 no dropout module exists, so the default model and its
  random draws are exactly those without the option.
- cell "chapter_gru": the GRU as chapter 31.6.6 writes it, reset gate before the recurrent
  product (models/chapter_gru.py; Keras' `reset_after=False`), one bias per gate: 3*units fewer
  numbers than torch's GRU. Same initialisers (its parameters carry torch's names and layouts).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.models.chapter_gru import ChapterGRU
from dllaunchpad.models.dropout import Dropout
from dllaunchpad.models.keras_init import keras_dense
from dllaunchpad.models.supervised import SupervisedModule

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "chapter_gru": ChapterGRU}


def keras_recurrent_init(rnn: nn.LSTM | nn.GRU | ChapterGRU) -> None:
    """Keras' LSTM/GRU initialisers on a torch recurrent layer (see the module docstring)."""
    gates = 4 if isinstance(rnn, nn.LSTM) else 3
    for name, p in rnn.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(p)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(p)
        elif name.startswith("bias"):
            nn.init.zeros_(p)
            if gates == 4 and name.startswith("bias_ih"):
                with torch.no_grad():
                    p[rnn.hidden_size:2 * rnn.hidden_size] = 1.0  # unit_forget_bias=True


class RNNForecaster(SupervisedModule):
    def __init__(self, cell: str, units: int, optimizer: dict, bidirectional: bool = False, input_size: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"model.cell: {cell!r} is not one of {sorted(CELLS)}")
        self.cell = cell
        self.rnn = CELLS[cell](input_size, units, batch_first=True, bidirectional=bidirectional)
        keras_recurrent_init(self.rnn)
        self.dropout = Dropout(dropout) if dropout > 0 else None
        self.out = keras_dense(units * (2 if bidirectional else 1), 1)
        self.optimizer_spec = dict(optimizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(x)
        h_n = state[0] if self.cell == "lstm" else state  # (directions, N, units)
        final = torch.cat(list(h_n), dim=1)               # [forward, backward] like Keras' concat
        if self.dropout is not None:
            final = self.dropout(final)
        return self.out(final).squeeze(1)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        loss = F.l1_loss(self(x), y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        return loss
