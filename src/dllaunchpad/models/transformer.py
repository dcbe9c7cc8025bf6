"""The encoder-decoder transformer of chapter 31.7.3, written out.

- Sinusoidal positional encodings: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...).
- Scaled dot-product attention softmax(Q K^T / sqrt(d_k)) V and multi-head attention
  concat(head_1..head_h) W^O, head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V) (tests compare it
  with torch.nn.MultiheadAttention).
- Masks are boolean, True where attention is allowed: padding masks hide PAD keys; the causal
  mask lets decoder position t see positions <= t only.
- Encoder layer: self-attention and a position-wise feed-forward network; decoder layer: masked
  self-attention, cross-attention over the encoder output, feed-forward. Each sublayer has a
  residual connection and layer normalisation, after the residual as in Vaswani et al. (2017),
  or before the sublayer with ``norm_first`` (then a final normalisation closes each stack).
- Training (`Seq2SeqSet`): teacher forcing, the chapter's label-smoothed cross-entropy, and
  scheduled sampling; decoding: greedy and beam search.

Token ids: PAD 0, BOS 1, EOS 2, then the task's symbols.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.optim import build_optimizer
from dllaunchpad.models.dropout import Dropout
from dllaunchpad.models.epoch_logging import EpochLoggingModule

PAD, BOS, EOS = 0, 1, 2
SPECIALS = 3


def sinusoidal_positional_encoding(length: int, d_model: int) -> torch.Tensor:
    """(length, d_model): PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(same)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, two_i / d_model)
    pe = torch.zeros(length, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.float()


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None,
                                 dropout: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d_k)) v; `mask` (broadcast to (..., Lq, Lk)) is True where a query may
    attend to a key. Returns (output, attention weights)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    used = dropout(weights) if dropout is not None else weights
    return used @ v, weights


class MultiHeadAttention(nn.Module):
    """h heads of width d_k = d_model / h; W^Q, W^K, W^V hold the h heads' projections side by
    side, W^O maps the concatenated heads back to d_model."""

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads, self.d_k = heads, d_model // heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.d_k).transpose(1, 2)  # (B, h, L, d_k)

    def forward(self, query, key, value, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, Lq, d), key/value (B, Lk, d); mask broadcastable to (B, h, Lq, Lk).
        Returns (output (B, Lq, d), weights (B, h, Lq, Lk))."""
        q, k, v = self._split(self.w_q(query)), self._split(self.w_k(key)), self._split(self.w_v(value))
        out, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)
        b, _, lq, _ = out.shape
        return self.w_o(out.transpose(1, 2).reshape(b, lq, self.heads * self.d_k)), weights


def padding_mask(tokens: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, L): True at real (non-PAD) key positions."""
    return (tokens != PAD)[:, None, None, :]


def causal_mask(length: int, device=None) -> torch.Tensor:
    """(1, 1, L, L): position t may attend to positions <= t."""
    return torch.tril(torch.ones(length, length, dtype=torch.bool, device=device))[None, None]


class _Residual(nn.Module):
    """x + dropout(f(x)) with layer normalisation after (post-LN) or before f (pre-LN)."""

    def __init__(self, d_model: int, dropout: float, norm_first: bool):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x, fn):
        if self.norm_first:
            out, extra = fn(self.norm(x))
            return x + self.dropout(out), extra
        out, extra = fn(x)
        return self.norm(x + self.dropout(out)), extra


def _feed_forward(d_model: int, d_ff: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), Dropout(dropout), nn.Linear(d_ff, d_model))


class EncoderLayer(nn.Module):
    def __init__(self, d_model, heads, d_ff, dropout, norm_first):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, heads, dropout)
        self.ff = _feed_forward(d_model, d_ff, dropout)
        self.r1, self.r2 = _Residual(d_model, dropout, norm_first), _Residual(d_model, dropout, norm_first)

    def forward(self, x, mask):
        x, weights = self.r1(x, lambda h: self.attn(h, h, h, mask))
        x, _ = self.r2(x, lambda h: (self.ff(h), None))
        return x, weights


class DecoderLayer(nn.Module):
    def __init__(self, d_model, heads, d_ff, dropout, norm_first):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, heads, dropout)
        self.ff = _feed_forward(d_model, d_ff, dropout)
        self.r1, self.r2, self.r3 = (_Residual(d_model, dropout, norm_first) for _ in range(3))

    def forward(self, y, memory, self_mask, memory_mask):
        y, _ = self.r1(y, lambda h: self.self_attn(h, h, h, self_mask))
        y, cross = self.r2(y, lambda h: self.cross_attn(h, memory, memory, memory_mask))
        y, _ = self.r3(y, lambda h: (self.ff(h), None))
        return y, cross


