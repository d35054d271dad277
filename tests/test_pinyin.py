"""Chapter 8's Chinese reader: pypinyin's phrase dictionary and its split (rnncourse.data.pinyin),
the per-character-majority baseline, and the bidirectional GRU tagger
(rnncourse.experiments.pinyin_tagger). Fast: no training beyond a few steps."""

import pytest
import torch

from rnncourse.data import pinyin as Y
from rnncourse.data.vocab import PAD, UNK
from rnncourse.experiments import pinyin_tagger as T

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- the dictionary and its split -----------------------------------------------------------------

def test_the_phrases_are_pypinyins_with_one_reading_per_character():
    phrases = Y.phrases()
    assert len(phrases) == 47_111 and sum(map(len, phrases)) == 143_861  # pypinyin 0.55.0
    assert phrases["银行"] == ("yín", "háng") and phrases["行走"] == ("xíng", "zǒu")
    assert phrases["长度"] == ("cháng", "dù") and phrases["长大"] == ("zhǎng", "dà")
    assert phrases["朝阳"] == ("zhāo", "yáng")  # two readings listed for 朝: the first is kept
    assert all(len(r) == len(p) for p, r in phrases.items())


def test_the_split_is_a_stable_hash_of_the_phrase():
    """Pinned buckets: the split may not depend on the process, the machine or the file's order."""
    assert Y.split_of("音乐") == Y.split_of("快乐") == "test" and Y.split_of("银行") == "train"
    import hashlib

    digest = hashlib.blake2b("银行".encode(), digest_size=8, person=b"rnncourse-pinyin").digest()
    assert Y.bucket("银行") == int.from_bytes(digest, "big") % 1000


def test_the_parts_are_disjoint_sorted_and_cover_the_dictionary():
    parts = {name: Y.split(name) for name in Y.SPLITS}
    sizes = {name: len(pairs) for name, pairs in parts.items()}
    assert sizes == {"train": 37_571, "validation": 4_770, "test": 4_770}  # pinned for pypinyin 0.55.0
    phrases = [set(p for p, _ in pairs) for pairs in parts.values()]
    assert sum(map(len, phrases)) == len(set.union(*phrases)) == len(Y.phrases())
    for name, pairs in parts.items():
        assert [p for p, _ in pairs] == sorted(p for p, _ in pairs)
        assert all(Y.split_of(p) == name and Y.phrases()[p] == r for p, r in pairs)
    assert Y.split("test") == Y.split("test")
    with pytest.raises(ValueError):
        Y.split("dev")


# -- the baseline ---------------------------------------------------------------------------------

HAND = [("银行", ("yín", "háng")), ("行走", ("xíng", "zǒu")), ("行人", ("xíng", "rén")),
        ("长度", ("cháng", "dù")), ("长大", ("zhǎng", "dà"))]


def test_readings_polyphonic_and_majority_on_a_hand_example():
    counts = Y.readings(HAND)
    assert counts["行"] == {"xíng": 2, "háng": 1} and counts["长"] == {"cháng": 1, "zhǎng": 1}
    assert Y.polyphonic(HAND) == {"行", "长"}  # two readings or more in these phrases
    maj = Y.majority(HAND)
    assert maj["行"] == "xíng"  # 2 against 1
    assert maj["长"] == "cháng"  # a tie: the first in Unicode order ("c" < "z")
    assert maj["银"] == "yín" and maj["走"] == "zǒu"
    assert Y.majority(list(reversed(HAND))) == maj  # the order of the phrases does not matter


def test_polyphone_accuracy_counts_only_polyphonic_characters():
    preds = [("yín", "xíng"), ("xíng", "zǒu"), ("xíng", "rén"), ("cháng", "dù"), ("cháng", "dà")]
    right, total = T.polyphone_accuracy(preds, HAND, Y.polyphonic(HAND))
    assert (right, total) == (3, 5)  # 行 in 银行 wrong, 长 in 长大 wrong; 银 走 人 度 大 not counted
    maj = Y.majority(HAND)
    baseline = [tuple(maj[c] for c in p) for p, _ in HAND]
    assert baseline == preds  # the majority baseline is exactly these readings


# -- the tagger -----------------------------------------------------------------------------------

def test_candidates_list_each_characters_readings_most_frequent_first():
    chars, labels = Y.vocabularies(HAND)
    cands = Y.candidates(HAND, chars, labels)
    assert cands.shape == (len(chars), 2)
    row = [labels.itos[i] for i in cands[chars.stoi["行"]].tolist()]
    assert row == ["xíng", "háng"]
    assert cands[chars.stoi["银"]].tolist() == [labels.stoi["yín"], PAD]
    assert cands[UNK].tolist() == [UNK, PAD]


def test_tagger_shapes_padding_and_prediction():
    torch.manual_seed(0)
    chars, labels = Y.vocabularies(HAND)
    model = T.Tagger(Y.candidates(HAND, chars, labels), len(labels), embed_dim=8, hidden_size=6).eval()
    src, tgt = Y.encode(HAND + [("行走银", ("xíng", "zǒu", "yín"))], chars, labels)
    assert src.shape == tgt.shape == (6, 3)
    cands, scores = model.scores(src)
    assert cands.shape == scores.shape == (6, 3, 2)
    assert torch.isinf(scores[0, 0, 1]) and torch.isfinite(scores[0, 1]).all()  # 银 has one reading, 行 two
    _, loss = model(src, tgt)
    assert loss.ndim == 0 and torch.isfinite(loss)
    # a phrase's states do not depend on the padding of its batch (packed sequences)
    alone = model.encode(src[:1, :2])
    assert torch.allclose(alone, model.encode(src)[:1, :2], atol=1e-6)
    preds = T.predict(model, [p for p, _ in HAND], chars, labels)
    assert [len(r) for r in preds] == [len(p) for p, _ in HAND]
    assert preds[0][0] == "yín" and preds[1][1] == "zǒu"  # one candidate: its one reading


def test_a_few_steps_of_training_learn_the_hand_example():
    run = T.train_tagger(HAND * 20, steps=60, batch_size=10, lr=3e-2, embed_dim=8, hidden_size=8)
    assert run.steps == 60 and run.loss[-1] < run.loss[0]
    preds = T.predict(run.model, [p for p, _ in HAND], run.chars, run.labels)
    assert preds == [r for _, r in HAND]  # context decides 行 and 长
