"""nbgrader's markers, as the course writes them in solutions/ (``### BEGIN SOLUTION``).

Solutions: the release replaces the block with a stub. Hidden tests: the release drops the
block, and feedback shows a hidden test's name and pass/fail only. The notebook-side helper
(``autograder.cells``) reads the hidden-test markers to tell hidden tests from visible ones;
the instructor's tools (``rnngrade``) read all four.
"""

SOLUTION_BEGIN, SOLUTION_END = "BEGIN SOLUTION", "END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
MARKERS = (SOLUTION_BEGIN, SOLUTION_END, HIDDEN_BEGIN, HIDDEN_END)
