"""Deep and bidirectional GRUs, built and measured (chapter 4; exercise 4's ``DeepBiGRU``).

* ``bidirectional_by_hand``: ``nn.GRU(..., bidirectional=True)``'s output rebuilt from two
  one-directional GRUs with its weights, the second reading the reversed sequence.
* A tagging task that needs the future: each position's label is the token ``k`` steps
  *ahead* (``lookahead_batch``). A left-to-right GRU cannot know it when it must answer; a
  bidirectional one can. ``train_tagger`` trains either on the same budget, one CPU thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..device import cpu_threads
from ..train import train


def _one_direction(gru: nn.GRU, layer: int, reverse: bool) -> nn.GRU:
    """Layer ``layer`` of ``gru``, one direction, as a one-layer batch-first ``nn.GRU``."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    d_in = gru.input_size if layer == 0 else gru.hidden_size * (2 if gru.bidirectional else 1)
    one = nn.GRU(d_in, gru.hidden_size, batch_first=True).to(gru.weight_ih_l0.dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(one, f"{name}_l0").copy_(getattr(gru, name + suffix))
    return one


@torch.no_grad()
def bidirectional_by_hand(gru: nn.GRU, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, h_n) of a batch-first, possibly stacked, bidirectional ``gru`` computed from
    one-directional GRUs: the backward GRU reads ``x`` reversed in time and its outputs are
    flipped back; layer l+1 reads layer l's [forward, backward] output; ``h_n`` is ordered
    layer 0 forward, layer 0 backward, layer 1 forward, ..."""
    inp, finals = x, []
    for layer in range(gru.num_layers):
        fwd, h_f = _one_direction(gru, layer, reverse=False)(inp)
        bwd, h_b = _one_direction(gru, layer, reverse=True)(inp.flip(1))
        inp = torch.cat([fwd, bwd.flip(1)], dim=-1)
        finals += [h_f[0], h_b[0]]
    return inp, torch.stack(finals)


def lookahead_batch(n: int, T: int, vocab: int, k: int, generator: torch.Generator):
    """Random tokens ``x (n, T)``; label ``y[:, t] = x[:, t + k]`` for t < T - k (the rest -100,
    ignored by the loss)."""
    x = torch.randint(0, vocab, (n, T), generator=generator)
    y = torch.full((n, T), -100)
    y[:, : T - k] = x[:, k:]
    return x, y


class Tagger(nn.Module):
    """Embedding -> GRU (one- or bidirectional) -> a label for every position."""

    def __init__(self, vocab: int, hidden_size: int = 32, bidirectional: bool = False, num_layers: int = 1):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.rnn = nn.GRU(16, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), vocab)

    def forward(self, x, targets=None):
        logits = self.head(self.rnn(self.embed(x))[0])  # (N, T, V)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                                                            ignore_index=-100)
        return logits, loss


@dataclass
class TaggerRun:
    bidirectional: bool
    num_layers: int
    accuracy: float  # over the positions that have a label, on fresh sequences
    parameters: int
    seconds: float  # process time of the training


def train_tagger(bidirectional: bool, *, num_layers: int = 1, k: int = 2, T: int = 20, vocab: int = 8,
                 steps: int = 300, seed: int = 0) -> TaggerRun:
    """Train a ``Tagger`` on the look-ahead task for ``steps`` steps and test it on fresh data."""
    with cpu_threads(1):
        torch.manual_seed(seed)
        model = Tagger(vocab, bidirectional=bidirectional, num_layers=num_layers)
        g = torch.Generator().manual_seed(seed)

        def batches():
            while True:
                yield lookahead_batch(64, T, vocab, k, g)

        t0 = time.process_time()
        train(model, batches(), steps=steps, lr=1e-2, progress=False)
        seconds = time.process_time() - t0
        x, y = lookahead_batch(2000, T, vocab, k, torch.Generator().manual_seed(seed + 1000))
        with torch.no_grad():
            pred = model(x)[0].argmax(-1)
        mask = y != -100
        acc = (pred[mask] == y[mask]).float().mean().item()
    return TaggerRun(bidirectional, num_layers, acc, sum(p.numel() for p in model.parameters()), seconds)
