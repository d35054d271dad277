"""Chapter 8's non-neural baseline (rnncourse.experiments.g2p_baseline): the letter-phoneme
alignment and the context table. Fast: a few thousand words."""

import functools

from autograder.oracles.g2p import phoneme_error_rate, word_error_rate
from rnncourse.data import pronunciations as P
from rnncourse.experiments import g2p_baseline as B


@functools.cache
def _fitted():
    pairs = P.pairs(P.train_words()[::25], stress=False, every=False)  # 4,000 words
    logp = B.fit_alignment(pairs, rounds=2)
    return pairs, logp, B.ContextTable(B.EVERY_WINDOW).fit(B.aligned_pairs(pairs, logp))


def test_align_spells_the_pronunciation_with_one_chunk_per_letter():
    pairs, logp, _ = _fitted()
    done = 0
    for word, pron in pairs[:500]:
        chunks = B.align(word, pron, logp)
        if chunks is None:
            assert len(pron) > B.MAX_CHUNK * len(word)
            continue
        done += 1
        assert len(chunks) == len(word)
        assert all(len(c) <= B.MAX_CHUNK for c in chunks)
        assert tuple(p for c in chunks for p in c) == tuple(pron)
    assert done >= 490


def test_align_finds_the_alignment_a_reader_draws():
    _, logp, _ = _fitted()
    lex = P.lexicon()

    def chunks(word):
        return B.align(word, P.strip_stress(lex[word][0]), logp)

    assert chunks("though")[3:] == [(), (), ()]            # o-u-g-h: OW then nothing
    assert chunks("box") == [("B",), ("AA",), ("K", "S")]  # x says two phonemes
    assert chunks("knight")[0] == () and chunks("knight")[1] == ("N",)
    assert chunks("hope")[-1] == ()                        # the silent final e


def test_align_refuses_what_no_alignment_fits_and_is_exact_by_hand():
    logp = {("a", ("X",)): -0.1, ("b", ()): -0.5, ("b", ("Y",)): -0.2, ("b", ("X", "Y")): -3.0}
    assert B.align("ab", ("X", "Y"), logp) == [("X",), ("Y",)]
    assert B.align("b", ("P", "Q", "R"), logp) is None      # three phonemes for one letter
    assert B.align("a", (), logp) == [()]


def test_table_backs_off_to_narrower_contexts_and_reads_left_only_when_told():
    table = B.ContextTable(B.EVERY_WINDOW).fit([("hop", [("HH",), ("AA",), ("P",)]),
                                                ("hope", [("HH",), ("OW",), ("P",), ()])])
    assert table.predict(["hop", "hope"]) == [("HH", "AA", "P"), ("HH", "OW", "P")]
    # left only, the o of "hope" is the o of "hop": the first counted among equals wins
    assert table.predict(["hope"], B.LEFT_ONLY) == [("HH", "AA", "P")]
    # an unseen word backs off letter by letter; an unseen letter says nothing
    assert table.predict(["pooh"]) == [("P", "AA", "AA", "HH")]
    assert table.predict(["z"]) == [()]
    assert table.words == 2


def test_the_table_beats_reading_left_only_on_validation_words():
    _, _, table = _fitted()
    words = P.validation_words()[:400]
    refs = P.references(words, stress=False)
    both = table.predict(words, B.BOTH_SIDES)
    left = table.predict(words, B.LEFT_ONLY)
    assert word_error_rate(both, refs) < word_error_rate(left, refs) - 0.15
    assert phoneme_error_rate(both, refs) < 0.25
    # the left-only windows come after (0, 0), which always answers: the default reads both sides
    assert table.predict(words) == both


# -- g2p_en's pretrained network, run offline (rnncourse.experiments.g2p_en_model) -----------------

def test_pretrained_g2p_en_matches_its_own_predict(monkeypatch):
    """The batched PyTorch run gives what ``g2p_en.G2p.predict`` gives word by word. Importing
    g2p_en asks NLTK to download data, and its constructor reads NLTK's CMUdict: both are
    replaced here, so the test runs offline and checks only the network."""
    import types

    import pytest

    pytest.importorskip("g2p_en", reason="g2p_en is a book dependency")
    import nltk

    from rnncourse.experiments import g2p_en_model

    monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: False)
    from g2p_en import g2p as reference

    monkeypatch.setattr(reference, "cmudict", types.SimpleNamespace(dict=lambda: {}))
    theirs = reference.G2p()
    ours = g2p_en_model.PretrainedG2p()
    words = ["activationist", "pronunciation", "knight", "a", "read", "supercalifragilistic", "zzz", "o'neil"]
    assert ours.predict(words) == [tuple(theirs.predict(w)) for w in words]
    assert ours.predict(words, batch_size=3) == ours.predict(words)