class Transformer(nn.Module):
    """`spec`: d_model, heads, d_ff, layers (encoder and decoder each), dropout, norm_first;
    `vocab`: token count (PAD, BOS, EOS included); `max_len`: longest sequence + 2."""

    def __init__(self, spec: dict, vocab: int, max_len: int):
        super().__init__()
        d = spec["d_model"]
        self.d_model, self.vocab = d, vocab
        self.src_embed = nn.Embedding(vocab, d, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(vocab, d, padding_idx=PAD)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d), persistent=False)
        self.dropout = Dropout(spec["dropout"])
        args = (d, spec["heads"], spec["d_ff"], spec["dropout"], spec["norm_first"])
        self.encoder = nn.ModuleList(EncoderLayer(*args) for _ in range(spec["layers"]))
        self.decoder = nn.ModuleList(DecoderLayer(*args) for _ in range(spec["layers"]))
        self.enc_norm = nn.LayerNorm(d) if spec["norm_first"] else nn.Identity()
        self.dec_norm = nn.LayerNorm(d) if spec["norm_first"] else nn.Identity()
        self.out = nn.Linear(d, vocab)

    def _embed(self, embedding: nn.Embedding, tokens: torch.Tensor) -> torch.Tensor:
        # Vaswani et al. scale the embeddings by sqrt(d_model) before adding the encodings.
        return self.dropout(embedding(tokens) * math.sqrt(self.d_model) + self.pe[: tokens.size(1)])

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        x, mask = self._embed(self.src_embed, src), padding_mask(src)
        for layer in self.encoder:
            x, _ = layer(x, mask)
        return self.enc_norm(x)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor,
               return_attention: bool = False):
        """Logits (B, T, vocab) for every decoder position (and the cross-attention weights of
        each layer, (B, h, T, S), when asked)."""
        y = self._embed(self.tgt_embed, tgt_in)
        self_mask = causal_mask(tgt_in.size(1), tgt_in.device) & padding_mask(tgt_in)
        memory_mask = padding_mask(src)
        cross = []
        for layer in self.decoder:
            y, weights = layer(y, memory, self_mask, memory_mask)
            cross.append(weights)
        logits = self.out(self.dec_norm(y))
        return (logits, cross) if return_attention else logits

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, self.encode(src), src)

    # -- decoding ----------------------------------------------------------------------------

    def _next_logprobs(self, prefix, memory, src) -> torch.Tensor:
        """Log-probabilities of the next token; PAD and BOS are never generated."""
        logp = torch.log_softmax(self.decode(prefix, memory, src)[:, -1], dim=-1)
        logp[:, PAD] = float("-inf")
        logp[:, BOS] = float("-inf")
        return logp

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_len: int) -> torch.Tensor:
        """(B, <= max_len) tokens after BOS: the most probable token at each step; PAD after EOS."""
        memory = self.encode(src)
        seqs = torch.full((len(src), 1), BOS, dtype=torch.long, device=src.device)
        finished = torch.zeros(len(src), dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            token = self._next_logprobs(seqs, memory, src).argmax(-1)
            token = torch.where(finished, torch.full_like(token, PAD), token)
            seqs = torch.cat([seqs, token[:, None]], 1)
            finished |= token == EOS
            if finished.all():
                break
        return seqs[:, 1:]

    @torch.no_grad()
    def beam_search(self, src: torch.Tensor, max_len: int, beam: int, length_penalty: float = 0.0) -> torch.Tensor:
        """(B, <= max_len) tokens after BOS: of `beam` hypotheses kept by summed log-probability,
        the one with the best score / ((5 + length) / 6)^length_penalty (Wu et al. 2016; 0 = no
        length normalisation). Finished hypotheses stay in the beam, extended by PAD at no cost."""
        b, k, v = len(src), beam, self.vocab
        memory = self.encode(src).repeat_interleave(k, 0)
        src_k = src.repeat_interleave(k, 0)
        seqs = torch.full((b * k, 1), BOS, dtype=torch.long, device=src.device)
        scores = torch.zeros(b, k, device=src.device)
        scores[:, 1:] = float("-inf")  # all beams start identical: keep one
        scores = scores.view(-1)
        finished = torch.zeros(b * k, dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            logp = self._next_logprobs(seqs, memory, src_k)
            logp[finished] = float("-inf")
            logp[finished, PAD] = 0.0
            top, idx = (scores[:, None] + logp).view(b, k * v).topk(k, dim=1)
            parent = (torch.arange(b, device=src.device)[:, None] * k + idx // v).view(-1)
            token = (idx % v).view(-1)
            seqs = torch.cat([seqs[parent], token[:, None]], 1)
            finished = finished[parent] | (token == EOS)
            scores = top.view(-1)
            if finished.all():
                break
        lengths = (seqs[:, 1:] != PAD).sum(1).float()
        normalised = scores / ((5 + lengths) / 6) ** length_penalty
        best = normalised.view(b, k).argmax(1) + torch.arange(b, device=src.device) * k
        return seqs[best, 1:]


def smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, epsilon: float) -> torch.Tensor:
    """The chapter's label smoothing: the target distribution puts 1 - eps + eps/V on the correct
    token and eps/V on every other (V = all vocabulary entries); mean over non-PAD targets.
    Equals F.cross_entropy(..., label_smoothing=eps, ignore_index=PAD)."""
    logp = torch.log_softmax(logits, dim=-1)
    nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    uniform = -logp.mean(-1)
    loss = (1 - epsilon) * nll + epsilon * uniform
    keep = target != PAD
    return loss[keep].mean()


def sampling_probability(schedule: dict, epoch: int, epochs: int) -> float:
    """Scheduled sampling (Bengio et al. 2015): the probability of feeding the model's own
    previous prediction instead of the true token, at `epoch` (0-based) of `epochs`.

    none: 0; linear: rises from 0 at the first epoch to max_prob at the last;
    inverse_sigmoid: max_prob * (1 - k / (k + exp(epoch / k))), Bengio's decay of the
    teacher-forcing probability, scaled to max_prob."""
    kind = schedule["schedule"]
    if kind == "none":
        return 0.0
    if kind == "linear":
        return schedule["max_prob"] * (epoch / (epochs - 1) if epochs > 1 else 1.0)
    if kind == "inverse_sigmoid":
        k = schedule["k"]
        return schedule["max_prob"] * (1 - k / (k + math.exp(epoch / k)))
    raise ValueError(f"unknown scheduled-sampling schedule {kind!r} (known: none, linear, inverse_sigmoid)")


class Seq2SeqSet(EpochLoggingModule):
    """One transformer per variant (each with its own label smoothing), trained side by side on
    the same batches with teacher forcing and the shared scheduled-sampling schedule. Losses are
    summed; the variants share no parameters, so each is trained as if alone (Adam is
    element-wise)."""

    def __init__(self, model: dict, vocab: int, max_len: int, optimizer: dict, epochs: int):
        super().__init__()
        self.variants = dict(model["variants"])
        self.models = nn.ModuleDict({name: Transformer(model, vocab, max_len) for name in self.variants})
        self.sampling = model["scheduled_sampling"]
        self.optimizer_spec = optimizer
        self.epochs = epochs

    def _decoder_input(self, model, src, tgt_in, p: float) -> torch.Tensor:
        """Teacher forcing, with each true previous token replaced by the model's own (greedy)
        prediction of it with probability p (two passes: predict, then train on the mix)."""
        if p <= 0:
            return tgt_in
        with torch.no_grad():
            predicted = model(src, tgt_in).argmax(-1)  # predicted[:, t] is the guess for tgt_in[:, t + 1]
        own = torch.cat([tgt_in[:, :1], predicted[:, :-1]], 1)
        replace = (torch.rand(tgt_in.shape, device=tgt_in.device) < p) & (tgt_in != PAD)
        replace[:, 0] = False  # BOS stays
        return torch.where(replace, own, tgt_in)

    def training_step(self, batch, batch_idx):
        src, tgt_in, tgt_out = batch
        p = sampling_probability(self.sampling, self.current_epoch, self.epochs)
        total = src.new_zeros((), dtype=torch.float32)
        for name, model in self.models.items():
            logits = model(src, self._decoder_input(model, src, tgt_in, p))
            loss = smoothed_cross_entropy(logits, tgt_out, self.variants[name]["label_smoothing"])
            total = total + loss
            self.log(f"train_{name}_loss", loss, on_step=False, on_epoch=True)
        self.log("train_sampling_prob", p, on_step=False, on_epoch=True)
        return total

    def validation_step(self, batch, batch_idx):
        src, tgt_in, tgt_out = batch
        keep = tgt_out != PAD
        for name, model in self.models.items():
            logits = model(src, tgt_in)
            # The plain NLL (no smoothing), so that variants with different eps compare.
            self.log(f"val_{name}_nll", F.cross_entropy(logits[keep], tgt_out[keep]), on_step=False, on_epoch=True)
            self.log(f"val_{name}_token_accuracy", (logits.argmax(-1)[keep] == tgt_out[keep]).float().mean(),
                     on_step=False, on_epoch=True)

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_spec)
