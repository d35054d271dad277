"""First names from Faker for exercise 2: deterministic, clean, split, encoded for teacher forcing."""

import torch

from rnncourse.data import names


def test_names_are_clean_sorted_unique():
    all_names = names.load_names()
    assert len(all_names) > 3000
    assert list(all_names) == sorted(set(all_names))
    assert all(2 <= len(n) <= 15 and set(n) <= set(names.ALPHABET) for n in all_names)
    assert "aime" in all_names or "andre" in all_names  # accents folded (Aimé, André)


def test_public_and_reserved_partition():
    public, reserved = set(names.public_names()), set(names.reserved_names())
    assert not public & reserved
    assert public | reserved == set(names.load_names())
    assert 0.15 < len(reserved) / len(names.load_names()) < 0.25
    train, val = names.train_val_split(seed=0)
    assert set(train) | set(val) == public and not set(train) & set(val)
    assert not (set(train) | set(val)) & reserved
    assert names.train_val_split(seed=0) == (train, val)
    assert names.train_val_split(seed=1)[1] != val


def test_encode_decode_teacher_forcing():
    x, y = names.encode(["ada", "leon"])
    assert x.shape == y.shape == (2, 5)
    assert y[0].tolist() == [1, 4, 1, names.EOS, names.IGNORE]
    assert x[0].tolist() == [names.EOS, 1, 4, 1, 0]
    assert torch.equal(x[1, 1:], y[1, :-1])
    assert names.decode(y[1]) == "leon" and names.decode([1, 2, 0, 3]) == "ab"


def test_batches():
    train, _ = names.train_val_split()
    x, y = next(names.batches(train, batch_size=16, seed=0))
    assert x.shape[0] == 16 and x.shape == y.shape
    assert (y == names.EOS).sum() == 16
