"""Chinese characters -> pinyin with tones: chapter 8's second reader (a tagging task).

The data is the phrase dictionary that ``pypinyin`` (0.55.0) ships, ``pypinyin/phrases_dict.json``,
read offline through ``importlib.resources`` (not through ``pypinyin.phrases_dict``, a module-level
dict that ``pypinyin.load_phrases_dict`` lets any caller change): 47,111 phrases of two to ten
Chinese characters, 143,861 characters in all, each with its reading in pinyin with a tone mark
(``"银行"`` -> ``yín háng``; a neutral tone has no mark: ``"快乐"`` -> ``kuài lè``, ``"点儿"`` ->
``diǎn er``). Two phrases give a character two readings (朝阳 ``zhāo``/``cháo``, 那些
``nà``/``nèi``); ``phrases()`` keeps the first, so every character has exactly one label. The
dictionary writes the tone changes of 一 and 不 as they are said (一不小心 ``yí bù``, 一丝不差
``yì sī``): for this task they are readings like any other.

The task is **tagging**, not translation: a phrase of ``n`` characters has ``n`` readings, one
per character, so a model outputs one label per input position. What makes it hard is that many
characters have several readings and the phrase decides: 行 is ``háng`` in 银行 (bank) and
``xíng`` in 行走 (to walk), 长 ``cháng`` in 长度 (length) and ``zhǎng`` in 长大 (to grow up).

Split. As in ``rnncourse.data.pronunciations``: each phrase goes to training, validation or test by
its own hash, ``bucket(phrase)``, the 8-byte BLAKE2b digest of its UTF-8 text personalised with
``b"rnncourse-pinyin"``, as a big-endian integer, modulo 1000: 0-799 training, 800-899 validation,
900-999 test. A character is not split: most characters occur in phrases of every part.

``readings(pairs)`` counts each character's readings over a list of phrases; a character is
**polyphonic** in those phrases when it has at least two distinct readings there
(``polyphonic``); ``majority(pairs)`` is the per-character-majority baseline, each character's
most frequent reading (ties: the reading first in Unicode order, so the result never depends on
the order of the phrases).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import torch

from . import hash_split
from .hash_split import BUCKETS, SPLITS  # noqa: F401 - part of this module's interface
from .vocab import PAD, SPECIALS, UNK, Vocab

Reading = tuple[str, ...]  # one pinyin syllable with its tone mark per character
Pair = tuple[str, Reading]

SPLIT_PERSON = b"rnncourse-pinyin"  # this data set's personalisation of hash_split's BLAKE2b


@functools.lru_cache(maxsize=1)
def phrases() -> Mapping[str, Reading]:
    """``phrase -> reading`` (one syllable per character, the first the dictionary lists), in the
    file's order."""
    text = importlib.resources.files("pypinyin").joinpath("phrases_dict.json").read_text(encoding="utf-8")
    out = {}
    for phrase, syllables in json.loads(text).items():
        if len(syllables) != len(phrase):  # none in 0.55.0; a later version's odd entry is skipped
            continue
        out[phrase] = tuple(s[0] for s in syllables)
    return MappingProxyType(out)


SPLIT = hash_split.HashSplit(SPLIT_PERSON)
bucket, split_of = SPLIT.bucket, SPLIT.split_of  # a phrase's bucket in 0..999, and its part


@functools.lru_cache(maxsize=1)
def _split_table() -> dict[str, tuple[Pair, ...]]:
    return SPLIT.partition(sorted(phrases().items()), lambda pair: pair[0])


def split(part: str) -> list[Pair]:
    """``(phrase, reading)`` pairs of ``part`` (``"train"``, ``"validation"`` or ``"test"``), sorted."""
    if part not in SPLITS:
        raise ValueError(f"part must be one of {list(SPLITS)}, got {part!r}")
    return list(_split_table()[part])


# -- what a table of characters knows ------------------------------------------------------------

def readings(pairs: Iterable[Pair]) -> dict[str, Counter]:
    """Each character's readings over ``pairs``, counted once per occurrence."""
    out: dict[str, Counter] = {}
    for phrase, reading in pairs:
        for char, syllable in zip(phrase, reading, strict=True):
            out.setdefault(char, Counter())[syllable] += 1
    return out


def polyphonic(pairs: Iterable[Pair]) -> set[str]:
    """The characters with at least two distinct readings in ``pairs``."""
    return {char for char, counts in readings(pairs).items() if len(counts) >= 2}


def majority(pairs: Iterable[Pair]) -> dict[str, str]:
    """Each character's most frequent reading in ``pairs`` (a tie: the first in Unicode order)."""
    return {char: min(counts, key=lambda s: (-counts[s], s)) for char, counts in readings(pairs).items()}


# -- tensors -------------------------------------------------------------------------------------

def vocabularies(pairs: Iterable[Pair]) -> tuple[Vocab, Vocab]:
    """``(characters, readings)``: ``<pad> <sos> <eos> <unk>`` then the characters, and the readings,
    of ``pairs``, each sorted (so the indices do not depend on the pairs' order)."""
    pairs = list(pairs)
    chars = sorted({c for phrase, _ in pairs for c in phrase})
    labels = sorted({s for _, reading in pairs for s in reading})
    return Vocab(SPECIALS + tuple(chars)), Vocab(SPECIALS + tuple(labels))


def candidates(pairs: Iterable[Pair], chars: Vocab, labels: Vocab) -> torch.Tensor:
    """``(len(chars), K)`` reading indices: row ``i`` lists the readings that character ``i`` has in
    ``pairs``, most frequent first (ties in Unicode order), right-padded with ``<pad>`` (0); the
    special tokens and the characters absent from ``pairs`` get the one candidate ``<unk>``."""
    counts = readings(pairs)
    rows = []
    for char in chars.itos:
        c = counts.get(char)
        rows.append([labels.stoi.get(s, UNK) for s in sorted(c, key=lambda s: (-c[s], s))] if c else [UNK])
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


def encode(pairs: Sequence[Pair], chars: Vocab, labels: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """``(src, tgt)``: characters and their readings, both ``(N, S)``, right-padded with ``<pad>``
    (0); an unknown character or reading is ``<unk>``."""
    width = max(len(phrase) for phrase, _ in pairs)
    src = torch.full((len(pairs), width), PAD, dtype=torch.long)
    tgt = torch.full((len(pairs), width), PAD, dtype=torch.long)
    for i, (phrase, reading) in enumerate(pairs):
        src[i, :len(phrase)] = torch.tensor([chars.stoi.get(c, UNK) for c in phrase])
        tgt[i, :len(phrase)] = torch.tensor([labels.stoi.get(s, UNK) for s in reading])
    return src, tgt
