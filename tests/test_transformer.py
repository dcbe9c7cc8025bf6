"""The written-out transformer (chapter 31.7.3): positional encodings, attention against
torch's, masks, label smoothing, scheduled sampling, decoding, and the task's data and scores."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.experiments import transformer as T
from dllaunchpad.models.transformer import BOS, EOS, PAD, SPECIALS, MultiHeadAttention, Transformer, sampling_probability, sinusoidal_positional_encoding, smoothed_cross_entropy

SPEC = {"d_model": 16, "heads": 4, "d_ff": 32, "layers": 2, "dropout": 0.0, "norm_first": True}


def test_positional_encoding_formula():
    pe = sinusoidal_positional_encoding(50, 16)
    assert pe.shape == (50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert sinusoidal_positional_encoding(3, 5).shape == (3, 5)   # odd widths too


def test_multi_head_attention_matches_torch():
    torch.manual_seed(0)
    ours, ref = MultiHeadAttention(16, 4), nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
        ref.out_proj.weight.copy_(ours.w_o.weight)
        ref.out_proj.bias.copy_(ours.w_o.bias)
    q, kv = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[1, 5:] = True                                   # torch: True = ignore this key
    out, w = ours(q, kv, kv, mask=~pad[:, None, None, :])
    ref_out, ref_w = ref(q, kv, kv, key_padding_mask=pad, average_attn_weights=False)
    assert torch.allclose(out, ref_out, atol=1e-5)
    assert torch.allclose(w, ref_w, atol=1e-6)
    assert w[1, :, :, 5:].abs().max() == 0              # padded keys get no attention


def _model(seed=0):
    torch.manual_seed(seed)
    return Transformer(SPEC, vocab=13, max_len=16).eval()


def test_causal_mask_future_tokens_do_not_change_earlier_outputs():
    model = _model()
    src = torch.tensor([[5, 4, 3, 9, PAD]])
    tgt = torch.tensor([[BOS, 3, 4, 5, 9]])
    changed = tgt.clone()
    changed[0, 3:] = torch.tensor([11, 12])
    with torch.no_grad():
        a, b = model(src, tgt), model(src, changed)
    assert torch.allclose(a[0, :3], b[0, :3], atol=1e-6)   # positions before the change agree
    assert not torch.allclose(a[0, 3:], b[0, 3:], atol=1e-3)


def test_padding_is_ignored():
    model = _model()
    src = torch.tensor([[5, 4, 3]])
    tgt = torch.tensor([[BOS, 3, 4]])
    with torch.no_grad():
        short = model(src, tgt)
        padded = model(F.pad(src, (0, 4), value=PAD), F.pad(tgt, (0, 2), value=PAD))
    assert torch.allclose(short, padded[:, :3], atol=1e-5)


def test_beam_width_one_equals_greedy():
    model = _model(1)
    src = torch.randint(SPECIALS, 13, (20, 6))
    src[::3, 4:] = PAD
    greedy = model.greedy(src, 8)
    beam = model.beam_search(src, 8, beam=1)
    assert torch.equal(greedy, beam)
    assert torch.equal(model.beam_search(src, 8, beam=1, length_penalty=1.0), greedy)


def test_beam_search_finds_at_least_the_greedy_log_probability():
    model = _model(2)
    src = torch.randint(SPECIALS, 13, (10, 5))

    def logprob(seqs):
        tgt_in = torch.cat([torch.full((len(seqs), 1), BOS), seqs[:, :-1]], 1)
        with torch.no_grad():
            logp = torch.log_softmax(model(src, tgt_in), -1)
        keep = seqs != PAD
        return (logp.gather(-1, seqs.unsqueeze(-1)).squeeze(-1) * keep).sum(1)

    greedy, beam = model.greedy(src, 6), model.beam_search(src, 6, beam=4)
    width = max(greedy.size(1), beam.size(1))
    greedy, beam = (F.pad(s, (0, width - s.size(1)), value=PAD) for s in (greedy, beam))
    finished = ((greedy == EOS).any(1)) & ((beam == EOS).any(1))
    assert (logprob(beam)[finished] >= logprob(greedy)[finished] - 1e-4).all()


def test_label_smoothing_is_the_chapter_formula_and_torchs():
    torch.manual_seed(0)
    logits = torch.randn(4, 6, 13)
    target = torch.randint(SPECIALS, 13, (4, 6))
    target[0, 4:] = PAD
    for eps in (0.0, 0.1, 0.3):
        ours = smoothed_cross_entropy(logits, target, eps)
        ref = F.cross_entropy(logits.reshape(-1, 13), target.reshape(-1), label_smoothing=eps, ignore_index=PAD)
        assert ours.item() == pytest.approx(ref.item(), rel=1e-5)
    # by hand: target distribution 1 - eps + eps/V on the true token, eps/V elsewhere
    logp = torch.log_softmax(logits[1, 0], -1)
    y = torch.full((13,), 0.1 / 13)
    y[target[1, 0]] += 0.9
    assert smoothed_cross_entropy(logits[1:2, :1], target[1:2, :1], 0.1).item() == pytest.approx(
        float(-(y * logp).sum()), rel=1e-5)


def test_scheduled_sampling_schedules():
    assert sampling_probability({"schedule": "none", "max_prob": 0.5}, 3, 10) == 0
    lin = {"schedule": "linear", "max_prob": 0.3}
    assert [round(sampling_probability(lin, e, 4), 6) for e in range(4)] == [0.0, 0.1, 0.2, 0.3]
    inv = {"schedule": "inverse_sigmoid", "max_prob": 1.0, "k": 2.0}
    values = [sampling_probability(inv, e, 10) for e in range(10)]
    assert values == sorted(values) and values[0] == pytest.approx(1 - 2 / 3)
    with pytest.raises(ValueError, match="schedule 'cosine'"):
        sampling_probability({"schedule": "cosine", "max_prob": 0.1}, 0, 2)


def test_task_data_is_disjoint_and_encoded():
    data = {"task": "sort", "symbols": 10, "min_len": 3, "max_len": 6, "train": 300, "val": 50, "test": 50}
    splits = T.make_splits(data, seed=0)
    assert splits["train"][0].shape == (300, 6) and splits["train"][1].shape == (300, 7)
    rows = {name: {tuple(r[r != PAD].tolist()) for r in s[0]} for name, s in splits.items()}
    assert not rows["train"] & rows["test"] and not rows["val"] & rows["test"] and not rows["train"] & rows["val"]
    src, tgt_in, tgt_out = (t[0] for t in splits["test"])
    digits = src[src != PAD]
    assert tgt_out[: len(digits)].tolist() == sorted(digits.tolist()) and tgt_out[len(digits)] == EOS
    assert tgt_in[0] == BOS and tgt_in[1: len(digits) + 1].tolist() == sorted(digits.tolist())
    assert torch.equal(T.make_splits(data, seed=0)["test"][0], splits["test"][0])   # seeded


def test_sequence_scores_and_calibration():
    tgt = torch.tensor([[4, 5, EOS, PAD], [3, 3, 6, EOS]])
    pred = torch.tensor([[4, 5, EOS], [3, 6, EOS]])            # second: a token missing
    exact, token = T.sequence_scores(pred, tgt)
    assert exact == 0.5 and token == pytest.approx(4 / 7)
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    target = torch.tensor([0, 1, 0, 0])
    cal = T.calibration(probs, target, bins=10)
    # bin 0.9: accuracy 0.5 at confidence 0.9; bin 0.6: accuracy 1.0 at 0.6
    assert cal["ece"] == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert cal["accuracy"] == 0.75
