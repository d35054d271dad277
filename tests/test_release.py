"""exercises/ is generated from solutions/, in step with it, and free of instructor text."""

from pathlib import Path

import nbformat
import pytest

from rnngrade import leaks, release
from rnngrade.release import EXERCISES, SOLUTIONS, ReleaseError, assignments


def test_there_are_exercises():
    assert "ex01_rnn_basics" in assignments()


def test_exercises_in_step_with_solutions():
    problems = release.check()
    assert not problems, "exercises/ differs from a fresh release (run `make exercises`):\n" + "\n".join(problems)


def test_release_has_no_solution_or_hidden_text():
    secrets = leaks.secret_lines(SOLUTIONS)
    assert len(secrets) > 20, "expected many distinctive solution lines to look for"
    found = leaks.scan_path(EXERCISES, secrets)
    assert not found, f"instructor text in exercises/: {found}"


def test_release_says_it_is_generated_and_has_stubs():
    for a in assignments():
        for nb_path in (EXERCISES / a).glob("*.ipynb"):
            text = nb_path.read_text()
            assert "generated" in text.lower() and "make exercises" in text
            assert "YOUR CODE HERE" in text and "raise NotImplementedError()" in text


def test_no_reference_checkpoint_in_release():
    assert not list(EXERCISES.rglob("*.safetensors")), "a reference checkpoint reached exercises/"


def _nb(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


def _test_cell(source, points, gid="t"):
    c = nbformat.v4.new_code_cell(source)
    c.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": points,
                              "grade_id": gid, "schema_version": 3, "task": False}
    return c


def test_lint_rejects_points_mismatch(tmp_path: Path):
    p = tmp_path / "x.ipynb"
    nbformat.write(_nb([_test_cell("def test_a(): pass\nrun_tests(points=5)", 20)]), p)
    with pytest.raises(ReleaseError, match="says run_tests\\(points=5\\)"):
        release.lint_source(p)


def test_lint_rejects_missing_run_tests_and_wrong_total(tmp_path: Path):
    p = tmp_path / "x.ipynb"
    nbformat.write(_nb([_test_cell("assert True", 20)]), p)
    with pytest.raises(ReleaseError, match="must end with run_tests"):
        release.lint_source(p)
    nbformat.write(_nb([_test_cell("run_tests(points=4)", 4)]), p)
    with pytest.raises(ReleaseError, match="total 4 points"):
        release.lint_source(p)


def test_secret_lines_ignore_text_shared_with_visible_code():
    inside, outside = leaks.split_secret(
        "x = 1\n### BEGIN SOLUTION\nreturn_value = compute_something_long(x)\n### END SOLUTION\n")
    assert inside == ["return_value = compute_something_long(x)"] and outside == ["x = 1"]
    found = leaks.scan_text(leaks.html_to_text("<p>return_value = compute_something_long(x)</p>"),
                            {"return_value = compute_something_long(x)"})
    assert found == ["return_value = compute_something_long(x)"]


@pytest.mark.parametrize("assignment", assignments())
def test_every_test_cell_is_lost_by_a_wrong_variant(assignment):
    """docs/exercises.md: every unit has a typical mistake that must cost its points
    (tests/test_exercises.py grades each variant; this only checks there is one)."""
    from tests.harness import load_variants

    nb = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
    graded = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")]
    lost = {cell for v in load_variants(assignment).values() for cell in v["loses"]}
    assert graded and not [g for g in graded if g not in lost], (
        f"test cells of {assignment} that no wrong variant in tests/variants/{assignment}.py loses: "
        f"{[g for g in graded if g not in lost]}")
