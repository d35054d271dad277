"""Chapter 8's non-neural baseline: align letters with phonemes, then look each letter up in
its context.

1. **Alignment.** Each letter of a word gets a *chunk* of 0, 1 or 2 phonemes, in order, so that
   the chunks spell the pronunciation: ``t h o u g h`` -> ``DH`` ``-`` ``OW`` ``-`` ``-`` ``-``
   (``-`` is the empty chunk: a silent letter; ``x`` -> ``K S`` is a chunk of two). Which
   alignment? The most probable under ``p(chunk | letter)``, found by dynamic programming
   (Viterbi), with ``p`` itself estimated from the alignments: *hard EM*. The first estimate
   counts every chunk that some alignment could give a letter; each round then re-aligns the
   words with the current estimate and re-counts. Words that no alignment fits (more than two
   phonemes for one letter: ``"x"`` -> ``EH1 K S``) are left out.
2. **The table.** For every aligned letter, its context (``left`` letters before it, the
   letter, ``right`` letters after it; ``#`` marks the word's edges) is counted with its chunk.
   To pronounce a word, each letter takes the most frequent chunk of the *widest* context
   seen in training, backing off through ``windows`` to narrower ones, down to the letter
   alone. A table whose windows all have ``right == 0`` reads the word left to right only, as a
   one-directional RNN does: chapter 8 measures what that costs.

Nothing is random: the same words give the same table.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

Chunk = tuple[str, ...]
MAX_CHUNK = 2
# Widest first; each letter uses the first window whose context was seen in training.
BOTH_SIDES = ((3, 3), (2, 2), (1, 2), (2, 1), (1, 1), (0, 1), (0, 0))
LEFT_ONLY = ((5, 0), (4, 0), (3, 0), (2, 0), (1, 0), (0, 0))
EVERY_WINDOW = tuple(dict.fromkeys(BOTH_SIDES + LEFT_ONLY))  # one table serves both readings


def _chunks(pron: Sequence[str], j: int) -> Iterable[tuple[int, Chunk]]:
    for k in range(MAX_CHUNK + 1):
        if j + k <= len(pron):
            yield k, tuple(pron[j:j + k])


def align(word: str, pron: Sequence[str], logp: dict[tuple[str, Chunk], float],
          unseen: float = -20.0) -> list[Chunk] | None:
    """The most probable chunks (one per letter) that spell ``pron``, or None if none can.

    ``logp[(letter, chunk)]`` is ``log p(chunk | letter)``; pairs it lacks score ``unseen``.
    ``best[i][j]`` is the best log-probability of spelling the first ``j`` phonemes with the
    first ``i`` letters."""
    n, m = len(word), len(pron)
    if m > MAX_CHUNK * n:
        return None
    best = [[-math.inf] * (m + 1) for _ in range(n + 1)]
    back = [[0] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(n):
        letter, row, nxt, nback = word[i], best[i], best[i + 1], back[i + 1]
        lo, hi = max(0, m - MAX_CHUNK * (n - i)), min(m, MAX_CHUNK * i)
        for j in range(lo, hi + 1):
            if row[j] == -math.inf:
                continue
            for k, chunk in _chunks(pron, j):
                s = row[j] + logp.get((letter, chunk), unseen)
                if s > nxt[j + k]:
                    nxt[j + k], nback[j + k] = s, k
    if best[n][m] == -math.inf:
        return None
    out, j = [], m
    for i in range(n, 0, -1):
        k = back[i][j]
        out.append(tuple(pron[j - k:j]))
        j -= k
    return out[::-1]


def _normalise(counts: Counter) -> dict[tuple[str, Chunk], float]:
    totals: Counter = Counter()
    for (letter, _), c in counts.items():
        totals[letter] += c
    return {key: math.log(c / totals[key[0]]) for key, c in counts.items()}


def fit_alignment(pairs: Sequence[tuple[str, Sequence[str]]], rounds: int = 2
                  ) -> dict[tuple[str, Chunk], float]:
    """``log p(chunk | letter)`` by hard EM on ``(word, pronunciation)`` pairs (see the module
    docstring). The first estimate counts, for each letter, every chunk that starts within
    reach of its position (a loose band around the diagonal); empty and two-phoneme chunks get
    a smaller share, because most letters say one phoneme."""
    counts: Counter = Counter()
    for word, pron in pairs:
        n, m = len(word), len(pron)
        for i, letter in enumerate(word):
            centre = round(i * m / n)
            counts[(letter, ())] += 0.5
            for j in range(max(0, centre - 1), min(m, centre + 2)):
                counts[(letter, (pron[j],))] += 1.0
                if j + 1 < m:
                    counts[(letter, (pron[j], pron[j + 1]))] += 0.2
    logp = _normalise(counts)
    for _ in range(rounds):
        counts = Counter()
        for word, pron in pairs:
            chunks = align(word, pron, logp)
            if chunks is not None:
                counts.update(zip(word, chunks, strict=True))
        logp = _normalise(counts)
    return logp


PAD = 6  # edge marks on each side: the widest window reaches 6 letters


def _padded(word: str) -> str:
    return "#" * PAD + word + "#" * PAD


class ContextTable:
    """Letter in context -> most frequent chunk, with back-off through ``windows``.

    A context is the slice of the ``#``-padded spelling that a window covers around the letter
    (window ``(2, 1)`` around the ``u`` of ``tough``: ``"toug"``); each window has its own
    dictionary, so the slice alone is the key."""

    def __init__(self, windows: Sequence[tuple[int, int]] = BOTH_SIDES):
        self.windows = tuple(windows)
        self.best: dict[tuple[int, int], dict[str, Chunk]] = {}
        self.words = 0

    def fit(self, aligned: Iterable[tuple[str, Sequence[Chunk]]]) -> ContextTable:
        """Count every letter's context with its chunk, for every window; keep the most frequent
        chunk of each context (the first counted among equals)."""
        counts: dict[tuple[int, int], dict[str, dict[Chunk, int]]] = {w: {} for w in self.windows}
        for word, chunks in aligned:
            self.words += 1
            padded = _padded(word)
            for i, chunk in enumerate(chunks):
                at = PAD + i
                for (left, right), table in counts.items():
                    row = table.setdefault(padded[at - left:at + right + 1], {})
                    row[chunk] = row.get(chunk, 0) + 1
        self.best = {w: {ctx: max(row, key=row.__getitem__) for ctx, row in table.items()}
                     for w, table in counts.items()}
        return self

    def chunk(self, word: str, i: int, windows: Sequence[tuple[int, int]] | None = None) -> Chunk:
        """The chunk of letter ``i``: that of the widest window (of ``windows``, by default the
        table's) whose context was seen in training."""
        padded, at = _padded(word), PAD + i
        for left, right in windows or self.windows:
            found = self.best[(left, right)].get(padded[at - left:at + right + 1])
            if found is not None:
                return found
        return ()   # a letter never seen in training says nothing

    def chunks(self, word: str, windows: Sequence[tuple[int, int]] | None = None) -> list[Chunk]:
        return [self.chunk(word, i, windows) for i in range(len(word))]

    def predict(self, words: Iterable[str], windows: Sequence[tuple[int, int]] | None = None
                ) -> list[tuple[str, ...]]:
        """Each word's pronunciation: its letters' chunks, concatenated. ``windows``: a subset of
        the table's (``LEFT_ONLY`` from a table fitted with ``BOTH_SIDES + LEFT_ONLY``)."""
        return [tuple(p for c in self.chunks(w, windows) for p in c) for w in words]


def aligned_pairs(pairs: Sequence[tuple[str, Sequence[str]]], logp: dict[tuple[str, Chunk], float]
                  ) -> list[tuple[str, list[Chunk]]]:
    """``(word, chunks)`` for each pair that ``align`` can fit."""
    out = []
    for word, pron in pairs:
        chunks = align(word, pron, logp)
        if chunks is not None:
            out.append((word, chunks))
    return out
