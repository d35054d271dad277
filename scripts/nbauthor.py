"""Tiny helpers to write nbgrader source notebooks from Python (authoring aid).

    from scripts.nbauthor import md, readonly, solution, tests, write
    write("solutions/exNN/exNN.ipynb", [md("intro", "# Title"), solution("f", "def f(): ..."), ...])

The notebook in solutions/ is the source of truth once written; instructors may
keep editing it in Jupyter with nbgrader's Create Assignment toolbar.
"""

from __future__ import annotations

import textwrap

import nbformat


def _meta(grade_id: str, *, grade=False, solution=False, locked=True, points=None) -> dict:
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
         "solution": solution, "task": False}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def _src(text: str) -> str:
    # Cell code is written inside r"""...""" strings, where docstrings must be escaped.
    return textwrap.dedent(text).strip("\n").replace('\\"\\"\\"', '"""')


def md(grade_id: str, text: str):
    """A locked markdown cell."""
    c = nbformat.v4.new_markdown_cell(_src(text), metadata=_meta(grade_id))
    c.id = grade_id
    return c


def readonly(grade_id: str, code: str):
    """A locked code cell (imports, given helpers)."""
    c = nbformat.v4.new_code_cell(_src(code), metadata=_meta(grade_id))
    c.id = grade_id
    return c


def solution(grade_id: str, code: str):
    """An editable cell with ### BEGIN SOLUTION / ### END SOLUTION regions."""
    c = nbformat.v4.new_code_cell(_src(code), metadata=_meta(grade_id, solution=True, locked=False))
    c.id = grade_id
    return c


def tests(grade_id: str, code: str, points: float):
    """A locked autograder test cell; its code must end with run_tests(points=points)."""
    c = nbformat.v4.new_code_cell(_src(code), metadata=_meta(grade_id, grade=True, points=points))
    c.id = grade_id
    return c


def write(path: str, cells: list) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nb.cells = cells
    nbformat.validate(nb)
    nbformat.write(nb, path)
