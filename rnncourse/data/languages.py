"""Which language is this word? Word lists from ``wordfreq``, which ships them offline.

Used by chapter 1 and exercise ``ex01_rnn_basics``. A word is kept if it is purely
alphabetic, 3 to 16 characters long, and appears in the top lists of exactly one of
the course's languages (so every label is unambiguous). Words are split by their
frequency rank: ranks [0, 4000) give the public train/validation data; the grader
draws its hidden test words from other ranks.
"""

from __future__ import annotations

import functools
import random

import torch

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "pl")
NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
         "pl": "Polish"}
MAX_RANK = 8000  # ambiguity is judged over the top MAX_RANK words of every language
PAD, UNK = 0, 1  # indices reserved in every alphabet encoding


@functools.lru_cache(maxsize=4)
def _ranked_words(languages: tuple[str, ...]) -> dict[str, list[str]]:
    import wordfreq

    raw = {lang: wordfreq.top_n_list(lang, MAX_RANK) for lang in languages}
    seen: dict[str, int] = {}
    for words in raw.values():
        for w in set(words):
            seen[w] = seen.get(w, 0) + 1
    keep = {}
    for lang, words in raw.items():
        keep[lang] = [w if (w.isalpha() and 3 <= len(w) <= 16 and seen[w] == 1) else None
                      for w in words]
    return keep


def word_language_data(ranks: tuple[int, int] = (0, 4000), languages: tuple[str, ...] = LANGUAGES
                       ) -> tuple[list[str], list[int]]:
    """Words whose frequency rank lies in ``ranks`` and their language indices.

    Ranks are positions in each language's wordfreq list; filtered-out words leave
    gaps, so every language contributes roughly the same number of words.
    """
    lo, hi = ranks
    if not 0 <= lo < hi <= MAX_RANK:
        raise ValueError(f"ranks must satisfy 0 <= lo < hi <= {MAX_RANK}, got {ranks}")
    words, labels = [], []
    for i, lang in enumerate(languages):
        for w in _ranked_words(tuple(languages))[lang][lo:hi]:
            if w is not None:
                words.append(w)
                labels.append(i)
    return words, labels


def train_val_split(seed: int = 0, val_fraction: float = 0.15, languages=LANGUAGES):
    """The public data, shuffled with ``seed``: ``(train_words, train_labels), (val_words, val_labels)``."""
    words, labels = word_language_data((0, 4000), languages)
    order = list(range(len(words)))
    random.Random(seed).shuffle(order)
    n_val = int(len(order) * val_fraction)
    val, tr = order[:n_val], order[n_val:]
    return ([words[i] for i in tr], [labels[i] for i in tr]), ([words[i] for i in val], [labels[i] for i in val])


def alphabet_of(words: list[str]) -> str:
    """Sorted string of the characters used in ``words`` (index i+2 encodes alphabet[i])."""
    return "".join(sorted(set("".join(words))))


def encode_words(words: list[str], alphabet: str, max_len: int | None = None) -> torch.Tensor:
    """(N, T) int64 tensor: character indices, PAD (0) after each word, UNK (1) for unknown characters.

    T is the longest word's length (or ``max_len``, which truncates).
    """
    index = {c: i + 2 for i, c in enumerate(alphabet)}
    T = max(len(w) for w in words) if max_len is None else max_len
    x = torch.full((len(words), T), PAD, dtype=torch.long)
    for n, w in enumerate(words):
        for t, c in enumerate(w[:T]):
            x[n, t] = index.get(c, UNK)
    return x


def batches(words: list[str], labels: list[int], alphabet: str, batch_size: int = 128, seed: int = 0):
    """Endless shuffled minibatches ``(x (N, T), y (N,))`` for ``rnncourse.train``."""
    rng = random.Random(seed)
    order = list(range(len(words)))
    while True:
        rng.shuffle(order)
        for s in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[s:s + batch_size]
            yield (encode_words([words[i] for i in idx], alphabet),
                   torch.tensor([labels[i] for i in idx]))
