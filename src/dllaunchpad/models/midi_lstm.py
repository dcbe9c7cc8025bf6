"""Chapter 31.6.7: an LSTM that predicts the next note (pitch, step, duration) of a piano piece.

LSTM(input 3, hidden 128, batch_first) -> Dropout(0.1) -> three linear heads on the last time
step: pitch logits (128 classes), step (1) and duration (1). The chapter's model is PyTorch
already, so torch's default initialisation and Adam's eps 1e-8 are the chapter's too.

Loss = cross-entropy(pitch) + MSE(step) + MSE(duration), unweighted, as in the chapter and the
issue. Inputs are the raw features (pitch 0-127 as a float, step and duration in seconds), as the
chapter feeds them.

Exercise 31.9.2 varies the model: ``layers`` stacks LSTMs (torch's num_layers; the same dropout
between layers as after the last one, as Keras' LSTM -> Dropout -> LSTM stacking does), and
``loss_weights`` weights the three terms of the training objective. The objective is what
``loss`` logs; ``unweighted_loss`` is always the chapter's plain sum, so runs with different
weights can be compared on one scale.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.optim import build_optimizer
from dllaunchpad.models.dropout import Dropout
from dllaunchpad.models.epoch_logging import EpochLoggingModule

N_FEATURES = 3  # pitch, step, duration


TERMS = ("pitch", "step", "duration")


class MidiLSTM(EpochLoggingModule):
    def __init__(self, hidden: int, vocab: int, dropout: float, optimizer: dict, *, layers: int = 1,
                 loss_weights: dict[str, float] | None = None):
        super().__init__()
        self.optimizer_spec = optimizer
        weights = {t: 1.0 for t in TERMS} | dict(loss_weights or {})
        if set(weights) != set(TERMS):
            raise ValueError(f"loss_weights: unknown term(s) {sorted(set(weights) - set(TERMS))}; the terms are "
                             f"{list(TERMS)}")
        self.loss_weights = {t: float(weights[t]) for t in TERMS}
        # torch applies num_layers' dropout between layers only (none after the last: self.dropout)
        self.rnn = nn.LSTM(N_FEATURES, hidden, num_layers=layers, batch_first=True,
                           dropout=dropout if layers > 1 else 0.0)
        self.dropout = Dropout(dropout)
        self.fc_pitch = nn.Linear(hidden, vocab)
        self.fc_step = nn.Linear(hidden, 1)
        self.fc_duration = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (batch, time, 3) -> {"pitch": (batch, vocab) logits, "step": (batch,), "duration": (batch,)}."""
        out, _ = self.rnn(x)
        last = self.dropout(out[:, -1, :])  # dropout is elementwise: same as the chapter's on every step
        return {"pitch": self.fc_pitch(last), "step": self.fc_step(last).squeeze(-1),
                "duration": self.fc_duration(last).squeeze(-1)}

    def losses(self, pred: dict, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three terms, their plain sum (the chapter's loss) and the weighted sum (the
        objective, = the plain sum at the default weights) for target notes (batch, 3)."""
        parts = {"pitch": F.cross_entropy(pred["pitch"], target[:, 0].long()),
                 "step": F.mse_loss(pred["step"], target[:, 1]),
                 "duration": F.mse_loss(pred["duration"], target[:, 2])}
        parts["unweighted"] = parts["pitch"] + parts["step"] + parts["duration"]
        parts["loss"] = sum(self.loss_weights[t] * parts[t] for t in TERMS)
        return parts

    def _step(self, batch, prefix: str) -> torch.Tensor:
        (windows,) = batch  # (batch, seq_length + 1, 3): inputs, then the target note
        pred = self(windows[:, :-1])
        target = windows[:, -1]
        parts = self.losses(pred, target)
        n = len(windows)
        self.log(f"{prefix}_loss", parts["loss"], on_step=False, on_epoch=True, prog_bar=True, batch_size=n)
        for name in (*TERMS, "unweighted"):
            self.log(f"{prefix}_{name}_loss", parts[name], on_step=False, on_epoch=True, batch_size=n)
        accuracy = (pred["pitch"].argmax(-1) == target[:, 0].long()).float().mean()
        self.log(f"{prefix}_pitch_accuracy", accuracy, on_step=False, on_epoch=True, batch_size=n)
        return parts["loss"]

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_spec)


def parameter_count(hidden: int, vocab: int, inputs: int = N_FEATURES, layers: int = 1) -> int:
    """By hand: an LSTM layer has 4 gates, each with input and recurrent weights and, in torch,
    two bias vectors (b_ih and b_hh); a stacked layer's input is the layer below's hidden state;
    then the three heads."""
    lstm = 4 * (hidden * (inputs + hidden) + 2 * hidden) + (layers - 1) * 4 * (hidden * 2 * hidden + 2 * hidden)
    return lstm + (hidden * vocab + vocab) + 2 * (hidden + 1)


@torch.no_grad()
def generate_notes(model: MidiLSTM, seed: torch.Tensor, n_notes: int, *, temperature: float,
                   generator: torch.Generator, quantum: float, max_silence: float) -> torch.Tensor:
    """Continue ``seed`` (seq_length, 3) by ``n_notes`` notes; returns float32 (n_notes, 3).

    As the chapter's ``generate_notes``: the pitch is drawn from softmax(logits / temperature)
    (here with a seeded ``generator``, so a run repeats exactly); step and duration are the
    network's outputs, step capped at ``max_silence`` and both rounded to the ``quantum`` grid.
    Unlike the chapter we also clamp both at 0 (a regression head can go negative; a note cannot
    start before the previous one or last less than nothing). Each new note is appended to the
    window and the oldest dropped.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    model.eval()
    device = next(model.parameters()).device
    window = seed.to(device=device, dtype=torch.float32).clone()
    out = torch.empty(n_notes, N_FEATURES)
    for i in range(n_notes):
        pred = model(window.unsqueeze(0))
        probs = F.softmax(pred["pitch"][0].double().cpu() / temperature, dim=-1)  # float64: stable sums
        pitch = torch.multinomial(probs, 1, generator=generator).item()
        step = min(max(pred["step"].item(), 0.0), max_silence)
        duration = max(pred["duration"].item(), 0.0)
        # The chapter's rule, round(x / quantum) * quantum (Python's round: halves to even).
        note = [float(pitch), round(step / quantum) * quantum, round(duration / quantum) * quantum]
        out[i] = torch.tensor(note)
        window = torch.cat([window[1:], out[i:i + 1].to(device)])
    return out
