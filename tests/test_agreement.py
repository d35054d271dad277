"""The agreement task of chapters 3-5: shapes, labels, distances, padding, determinism."""

import numpy as np
import pytest
import torch

from rnncourse.data import agreement
from rnncourse.data.agreement import VOCAB, agreement_batches, decode, make_agreement_data


def test_fixed_distance_rows():
    x, y = make_agreement_data(500, 7, seed=0)
    assert x.shape == (500, 9) and y.shape == (500,)
    assert x.dtype == torch.int64 and y.dtype == torch.int64
    sg = set(VOCAB.singular_ids().tolist())
    assert set(x[:, 1].tolist()) <= sg | set(VOCAB.plural_ids().tolist())
    assert (x[:, 0] == VOCAB.index("the")).all()
    assert (x[:, 2] == VOCAB.index("which")).all() and (x[:, 3] == VOCAB.index("ate")).all()
    assert set(x[:, 4:].flatten().tolist()) <= set(VOCAB.food_ids().tolist())
    labels = np.array([0 if v in sg else 1 for v in x[:, 1].tolist()])
    assert (labels == y.numpy()).all()
    assert 0.4 < y.float().mean() < 0.6


def test_short_distances_and_ranges_are_left_padded():
    for d in (0, 1, 2):
        x, _ = make_agreement_data(10, d, seed=d)
        assert x.shape == (10, d + 2) and (x != 0).all()
    x, _ = make_agreement_data(300, (1, 6), seed=4)
    assert x.shape == (300, 8)
    lengths = (x != agreement.VOCAB.index(agreement.PAD)).sum(1)
    assert set(lengths.tolist()) == {3, 4, 5, 6, 7, 8}
    for row, n in zip(x, lengths, strict=True):  # padding only on the left
        assert (row[: 8 - n] == 0).all() and row[8 - n] == VOCAB.index("the")


def test_determinism_and_batches():
    a = make_agreement_data(20, 5, seed=1)
    b = make_agreement_data(20, 5, seed=1)
    c = make_agreement_data(20, 5, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    it = agreement_batches(8, 3, seed=0)
    first, second = next(it), next(it)
    assert first[0].shape == (8, 5) and not torch.equal(first[0], second[0])
    again = next(agreement_batches(8, 3, seed=0))
    assert torch.equal(first[0], again[0])


def test_decode_and_errors():
    x, y = make_agreement_data(3, 3, seed=0)
    texts = decode(x)
    assert all(t.startswith("the ") and " which ate " in t for t in texts)
    assert len(texts[0].split()) == 5
    with pytest.raises(ValueError):
        make_agreement_data(3, -1)
    with pytest.raises(ValueError):
        make_agreement_data(3, (5, 2))
