"""The date-translation data of chapters 6 and 7 (rnncourse.data.dates): fast checks."""

import datetime as dt
import random
import re
from collections import Counter

import pytest
import torch

from rnncourse.data import dates


def test_examples_from_the_issue():
    d = dt.date(2020, 3, 5)
    expected = {
        "dddd, MMMM d yyyy": "Thursday, March 5 2020",
        "dd.mm.yy": "05.03.20",
        "mmmm dth, yyyy": "march 5th, 2020",
        "yyyy/m/d": "2020/3/5",
        "d-mmm-yyyy": "5-mar-2020",
        "yyyy-mm-dd": "2020-03-05",
        "mm/dd/yyyy": "03/05/2020",
    }
    for fmt, text in expected.items():
        assert dates.format_date(d, fmt, noise=False) == text
    assert dates.format_date(dt.date(1979, 5, 3), "d MMMM yyyy", noise=False) == "3 May 1979"
    assert dates.iso(d) == "2020-03-05"


@pytest.mark.parametrize("day, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"),
                                       (12, "12th"), (13, "13th"), (21, "21st"), (22, "22nd"),
                                       (23, "23rd"), (31, "31st")])
def test_ordinals(day, text):
    assert dates.format_date(dt.date(2001, 1, day), "the dth of MMMM yyyy", noise=False) == \
        f"the {text} of January 2001"


def test_weekdays_come_from_the_calendar():
    rng = random.Random(0)
    for _ in range(200):
        d = dates.random_date(rng)
        text = dates.format_date(d, "dddd, MMMM d yyyy", noise=False)
        assert text.split(",")[0] == dates.WEEKDAYS[d.weekday()]


def _parse_back(text: str) -> dt.date:
    """Independent check that a noiseless string denotes its date (one parser per format)."""
    months = {m.lower()[:3]: i + 1 for i, m in enumerate(dates.MONTHS)}
    t = text.lower()
    nums = [int(n) for n in re.findall(r"\d+", t)]
    names = [months[w[:3]] for w in re.findall(r"[a-z]+", t) if w[:3] in months]
    if re.fullmatch(r"\d{8}", t):
        return dt.date(int(t[:4]), int(t[4:6]), int(t[6:]))
    if "/" in t and len(t.split("/")[0]) == 4 or "-" in t and not names:
        y, m, d = nums
        return dt.date(y, m, d)
    if "/" in t:
        m, d, y = nums
        return dt.date(y, m, d)
    if "." in t and not names:
        d, m, y = nums
    else:
        (m,) = names
        d, y = nums
    if y < 100:
        y += 2000 if y < 50 else 1900
    return dt.date(y, m, d)


def test_every_format_round_trips():
    rng = random.Random(1)
    for fmt in dates.FORMATS:
        for _ in range(50):
            d = dates.random_date(rng)
            assert _parse_back(dates.format_date(d, fmt, rng, noise=False)) == d, fmt


def test_noise_keeps_the_meaning_and_the_alphabet():
    pairs = dates.random_pairs(3000, seed=3)
    for src, tgt in pairs:
        assert set(src) <= set(dates.SOURCE_CHARS), src
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", tgt)
        assert dates.FIRST <= dt.date.fromisoformat(tgt) <= dates.LAST
    clean = {dates.FORMATS[f](dt.date(2020, 3, 5), random.Random(0)).lower() for f in dates.FORMATS}
    assert len(clean) == len(dates.FORMATS)
    # noise happens: some upper case, some doubled spaces, some dropped commas
    srcs = [s for s, _ in pairs]
    assert any(s.isupper() for s in srcs) and any("  " in s for s in srcs)


def test_splits_are_deterministic_and_disjoint():
    train, val = dates.train_val_split()
    train2, val2 = dates.train_val_split()
    assert train == train2 and val == val2
    assert len(train) == 20_000 and len(val) == 1_000
    srcs = [s for s, _ in train + val]
    assert len(set(srcs)) == len(srcs)
    other, _ = dates.train_val_split(n_train=100, n_val=10, seed=1)
    assert other != train[:100]
    held = dates.heldout_split(seed=12345, n=500)
    assert held == dates.heldout_split(seed=12345, n=500)
    assert not {s for s, _ in held} & set(srcs)
    assert held != dates.heldout_split(seed=54321, n=500)


def test_vocabularies():
    for vocab in (dates.SOURCE_VOCAB, dates.TARGET_VOCAB):
        assert vocab.itos[:4] == ("<pad>", "<sos>", "<eos>", "<unk>")
        assert (dates.PAD, dates.SOS, dates.EOS, dates.UNK) == (0, 1, 2, 3)
        assert len(set(vocab.itos)) == len(vocab)
    assert len(dates.TARGET_VOCAB) == 15
    ids = dates.SOURCE_VOCAB.encode("5 mar é", sos=True, eos=True)
    assert ids[0] == dates.SOS and ids[-1] == dates.EOS and ids[-2] == dates.UNK
    assert dates.TARGET_VOCAB.decode(dates.TARGET_VOCAB.encode("2020-03-05", sos=True, eos=True)
                                     + [5, 6]) == "2020-03-05"


def test_batches_shapes_and_padding():
    train, _ = dates.train_val_split()
    src, tgt = next(dates.batches(train, batch_size=16, seed=0))
    assert src.dtype == tgt.dtype == torch.long
    assert src.shape[0] == tgt.shape[0] == 16
    assert tgt.shape[1] == dates.TARGET_LEN + 2
    assert (tgt[:, 0] == dates.SOS).all() and (tgt[:, -1] == dates.EOS).all()
    lengths = (src != dates.PAD).sum(1)
    assert lengths.max() == src.shape[1]
    for row, n in zip(src, lengths, strict=True):  # padding only at the end
        assert (row[:n] != dates.PAD).all() and (row[n:] == dates.PAD).all()
    a = [next(dates.batches(train, 8, seed=5))[0] for _ in range(2)]
    assert torch.equal(a[0], a[1])


def test_in_sentences_keeps_targets():
    _, val = dates.train_val_split()
    longer = dates.in_sentences(val[:200], max_extra=40, seed=0)
    for (s, t), (s2, t2) in zip(val[:200], longer, strict=True):
        assert t == t2 and s.strip() in s2 and len(s2) <= len(s.strip()) + 40 + 16
    assert max(len(s) for s, _ in longer) > max(len(s) for s, _ in val[:200])


def test_date_lists():
    pairs = dates.date_lists(300, max_dates=3, seed=0)
    assert pairs == dates.date_lists(300, max_dates=3, seed=0)
    counts = Counter(len(t.split()) for _, t in pairs)
    assert set(counts) == {1, 2, 3}
    for src, tgt in pairs:
        assert len(src.split(";")) == len(tgt.split())
        assert set(src) <= set(dates.SOURCE_CHARS)
        ids = dates.LIST_TARGET_VOCAB.encode(tgt)
        assert dates.UNK not in ids and dates.LIST_TARGET_VOCAB.decode(ids) == tgt


def test_filler_only_after():
    _, val = dates.train_val_split()
    after = dates.in_sentences(val[:100], max_extra=30, seed=1, where="after")
    assert all(s2.startswith(s.strip()) for (s, _), (s2, _) in zip(val[:100], after, strict=True))
    with pytest.raises(ValueError):
        dates.in_sentences(val[:1], where="before")
