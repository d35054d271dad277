"""The test-cell helper closes the traps of nbgrader 0.9.6 + ipytest 0.14.2 (docs/exercises.md, "Test cells").

One small notebook, executed in a real kernel; each cell's grade is read with
nbgrader's own ``determine_grade``, exactly as autograde does.
"""

import re

import nbclient
import nbformat
import pytest
from nbgrader.utils import determine_grade


def _grade_cell(source, points, gid):
    c = nbformat.v4.new_code_cell(source)
    c.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": points,
                              "grade_id": gid, "schema_version": 3, "task": False}
    return c


CELLS = {
    "setup": "from autograder import run_tests\nimport warnings",
    "all_pass": """
def test_one():
    assert 1 + 1 == 2

def test_two():
    assert [1, 2] == [1, 2]

run_tests(points=4)
""",
    "helper_fails": """
import numpy as np
from autograder import assert_close

def test_close():
    assert_close(np.zeros(3), np.ones(3), "a_next", hint="did you add the bias?")

run_tests(points=1)
""",
    "one_of_three_fails": """
def test_ok():
    assert True

def test_also_ok():
    assert True

def test_fails():
    assert 1 == 2, "expected 2, got 1. Hint: add one"

run_tests(points=3)
""",
    "all_fail": """
def test_a():
    raise ValueError("boom")

def test_b():
    assert False, "nope"

run_tests(points=2)
""",
    "warns_but_passes": """
import sys
def test_warns():
    warnings.warn("deprecated thing", DeprecationWarning)
    warnings.warn("user warning", UserWarning)
    print("noise on stderr", file=sys.stderr)
    assert True

run_tests(points=2)
""",
    "only_this_cells_tests": """
def test_new():
    assert True

run_tests(points=5)
""",
    "hidden_failure": """
def test_visible():
    assert True

### BEGIN HIDDEN TESTS
def test_secret_case():
    secret_value = 12345
    assert secret_value == 0, "SECRET MESSAGE 12345"
### END HIDDEN TESTS

run_tests(points=4)
""",
    "parametrized": """
import pytest

@pytest.mark.parametrize("x", [1, 2, 3, 4])
def test_small(x):
    assert x < 3

run_tests(points=4)
""",
    "not_implemented": """
def student_function():
    raise NotImplementedError()

def test_uses_student_code():
    student_function()

run_tests(points=1)
""",
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    cells = [nbformat.v4.new_code_cell(CELLS["setup"])]
    cells += [_grade_cell(src, float(re.search(r"points=(\d+)", src).group(1)), gid)
              for gid, src in CELLS.items() if gid != "setup"]
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path_factory.mktemp("cells")
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path)}}).execute()
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}, path


def _text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_all_passing_cell_gets_full_points(executed):
    cells, _ = executed
    assert determine_grade(cells["all_pass"]) == (4.0, 4.0)


def test_partial_credit_is_points_times_fraction(executed):
    cells, _ = executed
    score, max_score = determine_grade(cells["one_of_three_fails"])
    assert max_score == 3.0 and score == pytest.approx(2.0)
    assert "expected 2, got 1. Hint: add one" in _text(cells["one_of_three_fails"])


def test_tracebacks_name_cells_not_files(executed):
    """A failure points at the notebook cell and line, never at the grader's files or at the
    kernel's temporary file names."""
    cells, _ = executed
    text = _text(cells["helper_fails"])
    assert "did you add the bias?" in text and "a_next" in text
    assert re.search(r"cell In \[\d+\], line \d+, in test_close", text), text
    assert "ipykernel_" not in text and "autograder/checks.py" not in text, text


def test_the_score_says_what_it_is(executed):
    """nbgrader reads the bare number (text/plain); a student sees what it is (text/html),
    not a stray `Out[]: 2.0` under the report."""
    cells, _ = executed
    [result] = [o for o in cells["one_of_three_fails"].outputs if o.output_type == "execute_result"]
    assert result.data["text/plain"] == "2.0"
    assert "2 / 3 points for this cell" in result.data["text/html"]


