"""One rounding rule for every score the course computes, records or shows.

A cell earns ``points × passed / total``, rounded to two decimals (4 points with 5 of 7
tests passed: 2.86). That rounded number is what the student's cell reports, what the
grader writes into the gradebook, and what feedback, formgrader, ``grades.csv`` and
``nbgrader export`` show; a total is the sum of the rounded cells, rounded again (floats do
not add decimals exactly). Imported by the notebook-side helper too: standard library only.
"""

DECIMALS = 2


def cell_points(points: float, passed: int, total: int) -> float:
    """The partial credit of a test cell: points × passed / total, rounded; 0 with no tests."""
    return round(points * passed / total, DECIMALS) if total else 0.0


def rounded(score: float) -> float:
    """A total (a sum of cell points) under the same rule."""
    return round(score, DECIMALS)


def shown(score: float) -> str:
    """How a score is written: the rounded number without trailing zeros (10.16, 20, 2.5)."""
    return f"{round(score, DECIMALS):g}"
