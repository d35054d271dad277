"""A character model of Chinese from jieba's word list (chapter 2: after "10 个小", is it "时"?).

The seed says that a good language model which sees "10 个小" should predict "时" (小时, hour).
The data is the dictionary that the ``jieba`` segmenter ships (``jieba/dict.txt``, read offline
through ``importlib.resources``): 349,046 words, each with a frequency and a part of speech.

The model is **count-based**, not trained: a character bigram model whose counts come from the
characters *inside* each word, every word counted as often as its frequency. It knows which
character follows which within a word (小 → 时, because 小时 is frequent) and where words start,
but never sees one word follow another: the list holds words, not running text. Nothing is drawn
at random, so there is no seed: the same jieba version gives the same numbers.

``next_char_probs(prev, word_start=..., tags=...)`` reads the context three ways, from the least
to the most informed:

* ``prev`` anywhere in a word (the plain bigram: 大小, 小时, 胆小鬼 all count);
* ``word_start=True``: ``prev`` begins a word, as 小 does in "10 个小", because 个 is a whole word
  (a measure word, tagged ``q`` in the dictionary);
* ``tags={"n"}`` as well: the word is a common noun, as after a numeral and a measure word.

Digits and spaces are not looked up: the list is Chinese words (3 of its entries start with a
digit), and Chinese is written without spaces. "10" matters only as the numeral before 个.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections import Counter
from typing import NamedTuple


class Entry(NamedTuple):
    word: str
    freq: int
    tag: str  # part of speech: n noun, nr person's name, q measure word, v verb, ...


@functools.lru_cache(maxsize=1)
def dictionary() -> tuple[Entry, ...]:
    """Every entry of jieba's ``dict.txt`` (word, frequency, part of speech), in the file's order."""
    text = importlib.resources.files("jieba").joinpath("dict.txt").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[1].isdigit():
            out.append(Entry(parts[0], int(parts[1]), parts[2]))
    return tuple(out)


def tag_of(word: str) -> str | None:
    """The dictionary's part of speech for ``word`` (None if it is not an entry)."""
    return next((e.tag for e in dictionary() if e.word == word), None)


def next_char_counts(prev: str, *, word_start: bool = False, tags: set[str] | None = None) -> Counter:
    """Frequency-weighted counts of the character after ``prev`` inside the dictionary's words."""
    counts: Counter = Counter()
    for e in dictionary():
        if tags is not None and e.tag not in tags:
            continue
        if word_start:
            if len(e.word) > len(prev) and e.word.startswith(prev):
                counts[e.word[len(prev)]] += e.freq
            continue
        i = e.word.find(prev)
        while i != -1 and i + len(prev) < len(e.word):
            counts[e.word[i + len(prev)]] += e.freq
            i = e.word.find(prev, i + 1)
    return counts


def next_char_probs(prev: str, *, word_start: bool = False, tags: set[str] | None = None) -> dict[str, float]:
    """P(next character | ``prev``), most probable first (maximum likelihood, no smoothing)."""
    counts = next_char_counts(prev, word_start=word_start, tags=tags)
    total = sum(counts.values())
    if not total:
        raise ValueError(f"no word of the dictionary continues after {prev!r}")
    return {c: n / total for c, n in counts.most_common()}
