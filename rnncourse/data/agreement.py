"""Subject-verb agreement at a controlled distance: "the cat which ate apple bread ... [was]".

The seed's example of a long-range dependency (chapter 3): in "The cat, which already ate
apple, yogurt, banana, ..., was full" the verb must be *was* because the subject is *cat*;
with *cats* it must be *were*, however long the list in between. Here a sequence is

    the NOUN which ate FOOD FOOD ... FOOD        -> label 0 (singular: was) or 1 (plural: were)

with exactly ``distance`` tokens after the noun, so the number must be carried across
``distance`` steps. The foods are both singular and plural words (*apple*, *apples*), so
the last noun seen says nothing about the answer. Chapters 3, 4 and 5 train vanilla RNNs,
GRUs and LSTMs on it.

    x, y = make_agreement_data(1000, distance=20, seed=0)    # x (1000, 22) int64, y (1000,)
    for x, y in agreement_batches(64, distance=(1, 40), seed=0): ...

A ``distance`` may be an int or an inclusive ``(lo, hi)`` range; with a range each example
draws its own distance and shorter sequences are **left**-padded with ``PAD`` (index 0),
so the decision is always read at the last time step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

PAD = "<PAD>"


@dataclass(frozen=True)
class AgreementVocab:
    """Words of the task. Index 0 is ``<PAD>``; ``tokens`` lists every word by its index."""

    nouns: tuple[tuple[str, str], ...] = (
        ("cat", "cats"), ("dog", "dogs"), ("child", "children"), ("horse", "horses"),
        ("mouse", "mice"), ("bird", "birds"), ("fox", "foxes"), ("goose", "geese"),
    )
    foods: tuple[str, ...] = (
        "apple", "apples", "yogurt", "yogurts", "banana", "bananas", "bread", "cake", "cakes",
        "cheese", "pear", "pears", "rice", "soup", "carrot", "carrots", "egg", "eggs",
    )
    frame: tuple[str, ...] = ("the", "which", "ate")
    verbs: tuple[str, str] = ("was", "were")  # label 0, label 1 (not part of the input)

    @property
    def tokens(self) -> list[str]:
        words = [PAD, *self.frame]
        for sg, pl in self.nouns:
            words += [sg, pl]
        return words + list(self.foods)

    def index(self, word: str) -> int:
        return self.tokens.index(word)

    @property
    def size(self) -> int:
        """Number of input tokens, ``<PAD>`` included (the embedding size a model needs)."""
        return len(self.tokens)

    def singular_ids(self) -> np.ndarray:
        return np.array([self.index(sg) for sg, _ in self.nouns])

    def plural_ids(self) -> np.ndarray:
        return np.array([self.index(pl) for _, pl in self.nouns])

    def food_ids(self) -> np.ndarray:
        return np.array([self.index(f) for f in self.foods])


VOCAB = AgreementVocab()


def _distances(n: int, distance, rng: np.random.Generator) -> np.ndarray:
    if isinstance(distance, int | np.integer):
        lo = hi = int(distance)
    else:
        lo, hi = (int(d) for d in distance)
    if not 0 <= lo <= hi:
        raise ValueError(f"distance must be an int >= 0 or a range (lo, hi) with 0 <= lo <= hi, "
                         f"got {distance!r}")
    return rng.integers(lo, hi + 1, size=n)


def make_agreement_data(n: int, distance: int | tuple[int, int], *, seed: int = 0,
                        vocab: AgreementVocab = VOCAB) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples ``x (n, 2 + max distance)`` int64 and labels ``y (n,)`` int64.

    Each row is ``the NOUN`` followed by ``distance`` tokens: ``which``, ``ate`` and then
    foods drawn uniformly (for distance 1 only ``which``; for 0, nothing). Labels are 0 when
    the noun is singular and 1 when plural, each with probability 1/2. Deterministic given
    ``seed``; rows with a shorter distance are left-padded with index 0.
    """
    rng = np.random.default_rng(seed)
    d = _distances(n, distance, rng)
    T = 2 + int(d.max()) if n else 2
    y = rng.integers(0, 2, size=n)
    noun = rng.integers(0, len(vocab.nouns), size=n)
    foods = rng.choice(vocab.food_ids(), size=(n, max(T - 4, 0)))
    noun_id = np.where(y == 0, vocab.singular_ids()[noun], vocab.plural_ids()[noun])
    x = np.zeros((n, T), dtype=np.int64)
    the, which, ate = (vocab.index(w) for w in vocab.frame)
    for i in range(n):
        row = [the, noun_id[i], which, ate][: 2 + d[i]]
        row += foods[i, : max(d[i] - 2, 0)].tolist()
        x[i, T - len(row):] = row
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def agreement_batches(batch_size: int, distance: int | tuple[int, int], *, seed: int = 0,
                      vocab: AgreementVocab = VOCAB) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless fresh batches ``(x, y)`` for ``rnncourse.train``; batch ``k`` uses seed ``(seed, k)``."""
    k = 0
    while True:
        ss = np.random.SeedSequence([seed, k])
        yield make_agreement_data(batch_size, distance, seed=int(ss.generate_state(1)[0]), vocab=vocab)
        k += 1


def decode(x, vocab: AgreementVocab = VOCAB) -> list[str]:
    """Rows of ``x`` as text (padding dropped)."""
    toks = vocab.tokens
    rows = np.atleast_2d(np.asarray(x))
    return [" ".join(toks[i] for i in row if i != 0) for row in rows]
