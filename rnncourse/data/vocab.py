"""Tokens <-> indices for the course's encoder-decoder tasks (dates in chapters 6-7, G2P in 8).

One convention for every sequence-to-sequence data set: index 0 is ``<pad>``, then
``<sos>``, ``<eos>``, ``<unk>``, then the task's tokens. A token is a character (dates,
spellings) or any other string (ARPAbet phonemes such as ``"AH0"``): ``Vocab.encode`` iterates
over its input, so a ``str`` gives characters and a list of symbols gives symbols.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

SPECIALS = ("<pad>", "<sos>", "<eos>", "<unk>")
PAD, SOS, EOS, UNK = 0, 1, 2, 3


@dataclass(frozen=True)
class Vocab:
    """Tokens <-> indices. Index 0 is ``<pad>``, then ``<sos>``, ``<eos>``, ``<unk>``."""

    itos: tuple[str, ...]

    @functools.cached_property
    def stoi(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str | Sequence[str], *, sos: bool = False, eos: bool = False) -> list[int]:
        """Indices of ``text``'s tokens (``<unk>`` for unknown ones), framed as asked."""
        ids = [self.stoi.get(c, UNK) for c in text]
        return ([SOS] if sos else []) + ids + ([EOS] if eos else [])

    def tokens(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """The tokens of ``ids``: stops at the first ``<eos>``, skips ``<pad>`` and ``<sos>``."""
        out = []
        for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
            if i == EOS:
                break
            if i in (PAD, SOS):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else self.itos[UNK])
        return out

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of ``ids`` (``tokens`` joined without separator)."""
        return "".join(self.tokens(ids))


def encode_batch(texts: Sequence[str | Sequence[str]], vocab: Vocab, *, sos: bool = False,
                 eos: bool = False) -> torch.Tensor:
    """(N, T) int64 tensor of the encoded ``texts``, right-padded with ``<pad>`` (0)."""
    rows = [vocab.encode(t, sos=sos, eos=eos) for t in texts]
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.long)
    for i, ids in enumerate(rows):
        out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out
