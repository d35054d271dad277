"""nbgrader's markers, as the course writes them in solutions/ (``### BEGIN SOLUTION``).

Solutions: the release replaces the block with a stub. Hidden tests: the release drops the
block, and feedback shows a hidden test's name and pass/fail only. The notebook-side helper
(``autograder.cells``) reads the hidden-test markers to tell hidden tests from visible ones;
the instructor's tools (``rnngrade``) read all four.
"""

SOLUTION_BEGIN, SOLUTION_END = "BEGIN SOLUTION", "END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
MARKERS = (SOLUTION_BEGIN, SOLUTION_END, HIDDEN_BEGIN, HIDDEN_END)


def hidden_ranges(lines) -> list[tuple[int, int]]:
    """The (first, last) 1-based line numbers of each hidden-test block among ``lines``
    (a cell's source split into lines), the marker lines included."""
    ranges, start = [], None
    for lineno, line in enumerate(lines, start=1):
        if HIDDEN_BEGIN in line:
            start = lineno
        elif HIDDEN_END in line and start is not None:
            ranges.append((start, lineno))
            start = None
    return ranges
