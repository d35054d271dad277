"""Oracles for chapter 8 (grapheme-to-phoneme): edit distance, WER and PER, and the held-out words.

* ``edit_distance``: the Levenshtein distance between two token sequences (phonemes, letters),
  by dynamic programming in a numpy table; every insertion, deletion and substitution costs 1.
  ``tests/test_g2p.py`` checks it against the recursive definition, against every alignment
  of tiny sequences and against ``rapidfuzz.distance.Levenshtein``.
* ``word_error_rate`` and ``phoneme_error_rate``: a model's predictions scored against *every*
  pronunciation the dictionary gives a word (``"read"`` is ``R EH1 D`` or ``R IY1 D``; either
  is right).
* ``heldout_lexicon``: the words a grader scores a model on: the test part of the hash split
  of ``rnncourse.data.pronunciations`` (which the course's loaders never hand out), or an
  instructor's private list.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HELDOUT_ENV = "RNNCOURSE_G2P_HELDOUT"  # a private list's path, read by heldout_lexicon


def edit_distance(a: Sequence, b: Sequence) -> int:
    """The fewest insertions, deletions and substitutions (each costing 1) that turn ``a`` into
    ``b``; tokens are compared with ``==`` (strings, phoneme symbols, integers).

    ``D[i, j]`` is the distance between the first ``i`` tokens of ``a`` and the first ``j`` of
    ``b``: ``D[i, 0] = i``, ``D[0, j] = j``, and
    ``D[i, j] = min(D[i-1, j] + 1, D[i, j-1] + 1, D[i-1, j-1] + (a[i-1] != b[j-1]))``.
    """
    a, b = list(a), list(b)
    D = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    D[:, 0] = np.arange(len(a) + 1)
    D[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            D[i, j] = min(D[i - 1, j] + 1,                            # delete a[i-1]
                          D[i, j - 1] + 1,                            # insert b[j-1]
                          D[i - 1, j - 1] + (a[i - 1] != b[j - 1]))   # substitute (or match)
    return int(D[-1, -1])


def _check(predictions, references_lists) -> None:
    if len(predictions) != len(references_lists):
        raise ValueError(f"{len(predictions)} predictions for {len(references_lists)} words")
    if not predictions:
        raise ValueError("no words to score")
    for i, refs in enumerate(references_lists):
        if len(refs) == 0:
            raise ValueError(f"word {i} has no reference pronunciation")


def closest_reference(prediction: Sequence, references: Sequence[Sequence]) -> tuple[int, int]:
    """``(index, distance)`` of the reference nearest to ``prediction`` by ``edit_distance``;
    among references at the same distance, the first in the list (the dictionary's order, whose
    first pronunciation is the most common)."""
    distances = [edit_distance(prediction, r) for r in references]
    best = int(np.argmin(distances))   # argmin returns the first of equal minima
    return best, distances[best]


def word_error_rate(predictions: Sequence[Sequence], references_lists: Sequence[Sequence[Sequence]]
                    ) -> float:
    """The share of words whose predicted pronunciation equals none of its references.

    ``predictions[i]`` is one token sequence, ``references_lists[i]`` the list of every correct
    pronunciation of word ``i`` (at least one). Tokens are compared as given: strip the
    stress digits from both sides first to score without stress.
    """
    _check(predictions, references_lists)
    wrong = sum(not any(list(p) == list(r) for r in refs)
                for p, refs in zip(predictions, references_lists, strict=True))
    return wrong / len(predictions)


def phoneme_error_rate(predictions: Sequence[Sequence], references_lists: Sequence[Sequence[Sequence]]
                       ) -> float:
    """Edit operations per reference phoneme, each word against its closest reference.

    For word ``i`` let ``r_i`` be ``closest_reference(predictions[i], references_lists[i])``:
    the reference with the smallest edit distance ``d_i`` to the prediction, the first one in
    the list when several tie. Then

        PER = (d_1 + ... + d_N) / (len(r_1) + ... + len(r_N)),

    a ratio of sums over the whole set (not a mean of per-word rates, so a long word weighs
    more than a short one). It is 0 when every prediction equals one of its references, and can
    exceed 1 (a prediction far longer than its reference).
    """
    _check(predictions, references_lists)
    errors = length = 0
    for p, refs in zip(predictions, references_lists, strict=True):
        best, d = closest_reference(p, refs)
        errors += d
        length += len(refs[best])
    if length == 0:
        raise ValueError("every closest reference is empty: PER is undefined")
    return errors / length


def heldout_lexicon(path: str | os.PathLike | None = None) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The words a grader scores a G2P model on, with their pronunciations: grader-side only.

    The course's loaders (``rnncourse.data.pronunciations``) never call this. Without ``path``
    (and without the environment variable ``RNNCOURSE_G2P_HELDOUT``): the test part of the hash
    split, about 10 % of the dictionary. With a path: an instructor's private list in
    cmudict's own format, one pronunciation a line (``word PH1 PH2 ...``; a word may come back
    on another line, or as ``word(2)``, for another pronunciation; ``#`` starts a comment). A
    line with a word alone takes that word's pronunciations from the dictionary (it must be in
    it). Words are lower-cased; a word with a character outside a-z and ``'`` is refused.
    """
    from rnncourse.data import pronunciations as P

    path = path if path is not None else os.environ.get(HELDOUT_ENV) or None
    if path is None:
        lex = P.lexicon()
        return {w: lex[w] for w in P._words_in("test")}
    merged: dict[str, list[tuple[str, ...]]] = {}
    for word, prons in P._parse(Path(path).read_text(encoding="utf-8")).items():
        if not P._keep(word.lower()):
            raise ValueError(f"{path}: {word!r} has a character outside a-z and the apostrophe")
        merged.setdefault(word.lower(), []).extend(prons)
    out = {}
    for w, prons in merged.items():
        given = tuple(dict.fromkeys(p for p in prons if p))
        if not given and w not in P.lexicon():
            raise ValueError(f"{path}: {w!r} has no pronunciation and is not in the dictionary")
        out[w] = given or P.lexicon()[w]
    return out
