"""rnncourse.train's learning-rate schedule."""

import itertools

import pytest
import torch

from rnncourse import train, warmup_cosine


def test_warmup_cosine_rises_then_falls_to_its_floor():
    f = warmup_cosine(1000, warmup=100, floor=0.05)
    assert f(0) == pytest.approx(0.01)
    assert f(99) == pytest.approx(1.0)
    assert f(999) == pytest.approx(0.05)
    after = [f(t) for t in range(99, 1000)]
    assert all(a >= b for a, b in zip(after[:-1], after[1:], strict=True)), "after the warm-up the rate only falls"
    assert f(99 + 450) == pytest.approx(0.05 + 0.95 * 0.5, abs=2e-3), "half-way down the cosine"


class _Linear(torch.nn.Module):
    """loss = w . x for a constant x: a constant gradient, so each Adam step moves w by lr."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))

    def forward(self, x, y):
        return None, (self.w * x).sum()


@pytest.mark.parametrize("schedule", [None, warmup_cosine(20, warmup=5), lambda t: 0.5 ** t])
def test_train_scales_each_step_by_the_schedule(schedule):
    model = _Linear()
    batches = itertools.repeat((torch.ones(3), torch.zeros(3)))
    train(model, batches, steps=20, lr=0.01, clip_norm=None, progress=False, schedule=schedule)
    moved = sum(0.01 * (schedule(t) if schedule else 1.0) for t in range(20))
    # Adam's step for a constant gradient is lr * g / (|g| + eps): lr, to within eps
    assert torch.allclose(model.w.detach(), torch.full((3,), -moved), rtol=1e-4)
