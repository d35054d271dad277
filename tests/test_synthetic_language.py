"""The synthetic language of chapter 2: exact entropy rate, sampling, log-probabilities."""

import math

import numpy as np
import pytest

from rnncourse.data.synthetic_language import EOS, TOY_ENGLISH, FiniteStateSource


def two_state_chain(p: float, q: float) -> FiniteStateSource:
    """A emits 'x' (stay, prob 1-p) or 'y' (go to B, prob p); B emits 'y' (stay, 1-q) or 'x' (to A, q)."""
    return FiniteStateSource({"A": [("x", 1 - p, "A"), ("y", p, "B")],
                              "B": [("y", 1 - q, "B"), ("x", q, "A")]}, start="A")


def h2(p: float) -> float:
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def test_entropy_rate_of_a_two_state_chain_by_hand():
    # Stationary distribution (q, p) / (p + q); entropy rate = pi_A h(p) + pi_B h(q).
    p, q = 0.1, 0.4
    src = two_state_chain(p, q)
    np.testing.assert_allclose(src.stationary(), [q / (p + q), p / (p + q)], rtol=1e-12)
    expected = (q * h2(p) + p * h2(q)) / (p + q)
    assert src.entropy_rate() == pytest.approx(expected, rel=1e-12)
    assert src.perplexity_bound() == pytest.approx(math.exp(expected), rel=1e-12)


def test_deterministic_cycle_has_zero_entropy_and_fair_coin_has_log2():
    cycle = FiniteStateSource({"A": [("a", 1.0, "B")], "B": [("b", 1.0, "A")]}, start="A")
    assert cycle.entropy_rate() == pytest.approx(0.0, abs=1e-15)
    coin = FiniteStateSource({"S": [("h", 0.5, "S"), ("t", 0.5, "S")]}, start="S")
    assert coin.entropy_rate() == pytest.approx(math.log(2), rel=1e-12)
    assert coin.perplexity_bound() == pytest.approx(2.0, rel=1e-12)
    assert coin.unigram_entropy() == pytest.approx(math.log(2), rel=1e-12)


def test_invalid_sources_are_rejected():
    with pytest.raises(ValueError, match="unifilar"):
        FiniteStateSource({"A": [("a", 0.5, "A"), ("a", 0.5, "A")]}, start="A")
    with pytest.raises(ValueError, match="sum"):
        FiniteStateSource({"A": [("a", 0.5, "A")]}, start="A")
    with pytest.raises(ValueError, match="unknown state"):
        FiniteStateSource({"A": [("a", 1.0, "Z")]}, start="A")


def test_samples_match_the_entropy_rate():
    src = two_state_chain(0.2, 0.3)
    ids = src.sample(100_000, seed=1)
    per_token = -src.log_prob(ids) / len(ids)
    assert per_token == pytest.approx(src.entropy_rate(), abs=0.01)
    assert src.sample(50, seed=3).tolist() == src.sample(50, seed=3).tolist()


def test_toy_english():
    src = TOY_ENGLISH
    assert src.vocab[0] == EOS
    H = src.entropy_rate()
    assert 0 < H < src.unigram_entropy()
    ids = src.sample(5000, seed=0)
    assert np.isfinite(src.log_prob(ids))
    text = src.decode(ids)
    assert text.startswith(("the ", "a "))
    # Agreement holds in every sentence: a singular subject never meets "were".
    for sentence in text.split("\n"):
        words = sentence.split()
        if "was" in words or "were" in words:
            plural = words[1] in ("cats", "dogs")
            assert ("were" in words) == plural, sentence
    # A sentence that breaks agreement is impossible.
    bad = [src.index[w] for w in "the cat which ate apple were full . <EOS>".split()]
    assert src.log_prob(bad) == -math.inf
