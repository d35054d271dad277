"""Grade exercises the way a course does: a student runs the notebook, nbgrader autogrades it.

For one assignment, ``graded(assignment)`` (cached per test process):

1. runs the solution notebook as a student would (training included, no
   ``NBGRADER_EXECUTION``), in a scratch copy: this is where reference checkpoints come
   from, and every test cell must already give full points there;
2. builds submissions from the *release* notebook: ``solution`` (each answer cell filled
   with the solution code, the checkpoint beside it), ``blank`` (untouched release, no
   checkpoint), one ``variant-<name>`` per wrong variant and one ``alt-<name>`` per correct
   alternative in ``tests/variants/<assignment>.py`` (``VARIANTS`` and ``ALTERNATIVES``);
   these get the reference checkpoints too, unless their entry has ``"files": fn``: then
   ``fn(folder)`` runs after the copy and may replace them (a mistake, or another correct
   model, that lives in a checkpoint rather than in the code);
3. runs the ordinary nbgrader commands on them in a scratch course folder
   (``generate_assignment``, ``autograde``, ``generate_feedback``) and reads the grades
   back from nbgrader's gradebook.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import nbformat

from rnngrade.course import (
    EXERCISES,
    ROOT,
    SOLUTION_BEGIN,
    SOLUTION_END,
    SOLUTIONS,
    assignments,
    generate_assignment,
    nbgrader_env,
)

VARIANTS_DIR = Path(__file__).parent / "variants"
SCRATCH = Path(tempfile.mkdtemp(prefix="course-grading-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
MARKER_LINES = (f"### {SOLUTION_BEGIN}", f"### {SOLUTION_END}")
# Per-cell limit for the student run (training included); raise it on a loaded machine.
STUDENT_RUN_TIMEOUT = int(os.environ.get("COURSE_STUDENT_RUN_TIMEOUT", "900"))


@dataclass
class CellGrade:
    score: float
    max_score: float
    output: str


@dataclass
class Graded:
    assignment: str
    course: Path
    student_run_seconds: float
    grades: dict[str, dict[str, CellGrade]] = field(default_factory=dict)  # student -> cell -> grade
    # what the student sees when running the solution top to bottom (training included), before
    # any grading: graded cell -> (score the cell returned, its points, its output)
    student_view: dict[str, CellGrade] = field(default_factory=dict)

    def total(self, student: str) -> float:
        return sum(g.score for g in self.grades[student].values())


@functools.cache
def _variants_module(assignment: str):
    """``tests/variants/<assignment>.py``, executed once per test process (its declarations are
    read for every graded cell)."""
    path = VARIANTS_DIR / f"{assignment}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"variants_{assignment}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def never_trained(stem: str, seed: int = 0, std: float = 0.1):
    """``files`` for a variant whose checkpoint learned nothing: every floating tensor of the
    reference ``<stem>.safetensors`` replaced by N(0, std) noise of the same shape (the JSON of
    constructor arguments is kept, so the checkpoint still loads)."""
    def write(folder: Path) -> None:
        import torch
        from safetensors.torch import load_file, save_file

        path = folder / f"{stem}.safetensors"
        g = torch.Generator().manual_seed(seed)
        state = load_file(str(path))
        save_file({k: (torch.randn(v.shape, generator=g, dtype=torch.float64) * std).to(v.dtype)
                   if v.is_floating_point() else v for k, v in state.items()}, str(path))
    return write


# The code of a training cell that saves its model before training it (and never after): what
# ``never_trained`` checkpoints would come from. The course's training cells all share these lines.
SAVED_BEFORE_TRAINING = [
    ("    history = train(", "    save_checkpoint(model, CHECKPOINT, model.init_kwargs)  # before training\n"
                             "    history = train("),
    ("    save_checkpoint(model.cpu(), CHECKPOINT, model.init_kwargs)", "    pass  # not saved again after training"),
]


def load_variants(assignment: str) -> dict:
    """Wrong variants: each must lose exactly its ``loses`` cells."""
    return getattr(_variants_module(assignment), "VARIANTS", {})


@functools.cache
def expected_shares(assignment: str) -> dict[str, float]:
    """Test cell -> the share of its points the solution is expected to score here, for the cells
    that do not get full marks: ``CPU_EXPECTED`` of ``tests/variants/<assignment>.py`` when the
    solution's training cell runs on the CPU (``pick_device()``: no GPU), else nothing. Exercise 8's
    CPU configuration reaches the first tiers of its trained-model cell, not full marks."""
    shares = dict(getattr(_variants_module(assignment), "CPU_EXPECTED", {}))
    if shares:
        from rnncourse import pick_device

        if pick_device().type != "cpu":
            return {}
    return shares


def expected_score(assignment: str, cell: str, max_score: float) -> float:
    """What the solution scores in ``cell`` here: its points, or ``CPU_EXPECTED``'s share of them."""
    return max_score * expected_shares(assignment).get(cell, 1.0)


