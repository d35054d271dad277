"""Human-readable dates to ISO 8601: the translation task of chapters 6 and 7.

``"Thursday, March 5 2020"``, ``"05.03.20"``, ``"march 5th, 2020"`` and a dozen other
formats, with noise in case, punctuation and spacing, all map to ``"2020-03-05"``.
Everything is generated here with ``datetime`` (weekdays included) and a seeded
``random.Random``: no locale, no network, the same data on every machine.

Numeric formats follow their separator's convention, as people write them: dots are
day.month.year (``05.03.20``), a slash with the year first is year/month/day
(``2020/3/5``), a slash with the year last is the US month/day/year (``03/05/2020``).
Dates lie in 1950-2049, so a two-digit year is unambiguous (``20`` is 2020, ``79`` 1979).

Splits: ``train_val_split(seed)`` gives the public data (no input string in both parts);
``heldout_split(seed)`` gives dates whose input strings appear in neither public part.
The grader's seed for ``heldout_split`` lives only in the hidden tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import string
from collections.abc import Callable, Iterator, Sequence

import torch

from .vocab import EOS, PAD, SOS, SPECIALS, UNK, Vocab, encode_batch  # noqa: F401  (re-exported)

FIRST, LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TARGET_LEN = 10  # len("2020-03-05")


def iso(d: dt.date) -> str:
    """The target: ``YYYY-MM-DD``."""
    return d.isoformat()


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _mon(d: dt.date, rng: random.Random) -> str:
    """Three-letter month, sometimes with a full stop ("Mar.")."""
    return MONTHS[d.month - 1][:3] + ("." if rng.random() < 0.2 else "")


def _wd(d: dt.date) -> str:
    return WEEKDAYS[d.weekday()]  # Monday is 0, from datetime itself


# name -> function(date, rng) -> text. The names use d/m/y for numbers, MMM/MMMM for month
# names and ddd/dddd for weekday names.
FORMATS: dict[str, Callable[[dt.date, random.Random], str]] = {
    "d MMMM yyyy": lambda d, r: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "dddd, MMMM d yyyy": lambda d, r: f"{_wd(d)}, {MONTHS[d.month - 1]} {d.day} {d.year}",
    "dd.mm.yy": lambda d, r: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
    "mmmm dth, yyyy": lambda d, r: f"{MONTHS[d.month - 1].lower()} {_ordinal(d.day)}, {d.year}",
    "yyyy/m/d": lambda d, r: f"{d.year}/{d.month}/{d.day}",
    "d-mmm-yyyy": lambda d, r: f"{d.day}-{MONTHS[d.month - 1][:3].lower()}-{d.year}",
    "MMM d, yyyy": lambda d, r: f"{_mon(d, r)} {d.day}, {d.year}",
    "ddd d MMM yyyy": lambda d, r: f"{_wd(d)[:3]} {d.day} {_mon(d, r)} {d.year}",
    "the dth of MMMM yyyy": lambda d, r: f"the {_ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    "dddd the dth of MMMM, yyyy": lambda d, r: (f"{_wd(d)} the {_ordinal(d.day)} of "
                                               f"{MONTHS[d.month - 1]}, {d.year}"),
    "mm/dd/yyyy": lambda d, r: f"{d.month:02d}/{d.day:02d}/{d.year}",
    "d.m.yyyy": lambda d, r: f"{d.day}.{d.month}.{d.year}",
    "yyyymmdd": lambda d, r: f"{d.year}{d.month:02d}{d.day:02d}",
    "dd MMM yy": lambda d, r: f"{d.day:02d} {_mon(d, r)} {d.year % 100:02d}",
    "yyyy-mm-dd": lambda d, r: d.isoformat(),
    "MMMM d, yyyy (dddd)": lambda d, r: f"{MONTHS[d.month - 1]} {d.day}, {d.year} ({_wd(d)})",
}

SOURCE_CHARS = " (),-./;" + string.digits + string.ascii_uppercase + string.ascii_lowercase


def add_noise(text: str, rng: random.Random) -> str:
    """Change case, drop commas, double a space, pad the ends: never the meaning."""
    u = rng.random()
    if u < 0.15:
        text = text.lower()
    elif u < 0.25:
        text = text.upper()
    elif u < 0.32:
        text = text.title()
    if "," in text and rng.random() < 0.25:
        text = text.replace(",", "")
    if " " in text and rng.random() < 0.2:
        spaces = [i for i, c in enumerate(text) if c == " "]
        i = rng.choice(spaces)
        text = text[:i] + " " + text[i:]
    if rng.random() < 0.05:
        text = " " + text
    if rng.random() < 0.05:
        text = text + " "
    return text


def format_date(d: dt.date, fmt: str, rng: random.Random | None = None, noise: bool = True) -> str:
    """``d`` written in the format named ``fmt`` (a key of ``FORMATS``), with noise if asked."""
    rng = rng or random.Random(0)
    text = FORMATS[fmt](d, rng)
    return add_noise(text, rng) if noise else text


def random_date(rng: random.Random) -> dt.date:
    """A uniformly random day in [FIRST, LAST]."""
    return FIRST + dt.timedelta(days=rng.randrange((LAST - FIRST).days + 1))


def _stream(seed: int, formats: Sequence[str] | None = None) -> Iterator[tuple[str, str]]:
    rng = random.Random(seed)
    names = list(formats or FORMATS)
    while True:
        d = random_date(rng)
        yield format_date(d, rng.choice(names), rng), iso(d)


def random_pairs(n: int, seed: int, formats: Sequence[str] | None = None,
                 exclude: frozenset[str] | set[str] = frozenset()) -> list[tuple[str, str]]:
    """``n`` pairs ``(human, iso)`` with distinct human strings, none of them in ``exclude``."""
    pairs, seen = [], set(exclude)
    for src, tgt in _stream(seed, formats):
        if len(pairs) == n:
            break
        if src not in seen:
            seen.add(src)
            pairs.append((src, tgt))
    return pairs


@functools.lru_cache(maxsize=8)
def train_val_split(n_train: int = 20_000, n_val: int = 1_000, seed: int = 0
                    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The public data: ``(train_pairs, val_pairs)``, disjoint, the same for the same arguments."""
    pairs = random_pairs(n_train + n_val, seed)
    return pairs[:n_train], pairs[n_train:]


