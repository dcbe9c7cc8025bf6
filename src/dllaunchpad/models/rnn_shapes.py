"""The four RNN shapes of chapter 31.6.1-31.6.4, each a small LightningModule.

All use one recurrent layer f (`cell`: "rnn" is the chapter's h_t = tanh(W_xh x_t + W_hh h_{t-1}
+ b_h), torch's nn.RNN; "gru" and "lstm" the gated cells of 31.6.6) and a linear read-out w h + b,
whose softmax is the chapter's Categorical(y | softmax(w h + b)); training minimises its negative
log-likelihood (cross-entropy), with teacher forcing where outputs are fed back.

- `VectorToSequence` (31.6.1): h_t = f(h_{t-1}, [X; y_{t-1}]), h_0 = 0: the fixed vector X and
  the previous output enter every step; y_0 is a BOS token, the sequence ends with EOS (so its
  length is the model's choice). `generate` feeds back its own argmax.
- `SequenceToVector` (31.6.2): reads the whole (variable-length) sequence, outputs nothing until
  the end: p(y | X_{1:T}) = softmax(w h_T + b). Padding is packed away, so h_T is the state
  after each sequence's own last element.
- `AlignedSequence` (31.6.3): one output per input step, y_t from h_t = f(h_{t-1}, x_t).
- `EncoderDecoder` (31.6.4): an encoder (sequence-to-vector) compresses the source into
  h_T^enc, which is the decoder's first state h_1^dec; the decoder (vector-to-sequence) then
  runs on its previous outputs alone, h_t^dec = f(h_{t-1}^dec, y_{t-1}). No attention: the
  source reaches the decoder only through that one vector.

Token conventions of the sequence tasks are the callers' (experiments/rnn_shapes.py); targets
equal to IGNORE (-100) are left out of losses and accuracies.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from dllaunchpad.models.supervised import SupervisedModule

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
IGNORE = -100


def recurrent(cell: str, input_size: int, hidden: int) -> nn.RNNBase:
    if cell not in CELLS:
        raise ValueError(f"model.cell: {cell!r} is not one of {sorted(CELLS)}")
    return CELLS[cell](input_size, hidden, batch_first=True)


def last_hidden(state) -> torch.Tensor:
    """(N, hidden): the top layer's final h from an RNN/GRU state or an LSTM's (h, c)."""
    return (state[0] if isinstance(state, tuple) else state)[-1]


def masked_scores(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(cross-entropy, accuracy) over the targets that are not IGNORE."""
    flat_logits, flat_target = logits.reshape(-1, logits.size(-1)), target.reshape(-1)
    keep = flat_target != IGNORE
    loss = F.cross_entropy(flat_logits[keep], flat_target[keep])
    accuracy = (flat_logits[keep].argmax(-1) == flat_target[keep]).float().mean()
    return loss, accuracy


class _Classifier(SupervisedModule):
    """`_step` for modules whose batch is (*inputs, target): logs loss and accuracy."""

    def __init__(self, optimizer: dict):
        super().__init__()
        self.optimizer_spec = dict(optimizer)

    def _step(self, batch, stage: str) -> torch.Tensor:
        *inputs, target = batch
        loss, accuracy = masked_scores(self(*inputs), target)
        n = len(target)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=n)
        self.log(f"{stage}_token_accuracy" if target.dim() > 1 else f"{stage}_accuracy", accuracy,
                 on_step=False, on_epoch=True, batch_size=n)
        return loss


