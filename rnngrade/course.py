"""The course contract: what every tool agrees on, in one place.

The course's folders and id, the points of an exercise, the markers that nbgrader and the
grader read, the time limits, the environment nbgrader runs in, and how an assignment is
generated. ``nbgrader_config.py``, the release tool, ``rnn-grade``, the test harness and the
scripts read them from here; ``_config.yml`` cannot import Python, so a test checks that its
cell time limit is ``CELL_TIMEOUT_S``. The authors' guide (docs/exercises.md) explains what
the markers and points mean to an author.

Standard library only at import (nbgrader is imported by the functions that use it): the
scoring run (``rnngrade.cleanroom``) reads the markers from here. The markers themselves live
with the notebook-side helper (``autograder.markers``), which reads them too.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
COURSE_ID = "rnn-course"
SOLUTIONS = ROOT / "solutions"  # nbgrader's source folder: solutions and hidden tests
EXERCISES = ROOT / "exercises"  # nbgrader's release folder: what students get
GRADING = ROOT / "grading"  # every grading output (ignored by git)
POINTS_PER_EXERCISE = 20.0

from autograder.markers import (  # noqa: E402, F401 - the contract names them too
    HIDDEN_BEGIN,
    HIDDEN_END,
    MARKERS,
    SOLUTION_BEGIN,
    SOLUTION_END,
    hidden_ranges,
)

# Files in an assignment folder that nbgrader never copies (releasing or grading).
IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "t_*.py"]
# Model files never belong in solutions/: a reference checkpoint there would be released or,
# through nbgrader's copy of the source folder, handed to the grader in place of a student's.
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt", ".pkl", ".bin", ".npz")

# Environment variables that name an instructor's private data file, read by hidden tests:
# exercise 8's private test words (autograder.oracles.g2p.HELDOUT_ENV). rnn-grade reads them when
# it builds the kits, and hands each file to the scoring run only, never to the student's kernel
# (docs/grading.md, "Public data").
PRIVATE_DATA_VARIABLES = ("RNNCOURSE_G2P_HELDOUT",)
PRIVATE_FILE_PREFIX = "rnngrade-private-"  # + the variable: the file's name in the scoring run

# Time limits, seconds.
CELL_TIMEOUT_S = 600  # one cell: plain nbgrader (nbgrader_config.py) and the book's chapters
GRADER_WALL_S = 900  # rnn-grade: one notebook, each of its two runs
GRADER_CELL_S = 300  # rnn-grade: one cell of the feedback run
GRADER_TEST_S = 60  # rnn-grade: one test case of the scoring run


def assignments(source: Path = SOLUTIONS) -> list[str]:
    """Assignment names: the folders of ``source`` that hold a notebook."""
    return sorted(p.name for p in Path(source).iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def nbgrader_env() -> dict[str, str]:
    """Environment for nbgrader subprocesses: it runs ``alembic`` from PATH, so put this
    interpreter's bin folder first; and make the repository importable."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def fast_alembic() -> None:
    """nbgrader asks `alembic heads` in a subprocess for every new gradebook: seconds each,
    and only if `alembic` is on PATH. Answer it in this process (same value), once."""
    import functools

    import nbgrader
    import nbgrader.api

    @functools.cache
    def head() -> str:
        from alembic.config import Config as AlembicConfig
        from alembic.script import ScriptDirectory

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
        return ScriptDirectory.from_config(cfg).get_current_head()

    nbgrader.api.get_alembic_version = head


def configure_nbgrader(c, root: Path = ROOT) -> None:
    """The course's nbgrader settings on a traitlets config (``nbgrader_config.py`` calls this):
    folders, id, ignore list, time limits, feedback and export preprocessors."""
    from .nbgrader_ext import configure

    root = Path(root)
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = SOLUTIONS.name
    c.CourseDirectory.release_directory = EXERCISES.name
    c.CourseDirectory.submitted_directory = os.path.join(GRADING.name, "submitted")
    c.CourseDirectory.autograded_directory = os.path.join(GRADING.name, "autograded")
    c.CourseDirectory.feedback_directory = os.path.join(GRADING.name, "feedback")
    c.CourseDirectory.db_url = "sqlite:///" + str(root / GRADING.name / "gradebook.db")
    c.CourseDirectory.ignore = list(IGNORE)
    # `nbgrader export` writes into the current folder unless told otherwise: grades one
    # `git add .` away from being published
    c.ExportPlugin.to = str(root / GRADING.name / "grades.csv")
    c.Execute.timeout = CELL_TIMEOUT_S
    c.ExecutePreprocessor.timeout = CELL_TIMEOUT_S
    c.IncludeHeaderFooter.header = str(ROOT / "rnngrade" / "templates" / "header.ipynb")
    # A reference checkpoint left in solutions/ (running a solution notebook there makes one)
    # must never replace a student's: `nbgrader autograde` copies the source folder's files
    # over each submission, except these. The release tool, rnn-grade and `nbgrader
    # generate_assignment` (nbgrader_ext.RefuseReferenceCheckpoints) refuse to run with one.
    from .release import reference_checkpoints

    source = root / SOLUTIONS.name
    c.Autograde.exclude_overwriting = {
        name: [str(p.relative_to(source / name)) for p in reference_checkpoints(source / name)]
        for name in (assignments(source) if source.is_dir() else [])}
    configure(c)


def generate_assignment(name: str, *, release: Path, db_url: str, source: Path = SOLUTIONS,
                        root: Path = ROOT, course_id: str = COURSE_ID) -> Path:
    """``nbgrader generate_assignment name`` in this process, from ``source/name`` into
    ``release/name``, with the gradebook ``db_url`` (a scratch one: generating never touches
    an instructor's gradebook). The settings are those of ``root``'s ``nbgrader_config.py``
    when it has one (this repository has), else nbgrader's defaults. Returns the release
    folder of the assignment; raises ``RuntimeError`` with nbgrader's log on failure."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    fast_alembic()
    root = Path(root)
    c = Config()
    if (root / "nbgrader_config.py").exists():
        c.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = str(Path(source).resolve())
    c.CourseDirectory.release_directory = str(Path(release).resolve())
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.db_url = db_url
    api = NbGraderAPI(coursedir=CourseDirectory(config=c), config=c)
    out = api.generate_assignment(name, force=True, create=True)
    if not out.get("success"):
        raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n"
                           f"{out.get('log', '')[-3000:]}{out.get('error', '')[-3000:]}")
    return Path(release) / name


def hide_password(url: str) -> str:
    """A database URL as it may be printed or stored in reports: its password starred."""
    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", url)
