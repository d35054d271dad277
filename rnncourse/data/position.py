"""Where is the decisive token? A classification task with the evidence at a chosen position.

Used by chapter 1 ("RNN vs CNN for text") to measure how a model's accuracy depends on
*where* in a sequence the information sits. A sequence of ``seq_len`` tokens holds exactly
one *signal* token at position ``p``; every other token is noise. The label is the signal
token's class.

Token ids: ``0 .. num_classes - 1`` are the signal tokens (token ``c`` means class ``c``),
``num_classes .. num_classes + num_noise - 1`` are noise tokens, drawn uniformly.
Everything is drawn from a seeded ``torch.Generator``: the same seed gives the same data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PositionTask:
    """The task's sizes."""

    seq_len: int = 32  # T: tokens per sequence
    num_classes: int = 4  # C: signal tokens, one per class (chance accuracy is 1 / C)
    num_noise: int = 2000  # noise tokens ("other words"): many, each one rare, as in text

    @property
    def vocab_size(self) -> int:
        """Number of distinct token ids: signal plus noise tokens."""
        return self.num_classes + self.num_noise


def position_batch(
    n: int,
    task: PositionTask = PositionTask(),
    position: int | torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` sequences: ``x (n, T)`` int64 tokens, ``y (n,)`` labels, ``pos (n,)`` positions.

    ``position`` puts the signal token at that index (an int, or one index per sequence);
    ``None`` draws it uniformly from ``0 .. T-1``. Pass either a ``generator`` (advanced by
    the call) or a ``seed``.
    """
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
    elif seed is not None:
        raise ValueError("pass either generator or seed, not both")
    T, C = task.seq_len, task.num_classes
    if position is None:
        pos = torch.randint(0, T, (n,), generator=generator)
    else:
        pos = torch.as_tensor(position, dtype=torch.long).expand(n).clone()
    if pos.numel() and (pos.min() < 0 or pos.max() >= T):
        raise ValueError(f"positions must lie in [0, {T - 1}], got {pos.min()}..{pos.max()}")
    x = torch.randint(C, C + task.num_noise, (n, T), generator=generator)
    y = torch.randint(0, C, (n,), generator=generator)
    x[torch.arange(n), pos] = y
    return x, y, pos


def position_batches(
    batch_size: int, task: PositionTask = PositionTask(), seed: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless training minibatches ``(x, y)`` with uniformly drawn positions (for ``train``)."""
    g = torch.Generator().manual_seed(seed)
    while True:
        x, y, _ = position_batch(batch_size, task, generator=g)
        yield x, y


def per_position_test_set(
    n_per_position: int, task: PositionTask = PositionTask(), seed: int = 1
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One fixed test set per position: element ``p`` is ``(x, y)`` with the signal at ``p``."""
    g = torch.Generator().manual_seed(seed)
    return [position_batch(n_per_position, task, p, generator=g)[:2] for p in range(task.seq_len)]
