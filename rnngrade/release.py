"""Generate exercises/ from solutions/ with nbgrader, check the result, detect drift.

    python -m rnngrade.release generate        # rewrite exercises/ (the one command)
    python -m rnngrade.release check           # exit 1 if exercises/ is out of date

Steps, in this order (each needs the previous one's output):

1. ``lint_source``: every autograded test cell ends in ``run_tests(points=P)`` with P equal
   to its nbgrader points, and each exercise totals 20 points. Fails before nbgrader runs.
2. ``nbgrader generate_assignment`` into a scratch folder with a scratch gradebook,
   so generating never touches an instructor's gradebook.
3. ``normalise``: clear execution counts and outputs (nbgrader keeps cell ids stable).
4. ``leaks.scan_notebook``: no solution or hidden-test line in the release.
5. Copy into exercises/ (``generate``) or compare with it (``check``).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from . import leaks
from .course import (  # noqa: F401 - ROOT, nbgrader_env: re-exported for the tools that release
    EXERCISES,
    POINTS_PER_EXERCISE,
    ROOT,
    SOLUTIONS,
    WEIGHT_SUFFIXES,
    assignments,
    generate_assignment,
    nbgrader_env,
)

CHECKPOINT_RE = re.compile(r"""^CHECKPOINT\s*=\s*["']([^"']+)["']""", re.M)


class ReleaseError(RuntimeError):
    """A solution notebook breaks a course rule; the message names the cell."""


def checkpoint_patterns(sources: list[str]) -> list[str]:
    """File-name patterns of the checkpoints that notebook code saves: ``CHECKPOINT = "name"``
    gives ``name*.safetensors`` and ``name*.json`` (exercise 3 saves ``name_short`` and ``name_long``)."""
    stems = sorted({stem for src in sources for stem in CHECKPOINT_RE.findall(src)})
    return [f"{stem}*{ext}" for stem in stems for ext in (".safetensors", ".json")]


def reference_checkpoints(folder: Path) -> list[Path]:
    """Model files lying in an assignment's source folder (running a solution there makes them)."""
    import fnmatch

    folder = Path(folder)
    sources = [c.source for nb in sorted(folder.glob("*.ipynb"))
               for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code"]
    patterns = checkpoint_patterns(sources)
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts
                  and (p.suffix in WEIGHT_SUFFIXES or any(fnmatch.fnmatch(p.name, pat) for pat in patterns)))


def refuse_reference_checkpoints(folder: Path) -> None:
    """Raise ``ReleaseError`` when an assignment's source folder holds a trained model: it
    must never reach a release or a grading run. The release tool, rnn-grade's kits and a
    plain ``nbgrader generate_assignment`` (``nbgrader_ext.RefuseReferenceCheckpoints``) ask."""
    found = reference_checkpoints(folder)
    if found:
        raise ReleaseError(
            f"{Path(folder).parent.name}/{Path(folder).name} holds reference checkpoint(s): "
            f"{', '.join(p.name for p in found)}. Move them out of the source folder (running a "
            "solution notebook in place makes them); they must never reach a release or a grading run.")


def _run_tests_points(source: str) -> float | None:
    """P in a cell's final ``run_tests(points=P)`` call, or None if it has none."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return None
    call = tree.body[-1].value
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) == "run_tests"):
        return None
    for kw in call.keywords:
        if kw.arg == "points" and isinstance(kw.value, ast.Constant):
            return float(kw.value.value)
    if call.args and isinstance(call.args[0], ast.Constant):
        return float(call.args[0].value)
    return None


def lint_source(nb_path: Path) -> float:
    """Check one solution notebook's grading cells; return its total points."""
    nb = nbformat.read(nb_path, as_version=4)
    total, ids = 0.0, set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid:
            if gid in ids:
                raise ReleaseError(f"{nb_path.name}: duplicate grade_id {gid!r}")
            ids.add(gid)
        if not meta.get("grade"):
            continue
        points = float(meta.get("points", 0))
        total += points
        if cell.cell_type != "code" or meta.get("solution"):
            continue  # manually graded answers
        declared = _run_tests_points(cell.source)
        if declared is None:
            raise ReleaseError(f"{nb_path.name}: test cell {gid!r} must end with run_tests(points={points:g})")
        if declared != points:
            raise ReleaseError(f"{nb_path.name}: test cell {gid!r} says run_tests(points={declared:g}) "
                               f"but its nbgrader points are {points:g}")
    if total != POINTS_PER_EXERCISE:
        raise ReleaseError(f"{nb_path.name}: grading cells total {total:g} points, expected {POINTS_PER_EXERCISE:g}")
    _lint_top_level_calls(nb_path, nb)
    return total


