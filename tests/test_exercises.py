"""Every exercise, graded with real nbgrader: solution 20/20, blank 0, wrong variants lose their
cells, correct alternatives score 20/20. (Exercise 8 trained on a CPU: its trained-model cell at the
tier ``CPU_EXPECTED`` in tests/variants/ex08_pronunciation.py declares, every other cell full.)

All tests of one assignment share one grading run (``tests.harness.graded``) and run in
the same xdist worker (``xdist_group``).
"""

import re

import nbformat
import pytest

from rnngrade import leaks
from rnngrade.release import SOLUTIONS, assignments
from tests.harness import (
    all_alternatives,
    all_variants,
    alternative_groups,
    at_expected,
    expected_score,
    graded,
    load_alternatives,
    load_variants,
)

ASSIGNMENTS = assignments()


def _grouped(params):
    return [pytest.param(*p if isinstance(p, tuple) else (p,), marks=pytest.mark.xdist_group(
        p[0] if isinstance(p, tuple) else p)) for p in params]


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("assignment", _grouped(ASSIGNMENTS))
def test_solution_scores_full_marks(assignment):
    g = graded(assignment)
    lost = {cell: f"{c.score}/{c.max_score}\n{c.output}" for cell, c in g.grades["solution"].items()
            if not at_expected(assignment, cell, c)}  # full marks; ex08 on a CPU: tests/variants' CPU_EXPECTED
    assert not lost, f"the solution lost points in {list(lost)}:\n" + "\n".join(lost.values())
    assert abs(g.total("solution") - sum(expected_score(assignment, cell, c.max_score)
                                         for cell, c in g.grades["solution"].items())) < 0.01
    assert sum(c.max_score for c in g.grades["solution"].values()) == 20


@pytest.mark.parametrize("assignment", _grouped(ASSIGNMENTS))
def test_solution_run_by_a_student_shows_full_marks(assignment):
    """Running the solution top to bottom, training cell included, every test cell reports its
    full points (a student must not see a false "TAMPERING" or a failed check on a right answer)."""
    view = graded(assignment).student_view
    assert view, "no graded cell in the executed solution"
    lost = {cell: f"{c.score}/{c.max_score}\n{c.output}" for cell, c in view.items()
            if not at_expected(assignment, cell, c)}
    assert not lost, f"run as a student, the solution lost points in {list(lost)}:\n" + "\n".join(lost.values())
    assert not any("TAMPERING" in c.output for c in view.values())


@pytest.mark.parametrize("assignment", _grouped(ASSIGNMENTS))
def test_untouched_release_scores_zero(assignment):
    g = graded(assignment)
    cells = g.grades["blank"]
    assert cells, "the blank submission has no grades: did autograde crash?"
    earned = {cell: c.score for cell, c in cells.items() if c.score != 0}
    assert not earned, f"an untouched release earned points: {earned}"


@pytest.mark.parametrize(("assignment", "variant"), _grouped(all_variants()))
def test_wrong_variant_loses_its_cells(assignment, variant):
    spec = load_variants(assignment)[variant]
    cells = graded(assignment).grades[f"variant-{variant}"]
    for cell in spec["loses"]:
        assert cell in cells, f"unknown test cell {cell!r} in variant {variant}"
        assert cells[cell].score < expected_score(assignment, cell, cells[cell].max_score) - 0.01, (
            f"variant {variant} should lose points in {cell} but scored "
            f"{cells[cell].score}/{cells[cell].max_score}:\n{cells[cell].output}")
    others = {c: f"{g.score}/{g.max_score}" for c, g in cells.items()
              if c not in spec["loses"] and not at_expected(assignment, c, g)}
    assert not others, f"variant {variant} also lost points in cells it should not affect: {others}"
    outputs = "\n".join(cells[c].output for c in spec["loses"])
    assert spec["message"] in outputs, (
        f"no failing cell of variant {variant} says {spec['message']!r}; outputs:\n{outputs}")


@pytest.mark.parametrize(("assignment", "alternative"), _grouped(all_alternatives()))
def test_correct_alternative_scores_full(assignment, alternative):
    """Other names, loops, float32, another correct formulation: full marks in every cell."""
    assert alternative in load_alternatives(assignment)
    (student, names), = [(s, g) for s, g in alternative_groups(assignment).items() if alternative in g]
    cells = graded(assignment).grades[student]
    assert cells, f"alternative {alternative} has no grades: did autograde crash?"
    lost = {cell: f"{c.score}/{c.max_score}\n{c.output}" for cell, c in cells.items()
            if not at_expected(assignment, cell, c)}
    assert not lost, (f"the submission holding the correct alternative {alternative} (with {names}, each in "
                      f"its own cell) lost points in {list(lost)}:\n" + "\n".join(lost.values()))


@pytest.mark.parametrize("assignment", _grouped(ASSIGNMENTS))
def test_feedback_math_needs_no_script(assignment):
    """The feedback page's math is MathML (rnngrade.nbgrader_ext.MathAsMathML): no TeX is left
    for a MathJax that cannot load offline."""
    page = next((graded(assignment).course / "feedback" / "solution" / assignment).glob("*.html")).read_text()
    text = leaks.html_to_text(page)
    assert "<math" in page, "no MathML in the feedback page"
    left = re.findall(r"\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$", text)
    assert not left, f"TeX left in the feedback page: {left[:5]}"


@pytest.mark.parametrize("assignment", _grouped(ASSIGNMENTS))
def test_feedback_shows_no_hidden_or_solution_text(assignment):
    """Feedback may show a student's own code (even when it equals the solution), nothing else."""
    g = graded(assignment)
    secrets = leaks.secret_lines(SOLUTIONS)
    pages = 0
    for student in g.grades:
        submitted = g.course / "submitted" / student / assignment
        own = set()
        for nb_path in submitted.glob("*.ipynb"):
            for cell in nbformat.read(nb_path, as_version=4).cells:
                own |= {" ".join(line.split()) for line in cell.source.splitlines()}
        found = leaks.scan_path(g.course / "feedback" / student, secrets - own)
        assert not found, f"feedback for {student} leaks instructor text: {found}"
        pages += len(list((g.course / "feedback" / student).rglob("*.html")))
    assert pages == len(g.grades), "one feedback page per submission expected"