def test_all_failing_cell_gets_zero_not_full_credit(executed):
    """The ipytest trap: raise_on_error=False would give this cell full credit."""
    cells, _ = executed
    assert determine_grade(cells["all_fail"]) == (0.0, 2.0)


def test_warnings_and_stderr_do_not_zero_a_passing_cell(executed):
    cells, _ = executed
    cell = cells["warns_but_passes"]
    assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert determine_grade(cell) == (2.0, 2.0)


def test_no_ansi_codes_in_any_output(executed):
    cells, _ = executed
    for cell in cells.values():
        for o in cell.outputs:
            assert "\x1b[" not in str(o.get("text", "")) + str(o.get("data", ""))


def test_earlier_cells_tests_do_not_rerun(executed):
    cells, _ = executed
    text = _text(cells["only_this_cells_tests"])
    assert "1/1 tests passed" in text and "test_one" not in text and "test_fails" not in text
    assert determine_grade(cells["only_this_cells_tests"]) == (5.0, 5.0)


def test_hidden_test_shows_only_name_and_result(executed):
    cells, _ = executed
    text = _text(cells["hidden_failure"])
    assert "[FAIL] test_secret_case (hidden test)" in text
    assert "SECRET MESSAGE" not in text and "secret_value" not in text and "12345" not in text
    assert determine_grade(cells["hidden_failure"]) == (2.0, 4.0)


def test_parametrized_cases_count_separately(executed):
    cells, _ = executed
    assert determine_grade(cells["parametrized"]) == (2.0, 4.0)


def test_not_implemented_gets_a_hint(executed):
    cells, _ = executed
    assert "replace `raise NotImplementedError()`" in _text(cells["not_implemented"])


def test_no_files_left_in_the_students_folder(executed):
    _, path = executed
    assert sorted(p.name for p in path.iterdir()) == [], "the helper left files behind"


UPSTREAM = [  # (grade id or None for an answer cell, source)
    (None, "from autograder import run_tests"),
    (None, "def double(x):\n    return 3 * x  # wrong"),
    ("t_double", "def test_double():\n    assert double(2) == 4\n\nrun_tests(points=1)"),
    (None, "def quadruple(x):\n    return double(double(x))  # right, on a wrong double"),
    ("t_quadruple", "def test_quadruple():\n    assert quadruple(1) == 4\n\nrun_tests(points=1)"),
    (None, "def triple(x):\n    return 3 * x"),
    ("t_triple", "def test_triple():\n    assert triple(2) == 6\n\nrun_tests(points=1)"),
    (None, "def sextuple(x):\n    return triple(x) + 1  # wrong, on a right triple"),
    ("t_sextuple", "def test_sextuple():\n    assert sextuple(1) == 6\n\nrun_tests(points=1)"),
    (None, "def double(x):\n    return 2 * x  # fixed, its test cell not run again"),
    ("t_quadruple_again", "def test_quadruple_again():\n    assert quadruple(1) == 5  # fails\n\n"
                          "run_tests(points=1)"),
]


def test_a_failure_caused_by_a_failed_unit_above_says_fix_that_first(tmp_path):
    """One wrong unit fails every unit that uses it; the later cells name it first, and only
    when the unit they use failed its own tests (not when the later unit is wrong itself, nor
    once the unit has been defined again)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [_grade_cell(src, 1, gid) if gid else nbformat.v4.new_code_cell(src) for gid, src in UPSTREAM]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = {c.metadata["nbgrader"]["grade_id"]: _text(c) for c in nb.cells if "nbgrader" in c.metadata}
    assert "FIX FIRST: `double` failed the tests of its own cell above" in out["t_quadruple"]
    assert out["t_quadruple"].index("FIX FIRST") < out["t_quadruple"].index("[FAIL] test_quadruple")
    for gid in ("t_double", "t_triple", "t_sextuple", "t_quadruple_again"):
        assert "FIX FIRST" not in out[gid], out[gid]
    assert "[FAIL] test_sextuple" in out["t_sextuple"] and "[FAIL]" in out["t_quadruple_again"]
