"""First names for a character-level language model (exercise ``ex02_language_models``).

The names come from the person providers of ``Faker`` (which ships them offline) for
several Latin-script locales. Each name is lower-cased, its accents are removed
(``"Aimé"`` -> ``"aime"``), and only names made of the 26 letters a-z, 2 to 15 of them,
are kept; duplicates across locales count once. The list is sorted, so it is the same on
every machine with the same Faker version.

Names are partitioned by a hash of the name (not by a random draw): buckets 0-79 are the
*public* names that ``train_val_split`` shuffles into training and validation data;
buckets 80-99 are ``reserved_names``, which a grader draws hidden test sets from. Do not
train on them.

Encoding for a language model (chapter 2's conventions): index 0 is ``<EOS>``, index
``1 + i`` the letter ``ALPHABET[i]``. For a name ``y<1..Ty>`` plus ``<EOS>`` the targets
are ``y`` and the inputs are ``x<1> = <EOS>`` (the "nothing before" token that plays the
part of the seed's ``x<1> = 0``), ``x<t> = y<t-1>``. Padding: inputs 0, targets ``IGNORE``.
"""

from __future__ import annotations

import functools
import importlib
import random
import string
import unicodedata
import zlib

import torch

LOCALES: tuple[str, ...] = ("en_US", "en_GB", "en_IE", "de_DE", "fr_FR", "es_ES", "it_IT",
                            "nl_NL", "pt_PT", "sv_SE", "da_DK", "no_NO", "fi_FI")
ALPHABET = string.ascii_lowercase
EOS = 0          # index of <EOS>, also the first input
IGNORE = -100    # target index that torch.nn.functional.cross_entropy skips
PUBLIC_BUCKETS = 80  # of 100


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=4)
def load_names(locales: tuple[str, ...] = LOCALES) -> tuple[str, ...]:
    """All names of ``locales``: lower-case a-z only, 2-15 letters, unique, sorted."""
    names = set()
    for loc in locales:
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for raw in provider.first_names:
            n = _fold(raw)
            if 2 <= len(n) <= 15 and all(c in ALPHABET for c in n):
                names.add(n)
    return tuple(sorted(names))


def bucket(name: str) -> int:
    """The name's bucket in 0..99 (a CRC-32 hash: stable across machines and runs)."""
    return zlib.crc32(name.encode("utf-8")) % 100


def public_names(locales: tuple[str, ...] = LOCALES) -> list[str]:
    """Names in buckets 0-79: the data students train and validate on."""
    return [n for n in load_names(locales) if bucket(n) < PUBLIC_BUCKETS]


def reserved_names(locales: tuple[str, ...] = LOCALES) -> list[str]:
    """Names in buckets 80-99: never in ``train_val_split``; graders test on them."""
    return [n for n in load_names(locales) if bucket(n) >= PUBLIC_BUCKETS]


def train_val_split(seed: int = 0, val_fraction: float = 0.1,
                    locales: tuple[str, ...] = LOCALES) -> tuple[list[str], list[str]]:
    """The public names shuffled with ``seed`` and split into (train, validation)."""
    names = public_names(locales)
    random.Random(seed).shuffle(names)
    n_val = int(round(len(names) * val_fraction))
    return names[n_val:], names[:n_val]


def encode(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forcing pairs ``x, y`` of shape (N, T), T = longest name + 1.

    ``y[n]`` is the name's letters then ``<EOS>`` then ``IGNORE``; ``x[n, 0] = <EOS>``,
    ``x[n, t] = y[n, t - 1]`` and 0 where ``y`` is padding.
    """
    T = max(len(n) for n in names) + 1
    x = torch.zeros((len(names), T), dtype=torch.long)
    y = torch.full((len(names), T), IGNORE, dtype=torch.long)
    for i, name in enumerate(names):
        ids = [1 + ALPHABET.index(c) for c in name] + [EOS]
        y[i, :len(ids)] = torch.tensor(ids)
        x[i, 1:len(ids)] = torch.tensor(ids[:-1])
    return x, y


def decode(ids) -> str:
    """Letters of the indices ``ids`` up to the first ``<EOS>``."""
    out = []
    for i in (ids.tolist() if hasattr(ids, "tolist") else ids):
        if i == EOS:
            break
        out.append(ALPHABET[i - 1])
    return "".join(out)


def batches(names: list[str], batch_size: int = 64, seed: int = 0):
    """Endless shuffled minibatches ``(x, y)`` of ``encode``d names for ``rnncourse.train``."""
    rng = random.Random(seed)
    order = list(range(len(names)))
    while True:
        rng.shuffle(order)
        for s in range(0, len(order) - batch_size + 1, batch_size):
            yield encode([names[i] for i in order[s:s + batch_size]])
