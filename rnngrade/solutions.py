"""An exercise's reference solution, run outside nbgrader: for the book's build-time experiments
and for ``make gpu-check``.

Some of the book's experiments need code that the course does not publish because it is an
exercise's answer (chapter 8's beam-width experiment needs exercise 8's beam search). The book
does not copy that code: ``reference_function`` reads the *solution* notebook at build time, runs
its ``setup`` cell (imports and constants) and the cell with the given nbgrader ``grade_id``, and
hands back the function the cell defines. The book calls it from a cell whose input is removed,
so a reader sees the measurements, never the code; ``tests/test_book.py``'s leak scan checks the
built pages and their sources for every secret line (``rnngrade.leaks``). ``scripts/gpu_check.py``
runs a solution notebook's code cells with ``code_cells`` and ``run_cell`` too.

The notebook is read as the JSON it is (no Jupyter stack needed: a GPU machine may have none).
Cells are compiled under a made-up file name (``<assignment>.ipynb:<grade_id>``) that
``linecache`` cannot read, so a traceback from inside the solution names its lines without
printing them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .course import SOLUTIONS


def code_cells(assignment: str, source: Path = SOLUTIONS) -> list[tuple[str, dict, str]]:
    """``(grade_id, nbgrader metadata, code)`` of each code cell of
    ``source/<assignment>/<assignment>.ipynb``, in the notebook's order; IPython's ``%`` lines
    are left out of the code."""
    cells = json.loads((source / assignment / f"{assignment}.ipynb").read_text())["cells"]
    out = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("%"))
        out.append((meta.get("grade_id", ""), meta, code))
    return out


def solution_digest(assignment: str, source: Path = SOLUTIONS) -> str:
    """sha256 of the code of the solution notebook's cells that are not tests (nbgrader's
    ``grade`` is false): everything a training run of the solution depends on. A stored result
    of such a run (``make bench-g2p``) names it, so a reader of the result can tell whether the
    notebook has changed since."""
    digest = hashlib.sha256()
    for grade_id, meta, code in code_cells(assignment, source):
        if not meta.get("grade"):
            digest.update(f"{grade_id}\0{code}\0".encode())
    return digest.hexdigest()


def run_cell(ns: dict, assignment: str, grade_id: str, code: str) -> None:
    """Execute one cell's code in ``ns``, compiled under ``<assignment>.ipynb:<grade_id>``."""
    exec(compile(code, f"{assignment}.ipynb:{grade_id}", "exec"), ns)


def solution_namespace(assignment: str, grade_ids: list[str], source: Path = SOLUTIONS) -> dict:
    """A namespace in which the ``setup`` cell of ``source/<assignment>/<assignment>.ipynb`` and
    then the code cells with the ``grade_ids`` (in the notebook's order) were run."""
    cells = {gid: code for gid, _, code in code_cells(assignment, source)}
    missing = [g for g in ["setup", *grade_ids] if g not in cells]
    if missing:
        raise KeyError(f"{assignment}.ipynb has no code cell with grade_id {missing}")
    ns: dict = {"__name__": f"solution_{assignment}"}
    for gid, code in cells.items():
        if gid == "setup" or gid in grade_ids:
            run_cell(ns, assignment, gid, code)
    return ns


def reference_function(assignment: str, name: str, grade_id: str | None = None, source: Path = SOLUTIONS):
    """The function ``name`` defined by the solution cell ``grade_id`` (default: ``name``) of
    ``assignment``, e.g. ``reference_function("ex08_pronunciation", "beam_search")``."""
    fn = solution_namespace(assignment, [grade_id or name], source)[name]
    if not callable(fn):
        raise TypeError(f"{assignment}: {name} is not a function")
    return fn
