"""rnngrade.solutions: the book runs an exercise's reference solution at build time without
showing it (chapter 8's beam search). Fast: reads one notebook, runs two of its cells."""

import linecache
import traceback

import pytest
import torch

from autograder.oracles.attention import TableDecoder
from rnncourse.data.vocab import EOS, PAD, SOS
from rnngrade import leaks
from rnngrade.course import SOLUTIONS
from rnngrade.solutions import reference_function, solution_namespace


def _table(seed, V=5, T=4):
    g = torch.Generator().manual_seed(seed)
    tables = torch.randn(1, T, V, V, generator=g, dtype=torch.float64) * 1.5
    tables[..., PAD] = tables[..., SOS] = -30.0
    return TableDecoder(tables)


def test_reference_beam_search_of_exercise_8_is_greedy_at_width_1():
    search = reference_function("ex08_pronunciation", "beam_search")
    dec = _table(0)

    def step(y_prev, state):
        logits, h = dec.step(y_prev, state[0])
        return logits, (h,)

    tokens, y, state = [], torch.tensor([SOS]), dec.initial_state()
    for _ in range(4):  # greedy, one argmax at a time
        logits, state = dec.step(y, state)
        y = logits.argmax(-1)
        tokens.append(int(y))
        if tokens[-1] == EOS:
            break
    (best, score), = search(step, (dec.initial_state(),), 1, 4)
    assert [int(t) for t in best] == tokens and isinstance(score, float)
    wide = search(step, (dec.initial_state(),), 5, 4)
    assert len(wide) == 5 and [s for _, s in wide] == sorted((s for _, s in wide), reverse=True)


def test_only_the_setup_and_the_named_cells_run():
    ns = solution_namespace("ex08_pronunciation", ["beam_search"])
    assert callable(ns["beam_search"]) and "PHONEMES" in ns  # setup ran
    assert "pronounce" not in ns and "G2PModel" not in ns  # no other cell did
    with pytest.raises(KeyError, match="no code cell"):
        solution_namespace("ex08_pronunciation", ["no_such_cell"])


def test_a_traceback_from_the_solution_does_not_print_its_lines():
    """The cells are compiled under a name linecache cannot read: an error inside the reference
    solution, shown by the book's traceback, names the cell without quoting its code."""
    search = reference_function("ex08_pronunciation", "beam_search")

    def bad_step(y_prev, state):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError) as info:
        search(bad_step, (torch.zeros(1, 2),), 2, 3)
    text = "".join(traceback.format_exception(info.value))
    assert "ex08_pronunciation.ipynb:beam_search" in text
    assert not linecache.getlines("ex08_pronunciation.ipynb:beam_search")
    secrets = leaks.secret_lines(SOLUTIONS)
    assert not leaks.scan_text(text, secrets)
