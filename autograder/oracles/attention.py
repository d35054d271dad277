"""Oracles for chapters 6 and 7: PyTorch's attention, and brute force for decoding.

* ``sdpa_reference``: ``torch.nn.functional.scaled_dot_product_attention`` in float64,
  returning the attention weights too (PyTorch's function applied to an identity matrix
  of values gives exactly its weights).
* ``TableDecoder``: a tiny hand-built decoder whose next-token logits are read from a
  table indexed by (time step, previous token), so every sequence's probability is known.
* ``enumerate_sequences`` / ``brute_force_best``: every complete output of a decoder, scored
  with length normalisation: what beam search approximates, found by trying everything.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _t64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().to(
        torch.float64)


def sdpa_reference(q, k, v, mask=None, scale: float | None = None):
    """``(out, weights)`` of scaled dot-product attention, computed by PyTorch in float64.

    Shapes ``q (..., L, d)``, ``k (..., S, d)``, ``v (..., S, dv)``; ``mask`` is boolean,
    broadcastable to ``(..., L, S)``, True where attention is allowed (PyTorch's convention).
    """
    q, k, v = _t64(q), _t64(k), _t64(v)
    m = None if mask is None else torch.as_tensor(mask, dtype=torch.bool)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=scale)
    S = k.shape[-2]
    eye = torch.eye(S, dtype=torch.float64).expand(*k.shape[:-2], S, S)
    weights = F.scaled_dot_product_attention(q, k, eye, attn_mask=m, scale=scale)
    return out, weights


def sdpa_mistakes(q, k, v, mask=None) -> dict:
    """Typical wrong answers of scaled dot-product attention, each named by its hint.

    Every one is computed with PyTorch's own function: the softmax over the *query* axis is
    attention with queries and keys swapped, transposed.
    """
    q, k, v = _t64(q), _t64(k), _t64(v)
    d = q.shape[-1]
    m = None if mask is None else torch.as_tensor(mask, dtype=torch.bool)
    L, S = q.shape[-2], k.shape[-2]
    full = None if m is None else m.expand(*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), L, S)
    _, w_t = sdpa_reference(k, q, torch.zeros(*q.shape[:-1], 1, dtype=torch.float64),
                            None if full is None else full.transpose(-2, -1))
    wrong_axis = w_t.transpose(-2, -1)
    out = {
        "the scores are not divided by sqrt(d) (d = q.shape[-1]): scale them before the softmax":
            sdpa_reference(q, k, v, m, scale=1.0),
        f"the scores are divided by d = {d} instead of sqrt(d)":
            sdpa_reference(q, k, v, m, scale=1.0 / d),
        "the softmax runs over the wrong axis: each query's weights over the keys (the last axis, S) "
        "must sum to 1": (wrong_axis @ v, wrong_axis),
    }
    if m is not None:
        out["the mask is ignored: set the scores where mask is False to -inf before the softmax"] = \
            sdpa_reference(q, k, v, None)
    return out


class TableDecoder:
    """A decoder with the course's ``step(y_prev, h) -> (logits, h)`` interface, made by hand.

    ``tables`` has shape ``(K, T, V, V)``: table ``k`` gives, at time step ``t`` after token
    ``y_prev``, the logits ``tables[k, t, y_prev]`` of the next token (steps past ``T - 1``
    reuse the last one). The state ``h`` is ``(N, 2)`` float64: ``[t, k]`` for each row,
    so beam search can copy and reorder it like any hidden state.
    """

    def __init__(self, tables):
        self.tables = _t64(tables)
        if self.tables.dim() == 3:
            self.tables = self.tables[None]
        self.vocab_size = self.tables.shape[-1]
        self.calls = 0

    def initial_state(self, table_ids=(0,)) -> torch.Tensor:
        """``h0`` of shape ``(len(table_ids), 2)``: step 0 of the given tables."""
        return torch.tensor([[0.0, float(k)] for k in table_ids], dtype=torch.float64)

    def step(self, y_prev: torch.Tensor, h: torch.Tensor):
        self.calls += 1
        h = torch.as_tensor(h, dtype=torch.float64)
        t = h[:, 0].long().clamp(max=self.tables.shape[1] - 1)
        k = h[:, 1].long()
        y = torch.as_tensor(y_prev).long().reshape(-1)
        logits = self.tables[k, t, y]
        return logits, torch.stack([h[:, 0] + 1, h[:, 1]], dim=1)

    __call__ = step

    @classmethod
    def from_probabilities(cls, probs_by_prefix: dict, vocab_size: int, max_len: int,
                           sos: int, floor: float = 1e-9) -> TableDecoder:
        """A one-table decoder from ``{(t, y_prev): {token: probability}}``; unlisted tokens get ``floor``."""
        table = np.full((max_len, vocab_size, vocab_size), math.log(floor))
        for (t, y_prev), dist in probs_by_prefix.items():
            for tok, p in dist.items():
                table[t, y_prev, tok] = math.log(p)
        return cls(table[None])


def enumerate_sequences(decoder, h0: torch.Tensor, max_len: int, sos: int, eos: int,
                        alpha: float = 0.0):
    """All complete outputs as ``(tokens, log_prob, normalised_score)``, best first.

    A sequence is complete when it ends with ``eos`` or has ``max_len`` tokens; its score
    is ``log_prob / len(tokens) ** alpha`` (the ``eos`` counts as a token).
    """
    results = []

    def visit(tokens, logp, y_prev, h):
        logits, h_new = decoder.step(torch.tensor([y_prev]), h)
        logprobs = torch.log_softmax(_t64(logits)[0], dim=-1)
        for tok in range(logprobs.shape[0]):
            seq, lp = tokens + [tok], logp + float(logprobs[tok])
            if tok == eos or len(seq) == max_len:
                results.append((seq, lp, lp / len(seq) ** alpha))
            else:
                visit(seq, lp, tok, h_new)

    visit([], 0.0, sos, h0)
    results.sort(key=lambda r: -r[2])
    return results


def brute_force_best(decoder, h0, max_len: int, sos: int, eos: int, alpha: float = 0.0):
    """``(tokens, score)`` of the best complete output under length normalisation ``alpha``."""
    tokens, _, score = enumerate_sequences(decoder, h0, max_len, sos, eos, alpha)[0]
    return tokens, score


def gru_cell_from(gru: torch.nn.GRU) -> torch.nn.GRUCell:
    """An ``nn.GRUCell`` holding the weights of a one-layer ``nn.GRU`` (same dtype)."""
    cell = torch.nn.GRUCell(gru.input_size, gru.hidden_size, bias=gru.bias)
    cell = cell.to(dtype=gru.weight_ih_l0.dtype, device=gru.weight_ih_l0.device)
    with torch.no_grad():
        cell.weight_ih.copy_(gru.weight_ih_l0)
        cell.weight_hh.copy_(gru.weight_hh_l0)
        if gru.bias:
            cell.bias_ih.copy_(gru.bias_ih_l0)
            cell.bias_hh.copy_(gru.bias_hh_l0)
    return cell