def _lint_top_level_calls(nb_path: Path, nb) -> None:
    """The scoring run (``rnngrade.cleanroom``) executes the course's locked and test cells in
    the process that writes the report, before any test process exists: their top-level code
    must not call what the student writes (do it inside a test function instead)."""
    from .cleanroom import names_used_at_load, python_source

    student: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            try:
                tree = ast.parse(python_source(cell.source))
            except SyntaxError:
                continue
            student |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("solution") or not meta.get("locked"):
            continue
        for stmt in ast.parse(python_source(cell.source)).body:
            used = names_used_at_load(stmt) & student
            if used:
                raise ReleaseError(
                    f"{nb_path.name}: cell {meta.get('grade_id')!r} line {stmt.lineno} uses "
                    f"{', '.join(sorted(used))} outside a function: the grader loads the course's cells "
                    "before any student code may run, so call student code only inside test functions")


def normalise(nb_path: Path) -> None:
    """Strip what changes between runs (outputs, counts, kernel-specific metadata)."""
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, nb_path)


def generate_into(target: Path, names: list[str] | None = None,
                  source: Path = SOLUTIONS) -> list[Path]:
    """Run the whole pipeline for ``names`` (default: all assignments of ``source``), reading
    source notebooks from ``source`` (default ``solutions/``; the golden-file test passes a
    fixture folder) and writing releases under ``target``."""
    source = Path(source).resolve()
    names = names or assignments(source)
    for name in names:
        for nb in sorted((source / name).glob("*.ipynb")):
            lint_source(nb)
        refuse_reference_checkpoints(source / name)
    with tempfile.TemporaryDirectory(prefix="release-") as scratch:
        scratch = Path(scratch)
        out_dir = scratch / "release"
        for name in names:
            try:
                generate_assignment(name, release=out_dir, db_url=f"sqlite:///{scratch / 'gradebook.db'}",
                                    source=source)
            except RuntimeError as e:
                raise ReleaseError(str(e)) from None
        secrets = leaks.secret_lines(source)
        written = []
        for name in names:
            for nb in sorted((out_dir / name).glob("*.ipynb")):
                normalise(nb)
                found = leaks.scan_notebook(nb, secrets)
                if found:
                    raise ReleaseError(f"{nb.name}: solution or hidden-test text in the release: {found[:3]}")
            dest = target / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(out_dir / name, dest)
            written.append(dest)
    return written


def diff_trees(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two folders, files missing on either side included."""
    fa, fb = _all_files(a), _all_files(b)
    changed = {r for r in fa & fb if (a / r).read_bytes() != (b / r).read_bytes()}
    return sorted((fa ^ fb) | changed)


def _all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
            and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}


def check(names: list[str] | None = None) -> list[str]:
    """Regenerate into a scratch folder and list every difference with exercises/."""
    with tempfile.TemporaryDirectory(prefix="drift-") as tmp:
        tmp = Path(tmp)
        generate_into(tmp, names)
        problems = []
        for name in names or assignments():
            if not (EXERCISES / name).exists():
                problems.append(f"exercises/{name} is missing")
                continue
            problems += [f"exercises/{name}/{rel}" for rel in diff_trees(tmp / name, EXERCISES / name)]
        extra = {p.name for p in EXERCISES.iterdir() if p.is_dir()} - set(assignments()) if EXERCISES.exists() else set()
        problems += [f"exercises/{n} has no source in solutions/" for n in sorted(extra)]
        return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnngrade.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    args = parser.parse_args(argv)
    names = args.assignments or None
    try:
        if args.command == "generate":
            EXERCISES.mkdir(exist_ok=True)
            for d in generate_into(EXERCISES, names):
                print(f"released {d.relative_to(ROOT)}")
            return 0
        problems = check(names)
    except ReleaseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if problems:
        print("exercises/ is out of step with solutions/ (run `make exercises`):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print(json.dumps({"in_step": names or assignments()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
