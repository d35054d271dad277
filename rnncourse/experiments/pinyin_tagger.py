"""Chapter 8's Chinese reader: a bidirectional GRU tagger, characters -> pinyin with tones.

The model is an *encoder* like chapter 8's ``G2P``'s, and nothing else: an embedding of each
character, a one-layer bidirectional GRU run on a ``pack_padded_sequence`` (so padding never
enters either direction), and a linear layer that scores readings from each character's state,
the two directions' outputs side by side. A phrase of ``n`` characters has ``n`` readings
(``rnncourse.data.pinyin``), so no decoder is needed: the output at each character is its label
(a *tagger*). A character's state is scored only against the readings that character has in the
training phrases (``Tagger``'s docstring says why). What the bidirectional state brings is the
same as in English: 行 reads ``háng`` or ``xíng`` depending on the characters on *either* side.

``train_tagger`` trains it with ``rnncourse.train`` (AdamW, clipping) on one CPU thread; every
random choice (the weights, the batches' order) comes from ``seed``. ``polyphone_accuracy``
scores predictions on the characters that a set calls polyphonic.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data import pinyin as Y
from ..data.vocab import PAD, Vocab
from ..device import cpu_threads
from ..train import train


class Tagger(nn.Module):
    """Characters ``(N, S)`` -> a score for each candidate reading of each character ``(N, S, K)``.

    ``candidates`` ``(n_chars, K)`` lists each character's readings in the training phrases
    (``rnncourse.data.pinyin.candidates``, ``<pad>`` after the last): the output layer holds a
    row for every reading, and a character's state is scored against the rows of *its* readings
    only (the others would never be right: a character's readings are a dictionary fact, what
    the model must learn is which one the phrase asks for). It is also what makes the model fast
    enough for the page: 1,200-odd readings scored at every character would cost more than the
    recurrence. ``forward(src, tgt) -> (scores, loss)`` for ``rnncourse.train``: cross-entropy over
    the candidates, padding (and a reading that is not among the character's candidates) ignored.
    """

    def __init__(self, candidates: torch.Tensor, n_labels: int, embed_dim: int = 64, hidden_size: int = 64):
        super().__init__()
        self.register_buffer("candidates", candidates)
        self.embed = nn.Embedding(candidates.shape[0], embed_dim, padding_idx=PAD)
        self.encoder = nn.GRU(embed_dim, hidden_size, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden_size, n_labels)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """Each character's state ``(N, S, 2H)``: the two directions' outputs side by side."""
        lengths = (src != PAD).sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.encoder(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return states

    def scores(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cands, scores)``: each character's candidate readings ``(N, S, K)`` and their scores,
        ``-inf`` where a character has fewer than ``K``."""
        cands = self.candidates[src]
        states = self.encode(src)
        rows = self.out.weight[cands]                                   # (N, S, K, 2H)
        scores = (rows @ states[..., None]).squeeze(-1) + self.out.bias[cands]
        return cands, scores.masked_fill(cands == PAD, float("-inf"))

    def forward(self, src: torch.Tensor, tgt: torch.Tensor):
        cands, scores = self.scores(src)
        hit = cands == tgt[..., None]                                   # where the reading is
        target = torch.where(hit.any(-1) & (tgt != PAD), hit.float().argmax(-1), -100)
        scores = scores.masked_fill((target == -100)[..., None], 0.0)   # no -inf rows in the loss
        return scores, F.cross_entropy(scores.flatten(0, 1), target.flatten(), ignore_index=-100)


def batches(pairs: Sequence[Y.Pair], chars: Vocab, labels: Vocab, batch_size: int = 128,
            seed: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(src, tgt)`` batches of ``pairs``, reshuffled every epoch by a seeded
    ``random.Random`` (the last incomplete batch of an epoch is dropped)."""
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    while True:
        rng.shuffle(order)
        for s in range(0, len(order) - batch_size + 1, batch_size):
            yield Y.encode([pairs[i] for i in order[s:s + batch_size]], chars, labels)


@torch.no_grad()
def predict(model: Tagger, phrases: Sequence[str], chars: Vocab, labels: Vocab,
            batch_size: int = 1024) -> list[Y.Reading]:
    """Each phrase's most probable reading, one syllable per character."""
    model.eval()
    out: list[Y.Reading] = []
    for i in range(0, len(phrases), batch_size):
        part = phrases[i:i + batch_size]
        src, _ = Y.encode([(p, ("",) * len(p)) for p in part], chars, labels)
        cands, scores = model.scores(src)
        best = cands.gather(-1, scores.argmax(-1, keepdim=True)).squeeze(-1)
        out += [tuple(labels.itos[j] for j in row[:len(p)].tolist()) for p, row in zip(part, best, strict=True)]
    return out


def polyphone_accuracy(predictions: Sequence[Y.Reading], pairs: Sequence[Y.Pair],
                       poly: set[str]) -> tuple[int, int]:
    """``(right, total)`` over the characters of ``pairs`` that are in ``poly``."""
    right = total = 0
    for pred, (phrase, reading) in zip(predictions, pairs, strict=True):
        for char, p, r in zip(phrase, pred, reading, strict=True):
            if char in poly:
                total += 1
                right += p == r
    return right, total


@dataclass
class Run:
    """A trained tagger, its vocabularies and what training measured."""

    model: Tagger
    chars: Vocab
    labels: Vocab
    steps: int
    seconds: float
    loss: list[float]


def train_tagger(pairs: Sequence[Y.Pair], *, steps: int = 1500, batch_size: int = 128, lr: float = 3e-3,
                 seed: int = 0, time_limit: float | None = None, **model_kwargs) -> Run:
    """Train a ``Tagger`` on ``pairs`` for ``steps`` steps, on the CPU with one intra-op thread."""
    with cpu_threads(1):
        torch.manual_seed(seed)
        chars, labels = Y.vocabularies(pairs)
        model = Tagger(Y.candidates(pairs, chars, labels), len(labels), **model_kwargs)
        start = time.perf_counter()
        hist = train(model, batches(pairs, chars, labels, batch_size, seed), steps=steps, lr=lr,
                     time_limit=time_limit, progress=False)
        return Run(model.eval(), chars, labels, len(hist.steps), time.perf_counter() - start, hist.loss)