def heldout_split(seed: int, n: int = 1_000) -> list[tuple[str, str]]:
    """``n`` pairs drawn with ``seed`` whose inputs are in no part of the default public split.

    The grader calls this with a seed that only its hidden tests know.
    """
    train, val = train_val_split()
    return random_pairs(n, seed, exclude=frozenset(s for s, _ in train + val))


FILLER = ("we", "meet", "on", "the", "day", "after", "before", "lunch", "please", "note", "that",
          "our", "next", "meeting", "is", "set", "for", "at", "noon", "in", "room", "seven", "it",
          "was", "moved", "to", "and", "will", "be", "held", "by", "video", "call", "as", "usual")


def in_sentences(pairs: Sequence[tuple[str, str]], max_extra: int = 60, seed: int = 0,
                 where: str = "both") -> list[tuple[str, str]]:
    """The same pairs with each date among filler words (about ``max_extra`` more characters at most).

    The extra length is uniform in [0, max_extra]; with ``where="both"`` it is split at random
    between words before and after the date, with ``where="after"`` all words follow it.
    Chapters 6 and 7 use it to make inputs longer without adding information; the target
    is unchanged.
    """
    if where not in ("both", "after"):
        raise ValueError(f"where must be 'both' or 'after', got {where!r}")
    rng = random.Random(seed)
    out = []
    for src, tgt in pairs:
        budget = rng.randint(0, max_extra)
        before = rng.randint(0, budget) if where == "both" else 0
        words = [[], []]
        for side, room in enumerate((before, budget - before)):
            while room > 0:
                w = rng.choice(FILLER)
                words[side].append(w)
                room -= len(w) + 1
        out.append((" ".join(words[0] + [src.strip()] + words[1]), tgt))
    return out


def date_lists(n: int, max_dates: int = 3, seed: int = 0, formats: Sequence[str] | None = None
               ) -> list[tuple[str, str]]:
    """``n`` pairs like ``("3 May 1979; 05.03.20", "1979-05-03 2020-03-05")`` with 1 to ``max_dates`` dates.

    The information to translate grows with the number of dates: chapter 6 uses these to
    strain the fixed-size context of an encoder-decoder (targets use ``LIST_TARGET_VOCAB``).
    """
    rng = random.Random(seed)
    names = list(formats or FORMATS)
    out = []
    for _ in range(n):
        ds = [random_date(rng) for _ in range(rng.randint(1, max_dates))]
        out.append(("; ".join(format_date(d, rng.choice(names), rng).strip() for d in ds),
                    " ".join(iso(d) for d in ds)))
    return out


SOURCE_VOCAB = Vocab(SPECIALS + tuple(SOURCE_CHARS))
TARGET_VOCAB = Vocab(SPECIALS + tuple("-0123456789"))
LIST_TARGET_VOCAB = Vocab(SPECIALS + tuple("-0123456789 "))  # for date_lists


def encode_pairs(pairs: Sequence[tuple[str, str]], target_vocab: Vocab = TARGET_VOCAB
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(src, tgt)``: sources ``(N, S)`` without framing; targets ``(N, 12)`` as ``<sos> 2020-03-05 <eos>``."""
    src = encode_batch([s for s, _ in pairs], SOURCE_VOCAB)
    tgt = encode_batch([t for _, t in pairs], target_vocab, sos=True, eos=True)
    return src, tgt


def batches(pairs: Sequence[tuple[str, str]], batch_size: int = 128, seed: int = 0,
            target_vocab: Vocab = TARGET_VOCAB) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(src, tgt)`` batches (see ``encode_pairs``), reshuffled every epoch."""
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    while True:
        rng.shuffle(order)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            yield encode_pairs([pairs[j] for j in order[i:i + batch_size]], target_vocab)
