"""The position task of chapter 1 (rnncourse.data.position): shapes, labels, determinism."""

import pytest
import torch

from rnncourse.data.position import (
    PositionTask,
    per_position_test_set,
    position_batch,
    position_batches,
)

TASK = PositionTask(seq_len=12, num_classes=3, num_noise=5)


def test_shapes_and_dtypes():
    x, y, pos = position_batch(7, TASK, seed=0)
    assert x.shape == (7, 12) and y.shape == (7,) and pos.shape == (7,)
    assert x.dtype == y.dtype == pos.dtype == torch.int64
    assert TASK.vocab_size == 8
    assert 0 <= x.min() and x.max() < TASK.vocab_size


@pytest.mark.parametrize("position", [0, 5, 11])
def test_label_sits_at_the_controlled_position(position):
    x, y, pos = position_batch(50, TASK, position, seed=3)
    assert (pos == position).all()
    assert torch.equal(x[:, position], y), "the token at the position must be the label's signal token"
    others = torch.cat([x[:, :position], x[:, position + 1:]], dim=1)
    assert (others >= TASK.num_classes).all(), "every other token must be a noise token"


def test_exactly_one_signal_token_with_random_positions():
    x, y, pos = position_batch(200, TASK, seed=1)
    is_signal = x < TASK.num_classes
    assert (is_signal.sum(dim=1) == 1).all()
    assert torch.equal(is_signal.float().argmax(dim=1), pos)
    assert torch.equal(x[torch.arange(200), pos], y)
    assert set(pos.tolist()) == set(range(TASK.seq_len)), "random positions should cover 0..T-1"
    assert set(y.tolist()) == set(range(TASK.num_classes))


def test_one_position_per_sequence():
    positions = torch.tensor([0, 3, 11, 3])
    x, y, pos = position_batch(4, TASK, positions, seed=2)
    assert torch.equal(pos, positions)
    assert torch.equal(x[torch.arange(4), positions], y)


def test_same_seed_same_data_other_seed_other_data():
    a = position_batch(20, TASK, seed=4)
    b = position_batch(20, TASK, seed=4)
    c = position_batch(20, TASK, seed=5)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_generator_advances_and_batches_are_reproducible():
    g = torch.Generator().manual_seed(0)
    first, second = position_batch(8, TASK, generator=g)[0], position_batch(8, TASK, generator=g)[0]
    assert not torch.equal(first, second)
    it1, it2 = position_batches(8, TASK, seed=9), position_batches(8, TASK, seed=9)
    for _ in range(3):
        (x1, y1), (x2, y2) = next(it1), next(it2)
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_per_position_test_set():
    sets = per_position_test_set(10, TASK, seed=1)
    assert len(sets) == TASK.seq_len
    for p, (x, y) in enumerate(sets):
        assert x.shape == (10, 12)
        assert torch.equal(x[:, p], y)
    again = per_position_test_set(10, TASK, seed=1)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(sets, again, strict=True))


def test_bad_position_and_arguments_raise():
    with pytest.raises(ValueError):
        position_batch(3, TASK, 12, seed=0)
    with pytest.raises(ValueError):
        position_batch(3, TASK, -1, seed=0)
    with pytest.raises(ValueError):
        position_batch(3, TASK, generator=torch.Generator(), seed=1)


def test_experiment_models_follow_the_course_shape():
    from rnncourse.experiments.position import MODELS

    x, y, _ = position_batch(5, TASK, seed=0)
    for name, cls in MODELS.items():
        torch.manual_seed(0)
        logits, loss = cls(TASK.vocab_size, TASK.num_classes)(x, y)
        assert logits.shape == (5, TASK.num_classes), name
        assert loss.dim() == 0 and torch.isfinite(loss), name
        assert cls(TASK.vocab_size, TASK.num_classes)(x)[1] is None, name