class VectorToSequence(_Classifier):
    """x (N, vector_size) and the previous tokens y_prev (N, T) -> logits (N, T, vocab)."""

    def __init__(self, cell: str, hidden: int, vector_size: int, vocab: int, optimizer: dict):
        super().__init__(optimizer)
        self.vocab = vocab                           # output tokens; BOS is one more input token
        self.bos = vocab
        self.rnn = recurrent(cell, vector_size + vocab + 1, hidden)
        self.out = nn.Linear(hidden, vocab)

    def _inputs(self, x: torch.Tensor, y_prev: torch.Tensor) -> torch.Tensor:
        """[X; y_{t-1}] at every step: the vector repeated beside the one-hot previous token."""
        steps = y_prev.size(1)
        return torch.cat([x[:, None].expand(-1, steps, -1), F.one_hot(y_prev, self.vocab + 1).to(x.dtype)], -1)

    def forward(self, x: torch.Tensor, y_prev: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self._inputs(x, y_prev))
        return self.out(out)

    @torch.no_grad()
    def generate(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """(N, steps) greedy tokens, each fed back as the next step's y_{t-1}."""
        token = torch.full((len(x), 1), self.bos, dtype=torch.long, device=x.device)
        state, tokens = None, []
        for _ in range(steps):
            out, state = self.rnn(self._inputs(x, token), state)
            token = self.out(out).argmax(-1)
            tokens.append(token)
        return torch.cat(tokens, 1)


class SequenceToVector(_Classifier):
    """tokens (N, L) with lengths (N,) -> class logits (N, classes) from h_T alone."""

    def __init__(self, cell: str, hidden: int, symbols: int, classes: int, optimizer: dict):
        super().__init__(optimizer)
        self.symbols = symbols
        self.rnn = recurrent(cell, symbols, hidden)
        self.out = nn.Linear(hidden, classes)

    def final_state(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = F.one_hot(tokens, self.symbols).float()
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        return last_hidden(state)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.out(self.final_state(tokens, lengths))


class AlignedSequence(_Classifier):
    """tokens (N, L) -> logits (N, L, classes), y_t from h_t. Padding after a sequence's end
    cannot reach its earlier steps (the recurrence runs forward), so it is only masked."""

    def __init__(self, cell: str, hidden: int, symbols: int, classes: int, optimizer: dict):
        super().__init__(optimizer)
        self.symbols = symbols
        self.rnn = recurrent(cell, symbols, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(F.one_hot(tokens, self.symbols).float())
        return self.out(out)


class EncoderDecoder(_Classifier):
    """src (N, S), tgt_in (N, T) = BOS + target -> logits (N, T, vocab); `pad` marks padding in
    both (the transformer task's tokens: PAD, BOS, EOS, then the symbols)."""

    def __init__(self, cell: str, hidden: int, embedding: int, vocab: int, pad: int, bos: int, eos: int,
                 optimizer: dict):
        super().__init__(optimizer)
        self.pad, self.bos, self.eos = pad, bos, eos
        self.src_embed = nn.Embedding(vocab, embedding, padding_idx=pad)
        self.tgt_embed = nn.Embedding(vocab, embedding, padding_idx=pad)
        self.encoder = recurrent(cell, embedding, hidden)
        self.decoder = recurrent(cell, embedding, hidden)
        self.out = nn.Linear(hidden, vocab)

    def encode(self, src: torch.Tensor):
        """The encoder's final state after each source's last real token: h_T^enc (the whole
        state, (h, c) for an LSTM), which becomes h_1^dec."""
        lengths = (src != self.pad).sum(1)
        packed = pack_padded_sequence(self.src_embed(src), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.encoder(packed)
        return state

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        out, _ = self.decoder(self.tgt_embed(tgt_in), self.encode(src))
        return self.out(out)

    def _step(self, batch, stage: str) -> torch.Tensor:
        src, tgt_in, tgt_out = batch
        return super()._step((src, tgt_in, tgt_out.masked_fill(tgt_out == self.pad, IGNORE)), stage)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_len: int) -> torch.Tensor:
        """(N, <= max_len) tokens after BOS, PAD after EOS: the layout the transformer's
        `greedy` returns, so experiments/transformer.sequence_scores scores both alike. PAD and
        BOS are never generated."""
        state = self.encode(src)
        token = torch.full((len(src), 1), self.bos, dtype=torch.long, device=src.device)
        finished = torch.zeros(len(src), dtype=torch.bool, device=src.device)
        tokens = []
        for _ in range(max_len):
            out, state = self.decoder(self.tgt_embed(token), state)
            logits = self.out(out[:, -1])
            logits[:, [self.pad, self.bos]] = float("-inf")
            token = torch.where(finished, torch.full_like(finished, self.pad, dtype=torch.long), logits.argmax(-1))
            tokens.append(token)
            finished |= token == self.eos
            token = token[:, None]
            if finished.all():
                break
        return torch.stack(tokens, 1)
