"""Train / validation / test by a stable hash of each item itself, for chapter 8's data sets
(``pronunciations``: English words; ``pinyin``: Chinese phrases).

An item's bucket is BLAKE2b of its UTF-8 text, personalised per data set (so the two splits are
independent), modulo 1000: the same on every machine, in every run and Python version (unlike
``hash()``, which is salted per process), and it does not move when the data set grows. Buckets
0-799 are training, 800-899 validation, 900-999 test. (``names`` keeps its own, older CRC-32
split: its buckets are pinned by exercise data.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

BUCKETS = 1000
SPLITS = {"train": range(0, 800), "validation": range(800, 900), "test": range(900, 1000)}
T = TypeVar("T")


class HashSplit:
    """One data set's split, personalised by ``person`` (so two data sets' splits are
    independent). A data set module binds its own (``bucket, split_of = SPLIT.bucket,
    SPLIT.split_of``)."""

    def __init__(self, person: bytes):
        self.person = person

    def bucket(self, text: str) -> int:
        """``text``'s bucket in 0..BUCKETS-1 (stable across machines, runs and Python versions)."""
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, person=self.person).digest()
        return int.from_bytes(digest, "big") % BUCKETS

    def split_of(self, text: str) -> str:
        """``"train"``, ``"validation"`` or ``"test"``: where ``text``'s bucket falls."""
        b = self.bucket(text)
        return next(name for name, r in SPLITS.items() if b in r)

    def partition(self, items: Iterable[T], text: Callable[[T], str]) -> dict[str, tuple[T, ...]]:
        """The items of each part, in the order given (``text(item)`` is what is hashed)."""
        table: dict[str, list[T]] = {name: [] for name in SPLITS}
        for item in items:
            table[self.split_of(text(item))].append(item)
        return {name: tuple(part) for name, part in table.items()}
