"""rnncourse.data.chinese: the count-based character model of chapter 2's "10 个小" (fast: ~2 s)."""

import math

import pytest

from rnncourse.data import chinese


def test_the_dictionary_is_jiebas_word_list():
    words = chinese.dictionary()
    assert len(words) > 300_000
    assert chinese.tag_of("个") == "q" and chinese.tag_of("小时") == "n"


def test_probabilities_are_a_distribution_and_the_readings_differ():
    anywhere = chinese.next_char_probs("小")
    start = chinese.next_char_probs("小", word_start=True)
    noun = chinese.next_char_probs("小", word_start=True, tags={"n"})
    for p in (anywhere, start, noun):
        assert math.isclose(sum(p.values()), 1.0) and list(p.values()) == sorted(p.values(), reverse=True)
    assert next(iter(start)) == next(iter(noun)) == "时"
    assert noun["时"] > start["时"] > anywhere["时"]


def test_word_start_counts_only_words_that_begin_with_the_context():
    counts = chinese.next_char_counts("小时", word_start=True)
    assert counts["候"] >= 593  # 小时候
    assert chinese.next_char_counts("时", word_start=True)["候"] < chinese.next_char_counts("时")["候"]
    with pytest.raises(ValueError):
        chinese.next_char_probs("小", tags={"no such tag"})
