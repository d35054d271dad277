"""One training loop for every model in the course (makemore style).

Models follow one shape: ``forward(x, targets=None) -> (logits, loss)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

try:  # tqdm's notebook bar needs ipywidgets; without it tqdm.auto warns in a notebook's
    import ipywidgets  # noqa: F401  first cell ("IProgress not found"): a text bar then
except ImportError:
    from tqdm.std import tqdm
else:
    from tqdm.auto import tqdm


@dataclass
class History:
    """What ``train`` measured: loss per step and the evaluations it ran."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    evals: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False


def warmup_cosine(steps: int, warmup: int = 200, floor: float = 0.05) -> Callable[[int], float]:
    """A learning-rate schedule for ``train(..., schedule=...)``: the factor by which step ``t``
    (0-based) scales ``lr``. It rises linearly over ``warmup`` steps (Adam's first steps, with
    its moment estimates still poor, are the ones most likely to throw a recurrent network off),
    then falls along half a cosine to ``floor`` at the last step: large steps while the loss is
    far from a minimum, small ones at the end, so that the final weights settle instead of
    jumping about the bottom of the valley with the batches' noise."""
    def factor(t: int) -> float:
        if t < warmup:
            return (t + 1) / warmup
        done = (t - warmup) / max(1, steps - 1 - warmup)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))
    return factor


def train(
    model: torch.nn.Module,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: int,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    clip_norm: float | None = 1.0,
    device: torch.device | str = "cpu",
    evaluate: Callable[[torch.nn.Module], float] | None = None,
    eval_every: int = 100,
    target: float | None = None,
    time_limit: float | None = None,
    progress: bool = True,
    autocast: torch.dtype | None = None,
    schedule: Callable[[int], float] | None = None,
) -> History:
    """Train with AdamW, optional global-norm clipping, periodic evaluation.

    ``batches`` yields ``(x, y)`` pairs (moved to ``device`` here). ``evaluate(model)``
    returns a score where higher is better; training stops early once it reaches
    ``target``, or when ``time_limit`` seconds have passed. ``autocast`` (e.g.
    ``torch.bfloat16`` on CUDA) runs the forward pass in mixed precision; evaluation does not.
    ``schedule(t)`` scales ``lr`` at step ``t`` (0-based), e.g. ``warmup_cosine(steps)``; without
    it the rate stays ``lr``.
    """
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule) if schedule is not None else None
    hist = History()
    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), disable=not progress, leave=False)
    for step in bar:
        x, y = next(batches)
        model.train()
        with torch.autocast(torch.device(device).type, dtype=autocast, enabled=autocast is not None):
            _, loss = model(x.to(device), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        opt.step()
        if sched is not None:
            sched.step()
        hist.steps.append(step)
        hist.loss.append(loss.item())
        if evaluate is not None and (step % eval_every == 0 or step == steps):
            model.eval()
            with torch.no_grad():
                score = float(evaluate(model))
            hist.evals.append((step, score))
            bar.set_postfix(loss=f"{loss.item():.3f}", score=f"{score:.3f}")
            if target is not None and score >= target:
                hist.stopped_early = step < steps
                break
        if time_limit is not None and time.perf_counter() - start > time_limit:
            hist.stopped_early = True
            break
    hist.seconds = time.perf_counter() - start
    model.eval()
    return hist