def at_expected(assignment: str, cell: str, grade: CellGrade) -> bool:
    """The cell scored what the solution scores here (0.01: nbgrader's and the output's rounding)."""
    return abs(grade.score - expected_score(assignment, cell, grade.max_score)) < 0.01


def load_alternatives(assignment: str) -> dict:
    """Correct alternatives: ``{"cell", "replace": [...]}`` or ``{"cell", "source": "..."}``;
    each must score full marks in every cell."""
    return getattr(_variants_module(assignment), "ALTERNATIVES", {})


def notebook_name(assignment: str) -> str:
    (nb,) = sorted((SOLUTIONS / assignment).glob("*.ipynb"))
    return nb.name


def filled_answers(assignment: str) -> dict[str, str]:
    """grade_id -> the solution cell's code with the marker lines removed."""
    nb = nbformat.read(SOLUTIONS / assignment / notebook_name(assignment), as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [ln for ln in cell.source.split("\n") if ln.strip() not in MARKER_LINES]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def make_submission(assignment: str, variant: dict | list[dict] | None = None, *, fill: bool = True):
    """The release notebook as a student would hand it in (filled, maybe with one mistake, or
    with several alternatives, each in its own answer cell)."""
    nb = nbformat.read(EXERCISES / assignment / notebook_name(assignment), as_version=4)
    answers = filled_answers(assignment) if fill else {}
    for v in [variant] if isinstance(variant, dict) else (variant or []):
        if v["cell"] not in answers:
            raise AssertionError(f"unknown answer cell {v['cell']!r}: update tests/variants")
        if "source" in v:
            answers[v["cell"]] = v["source"]
            continue
        src = answers[v["cell"]]
        for old, new in v["replace"]:
            if old not in src:
                raise AssertionError(f"variant text {old!r} not found in cell {v['cell']!r}: "
                                     "update tests/variants after changing the solution")
            src = src.replace(old, new)
        answers[v["cell"]] = src
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


@functools.cache
def zygote():
    """This test process's ``rnngrade.zygote.Zygote``: the kernels that grade the exercises are
    forked from it (torch imported once per process, not once per submission)."""
    from rnngrade.zygote import Zygote

    z = Zygote(SCRATCH / "zygote", nbgrader_env())
    atexit.register(z.close)
    return z


def run_nbgrader(cmd: list[str], cwd: Path, timeout: int, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env or nbgrader_env(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:5])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def run_as_student(assignment: str) -> tuple[Path, float]:
    """Execute the solution notebook with training, in a scratch copy, in a kernel forked from
    ``zygote()``; return (folder, seconds)."""
    import nbclient

    work = SCRATCH / "student-runs" / assignment
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(SOLUTIONS / assignment, work)
    nb_path = work / notebook_name(assignment)
    nb = nbformat.read(nb_path, as_version=4)
    # the kernel is forked from this process's zygote, as the gradings' are (a fresh kernel's
    # imports: about 2.5 CPU-s); JUPYTER_PATH finds its kernelspec. Not graded: no NBGRADER_EXECUTION
    kernel_env = {k: v for k, v in zygote().env.items() if k != "NBGRADER_EXECUTION"}
    start = time.perf_counter()
    with mock.patch.dict(os.environ, {"JUPYTER_PATH": kernel_env["JUPYTER_PATH"]}):
        os.environ.pop("NBGRADER_EXECUTION", None)
        client = nbclient.NotebookClient(nb, timeout=STUDENT_RUN_TIMEOUT, kernel_name="python3",
                                         resources={"metadata": {"path": str(work)}})
        client.execute(env=kernel_env)
    seconds = time.perf_counter() - start
    nbformat.write(nb, nb_path)
    return work, seconds


SESSION_MAX_AGE_S = 6 * 3600  # a test session's shared folder older than this is an earlier session's


def remove_earlier_sessions(folder: Path, keep: str) -> None:
    """Delete the per-session folders in ``folder`` (shared student runs, kit caches) that are not
    ``keep`` and were last changed more than ``SESSION_MAX_AGE_S`` ago."""
    if folder.is_dir():
        for old in folder.iterdir():
            if old.name != keep and time.time() - old.stat().st_mtime > SESSION_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)


