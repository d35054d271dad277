"""An exercise's reference solution, run outside nbgrader: for the book's build-time experiments.

Some of the book's experiments need code that the course does not publish because it is an
exercise's answer (chapter 8's beam-width experiment needs exercise 8's beam search). The book
does not copy that code: ``reference_function`` reads the *solution* notebook at build time, runs
its ``setup`` cell (imports and constants) and the cell with the given nbgrader ``grade_id``, and
hands back the function the cell defines. The book calls it from a cell whose input is removed,
so a reader sees the measurements, never the code; ``tests/test_book.py``'s leak scan checks the
built pages and their sources for every secret line (``rnngrade.leaks``).

The cells are compiled under a made-up file name (``<assignment>.ipynb:<grade_id>``) that
``linecache`` cannot read, so a traceback from inside the solution names its lines without
printing them. ``scripts/gpu_check.py`` runs solution cells the same way but keeps its own copy:
it stands alone on a GPU machine without the instructor package.
"""

from __future__ import annotations

from pathlib import Path

from .course import SOLUTIONS


def solution_namespace(assignment: str, grade_ids: list[str], source: Path = SOLUTIONS) -> dict:
    """A namespace in which the ``setup`` cell of ``source/<assignment>/<assignment>.ipynb`` and
    then the code cells with the ``grade_ids`` (in the notebook's order) were run; IPython's
    ``%`` lines are skipped."""
    import nbformat

    path = source / assignment / f"{assignment}.ipynb"
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c
             for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"}
    missing = [g for g in ["setup", *grade_ids] if g not in cells]
    if missing:
        raise KeyError(f"{path.name} has no code cell with grade_id {missing}")
    ns: dict = {"__name__": f"solution_{assignment}"}
    for gid, cell in cells.items():
        if gid != "setup" and gid not in grade_ids:
            continue
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
        exec(compile(code, f"{assignment}.ipynb:{gid}", "exec"), ns)
    return ns


def reference_function(assignment: str, name: str, grade_id: str | None = None, source: Path = SOLUTIONS):
    """The function ``name`` defined by the solution cell ``grade_id`` (default: ``name``) of
    ``assignment``, e.g. ``reference_function("ex08_pronunciation", "beam_search")``."""
    fn = solution_namespace(assignment, [grade_id or name], source)[name]
    if not callable(fn):
        raise TypeError(f"{assignment}: {name} is not a function")
    return fn
