"""Subject-verb agreement at a controlled distance: "the cat, which ate ..., was" / "the cats ... were".

The seed's example as a synthetic task (chapter 3; chapters 4 and 5 and exercise
``ex04_gru`` use it too). A sequence reads ::

    the  <subject>  d_1 ... d_distance  <verb>

The subject is a singular or a plural noun; the ``distance`` distractors between it
and the verb are filler words drawn uniformly ("which", "ate", "apple", "yogurt",
"banana", ...), so the answer depends on a single token ``distance + 1`` steps back.
The label, read at the ``<verb>`` position, is the subject's number: 0 singular
("was"), 1 plural ("were"). Chance level is 50 %.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

SINGULAR: tuple[str, ...] = ("cat", "dog", "bird", "horse", "child", "teacher", "farmer", "student")
PLURAL: tuple[str, ...] = ("cats", "dogs", "birds", "horses", "children", "teachers", "farmers",
                           "students")
FILLERS: tuple[str, ...] = ("which", "already", "ate", "apple", "yogurt", "banana", ",", "and",
                            "of", "a", "big", "green", "very", "slowly", "near", "old")
PAD, VERB, THE = 0, 1, 2
SPECIALS: tuple[str, ...] = ("<pad>", "<verb>", "the")
FIRST_NOUN = len(SPECIALS)
FIRST_FILLER = FIRST_NOUN + len(SINGULAR) + len(PLURAL)
VOCAB: tuple[str, ...] = SPECIALS + SINGULAR + PLURAL + FILLERS
VOCAB_SIZE = len(VOCAB)  # 35


def vocabulary(vocab_size: int = VOCAB_SIZE) -> list[str]:
    """The token strings; sizes above ``VOCAB_SIZE`` add filler words ``w35, w36, ...``."""
    if vocab_size < VOCAB_SIZE:
        raise ValueError(f"vocab_size must be at least {VOCAB_SIZE}, got {vocab_size}")
    return list(VOCAB) + [f"w{i}" for i in range(VOCAB_SIZE, vocab_size)]


def make_agreement_data(n: int, distance: int, seed: int, vocab_size: int = VOCAB_SIZE
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences with ``distance`` distractors between subject and verb.

    Returns ``x`` (n, distance + 3) int64 token ids and ``y`` (n,) int64 labels
    (0: singular subject, 1: plural). Same ``seed``, same data.
    """
    if distance < 0:
        raise ValueError(f"distance must be >= 0, got {distance}")
    vocabulary(vocab_size)  # validates the size
    g = torch.Generator().manual_seed(seed)
    k = len(SINGULAR)
    y = torch.randint(0, 2, (n,), generator=g)
    subject = FIRST_NOUN + y * k + torch.randint(0, k, (n,), generator=g)
    distractors = torch.randint(FIRST_FILLER, vocab_size, (n, distance), generator=g)
    x = torch.cat([torch.full((n, 1), THE), subject[:, None], distractors,
                   torch.full((n, 1), VERB)], dim=1)
    return x, y


def agreement_batches(batch_size: int, distance: int | tuple[int, int], seed: int,
                      vocab_size: int = VOCAB_SIZE) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless fresh minibatches ``(x, y)`` for ``rnncourse.train``.

    ``distance`` is an int, or a ``(lo, hi)`` pair from which each batch draws its
    distance uniformly (inclusive), so one model sees short and long sentences.
    """
    g = torch.Generator().manual_seed(seed)
    step = 0
    while True:
        if isinstance(distance, int):
            d = distance
        else:
            lo, hi = distance
            d = int(torch.randint(lo, hi + 1, (1,), generator=g))
        batch_seed = int(torch.randint(0, 2**62, (1,), generator=g)) + step
        step += 1
        yield make_agreement_data(batch_size, d, batch_seed, vocab_size)


def decode(x_row: torch.Tensor, vocab_size: int = VOCAB_SIZE) -> str:
    """One sequence as words, e.g. ``'the cats apple , dog which <verb>'``."""
    words = vocabulary(vocab_size)
    return " ".join(words[int(i)] for i in x_row if int(i) != PAD)