def shared_student_run(assignment: str) -> tuple[Path, float]:
    """``run_as_student`` once per test session, whichever xdist worker asks first.

    The exercise tests and the batch-grader test both need the solution run as a student
    (its checkpoints, its outputs); training it once per worker doubled the suite's time. The
    first worker runs it under a lock in a folder named by xdist's run id; the others wait for
    it and copy it. Without xdist this is ``run_as_student`` itself."""
    import fcntl

    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run_id:
        return run_as_student(assignment)
    runs = ROOT / "_build" / "student-runs"
    runs.mkdir(parents=True, exist_ok=True)
    remove_earlier_sessions(runs, keep=run_id)
    shared = runs / run_id / assignment
    shared.parent.mkdir(exist_ok=True)
    with open(runs / run_id / f"{assignment}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / ".seconds").exists():
            work, seconds = run_as_student(assignment)
            shutil.rmtree(shared, ignore_errors=True)
            shutil.copytree(work, shared)
            (shared / ".seconds").write_text(repr(seconds))
    seconds = float((shared / ".seconds").read_text())
    mine = SCRATCH / "shared-runs" / assignment
    shutil.rmtree(mine, ignore_errors=True)
    shutil.copytree(shared, mine, ignore=shutil.ignore_patterns(".seconds"))
    return mine, seconds


def course_args(course: Path) -> list[str]:
    return [
        f"--CourseDirectory.root={course}",
        f"--CourseDirectory.source_directory={SOLUTIONS}",
        f"--CourseDirectory.release_directory={course / 'release'}",
        f"--CourseDirectory.submitted_directory={course / 'submitted'}",
        f"--CourseDirectory.autograded_directory={course / 'autograded'}",
        f"--CourseDirectory.feedback_directory={course / 'feedback'}",
        f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
    ]


def cell_outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        else:
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def student_view(executed: Path) -> dict[str, CellGrade]:
    """Graded test cells of a notebook executed as a student runs it: the score each returned."""
    nb = nbformat.read(executed, as_version=4)
    view = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        results = [o for o in cell.get("outputs", []) if o.output_type == "execute_result"]
        try:
            score = float(results[-1]["data"]["text/plain"]) if results else float("nan")
        except ValueError:
            score = float("nan")
        view[meta["grade_id"]] = CellGrade(score, float(meta.get("points", 0)), cell_outputs_text(cell))
    return view


_FAILED: dict[str, str] = {}


def graded(assignment: str) -> Graded:
    """Run the whole cycle for ``assignment`` once per test process (see module docstring).

    A failure is remembered too: the other tests of the assignment then fail at once with
    the same cause instead of training again (functools.cache does not cache exceptions)."""
    if assignment in _FAILED:
        raise RuntimeError(f"grading {assignment} already failed in this test process: {_FAILED[assignment]}")
    try:
        return _graded(assignment)
    except Exception as e:
        _FAILED[assignment] = f"{type(e).__name__}: {str(e)[:2000]}"
        raise


def handed_in(assignment: str) -> dict[str, tuple]:
    """What the exercise tests hand in: ``student -> (notebook, files)``, ``files`` a function that
    writes the student's own checkpoint files into a folder, or None. The students: ``solution``,
    ``blank`` (the untouched release), ``variant-<name>`` for each wrong variant and the groups of
    correct alternatives (``alternative_groups``). All but ``blank`` also hand in the checkpoints
    of the solution run as a student (``_graded``)."""
    submissions = {"solution": (make_submission(assignment), None),
                   "blank": (make_submission(assignment, fill=False), None)}
    for name, variant in load_variants(assignment).items():
        submissions[f"variant-{name}"] = (make_submission(assignment, variant), variant.get("files"))
    alternatives = load_alternatives(assignment)
    for student, names in alternative_groups(assignment).items():
        submissions[student] = (make_submission(assignment, [alternatives[n] for n in names]),
                                alternatives[names[0]].get("files"))  # a group of one if it has files
    return submissions


@functools.cache
def _graded(assignment: str) -> Graded:
    from nbgrader.api import Gradebook

    student_dir, seconds = shared_student_run(assignment)
    nb_name = notebook_name(assignment)
    produced = [p for p in student_dir.iterdir()
                if p.is_file() and p.suffix in (".safetensors", ".json") and p.name != nb_name]

    course = SCRATCH / "courses" / assignment
    if course.exists():
        shutil.rmtree(course)
    course.mkdir(parents=True)
    py = sys.executable
    generate_assignment(assignment, release=course / "release", db_url=f"sqlite:///{course / 'gradebook.db'}")

    submissions = handed_in(assignment)
    for student, (nb, make_files) in submissions.items():
        dest = course / "submitted" / student / assignment
        dest.mkdir(parents=True)
        nbformat.write(nb, dest / nb_name)
        for f in produced if student != "blank" else []:
            shutil.copy(f, dest / f.name)
        if make_files is not None:
            make_files(dest)
        (dest / "timestamp.txt").write_text("2026-11-28 12:00:00.000000 UTC")

    run_nbgrader([py, "-m", "nbgrader", "autograde", assignment, "--force", *course_args(course)], ROOT, 3600,
                 env=zygote().env)
    run_nbgrader([py, "-m", "nbgrader", "generate_feedback", assignment, "--force", *course_args(course)], ROOT, 600)

    result = Graded(assignment, course, seconds)
    result.student_view = student_view(student_dir / nb_name)
    notebook = nb_name[:-len(".ipynb")]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in submissions:
            auto = nbformat.read(course / "autograded" / student / assignment / nb_name, as_version=4)
            outputs = {c.metadata.get("nbgrader", {}).get("grade_id"): cell_outputs_text(c) for c in auto.cells}
            cells = {}
            for gc in gb.find_notebook(notebook, assignment).grade_cells:
                g = gb.find_grade(gc.name, notebook, assignment, student)
                score = g.score if g.score is not None else float("nan")
                cells[gc.name] = CellGrade(score, g.max_score, outputs.get(gc.name, ""))
            result.grades[student] = cells
    timings = SCRATCH / "timings.json"
    data = json.loads(timings.read_text()) if timings.exists() else {}
    data[assignment] = {"student_run_seconds": round(seconds, 1)}
    timings.write_text(json.dumps(data, indent=2))
    return result


def alternative_groups(assignment: str) -> dict[str, list[str]]:
    """Correct alternatives packed into few submissions: ``{"alts-1": [name, ...], ...}``.

    A submission holds at most one alternative per answer cell (so each cell's tests judge
    exactly one alternative) and none of them brings its own checkpoint files; an alternative
    with ``files`` is a submission of its own. All of a submission's alternatives are correct,
    so it must score full marks in every cell, which holds only if each of them does; a
    failing cell names the alternative in it. Grading a notebook costs seconds, and exercise 1
    has nine alternatives in five cells: two submissions instead of nine."""
    groups: list[list[str]] = []
    alternatives = load_alternatives(assignment)
    for name, alt in alternatives.items():
        home = None if alt.get("files") else next(
            (g for g in groups if not any(alternatives[o].get("files") or alternatives[o]["cell"] == alt["cell"]
                                          for o in g)), None)
        if home is None:
            groups.append([name])
        else:
            home.append(name)
    return {f"alts-{i}": g for i, g in enumerate(groups, 1)}


def all_variants() -> list[tuple[str, str]]:
    return [(a, v) for a in assignments() for v in load_variants(a)]


def all_alternatives() -> list[tuple[str, str]]:
    return [(a, v) for a in assignments() for v in load_alternatives(a)]


# --------------------------------------------------------------------------- authoring
# Small helpers to write nbgrader source notebooks from Python (the red-team course and the
# clean-room tests build theirs this way); a notebook in solutions/ is edited in Jupyter.

def _authored_meta(grade_id: str, *, grade=False, solution=False, locked=True, points=None) -> dict:
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
         "solution": solution, "task": False}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def _authored_src(text: str) -> str:
    # Cell code is written inside r"""...""" strings, where docstrings must be escaped.
    return textwrap.dedent(text).strip("\n").replace('\\"\\"\\"', '"""')


def md(grade_id: str, text: str):
    """A locked markdown cell."""
    c = nbformat.v4.new_markdown_cell(_authored_src(text), metadata=_authored_meta(grade_id))
    c.id = grade_id
    return c


def readonly(grade_id: str, code: str):
    """A locked code cell (imports, given helpers)."""
    c = nbformat.v4.new_code_cell(_authored_src(code), metadata=_authored_meta(grade_id))
    c.id = grade_id
    return c


def solution(grade_id: str, code: str):
    """An editable cell with ### BEGIN SOLUTION / ### END SOLUTION regions."""
    c = nbformat.v4.new_code_cell(_authored_src(code), metadata=_authored_meta(grade_id, solution=True, locked=False))
    c.id = grade_id
    return c


def tests(grade_id: str, code: str, points: float):
    """A locked autograder test cell; its code must end with run_tests(points=points)."""
    c = nbformat.v4.new_code_cell(_authored_src(code), metadata=_authored_meta(grade_id, grade=True, points=points))
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
