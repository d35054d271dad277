"""rnn-grade with an instructor's private data file (exercise 8's private test words), end to end.

A tiny exercise whose hidden test reads the file that ``RNNCOURSE_G2P_HELDOUT`` names, as
exercise 8's does (``autograder.oracles.g2p.heldout_lexicon``), and falls back on public cases
without it. Graded in bubblewrap with the variable set where ``rnn-grade`` runs: the scoring run
uses the private cases, the student's code reaches them neither from its namespace nor by
opening the file, and nothing of the file reaches the feedback, the CSVs or the gradebook.
The same attacks without a sandbox, one by one: tests/test_cleanroom.py.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.oracles.g2p import HELDOUT_ENV
from rnngrade import batch, course
from tests import harness

pytestmark = [pytest.mark.slow, pytest.mark.needs_bwrap, pytest.mark.xdist_group("private-data")]

A = "priv01"
VAR = HELDOUT_ENV  # what exercise 8's hidden test reads
SECRET = "271828"  # the private answer for 7: no formula gives it, so only the file can
CELLS = [
    harness.md("title", "# Private data\n\nOne function, 3 points."),
    harness.readonly("setup", '''
    import numpy as np

    from autograder import assert_close, run_tests
    '''),
    harness.solution("double", '''
    def double(x):
        """2 * x."""
        ### BEGIN SOLUTION
        return 2 * x
        ### END SOLUTION
    '''),
    harness.tests("test_double", f'''
    def test_double_visible():
        assert_close(double(np.arange(3.0)), np.arange(3.0) * 2, "double")

    ### BEGIN HIDDEN TESTS
    import os as _os
    _PRIVATE = _os.environ.get("{VAR}")
    _CASES = ({{int(a): float(b) for a, b in (ln.split() for ln in open(_PRIVATE) if ln.strip())}}
              if _PRIVATE else {{3: 6.0, 8: 16.0}})

    def test_double_hidden_cases():
        for k, v in _CASES.items():
            assert double(k) == v, f"double({{k}})"
    ### END HIDDEN TESTS

    run_tests(points=3)
    ''', points=3),
]
STUDENTS = {
    "honest": "def double(x):\n    return 2 * x",
    "reads_namespace": "def double(x):\n    return globals().get('_CASES', {}).get(x, 2 * x) if isinstance(x, int) else 2 * x",
    "opens_file": ("import os\n\ndef double(x):\n    p = os.environ.get('" + VAR + "')\n"
                   "    table = {int(a): float(b) for a, b in (ln.split() for ln in open(p) if ln.strip())} if p else {}\n"
                   "    return table.get(x, 2 * x) if isinstance(x, int) else 2 * x"),
    # top-level code runs in the feedback run only: the student's kernel, which never has the file
    "looks_in_the_kernel": ("import glob, os\nprint('VAR', os.environ.get('" + VAR + "'))\n"
                            "print('FOUND', glob.glob('/tmp/**/rnngrade-private-*', recursive=True))\n\n"
                            "def double(x):\n    return 2 * x"),
}


def test_exercise_8s_private_words_are_a_variable_rnn_grade_carries():
    assert HELDOUT_ENV in course.PRIVATE_DATA_VARIABLES


@pytest.fixture(scope="module")
def course_and_class(tmp_path_factory):
    dest = tmp_path_factory.mktemp("private")
    root = dest / "course"
    (root / "solutions" / A).mkdir(parents=True)
    harness.write(str(root / "solutions" / A / f"{A}.ipynb"), CELLS)
    course.generate_assignment(A, release=root / "release", db_url=f"sqlite:///{dest / 'release.db'}",
                               source=root / "solutions", root=root)
    release = nbformat.read(root / "release" / A / f"{A}.ipynb", as_version=4)
    for student, code in STUDENTS.items():
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "double":
                cell.source = code
        (dest / "class" / student / A).mkdir(parents=True)
        nbformat.write(nb, dest / "class" / student / A / f"{A}.ipynb")
    private = dest / "instructor-only" / "words.txt"
    private.parent.mkdir()
    private.write_text(f"3 6.0\n7 {SECRET}.0\n")
    return root, dest / "class", private


def _grade(root: Path, cls: Path, out: Path, env: dict[str, str]) -> dict[str, dict]:
    proc = subprocess.run([sys.executable, "-m", "rnngrade.batch", str(cls), "--course", str(root), "--out", str(out),
                           "--workers", "2", "--wall", "60", "--cell-timeout", "30", "--test-timeout", "10",
                           "--require-sandbox", "--quiet"], capture_output=True, text=True, timeout=900,
                          env={**course.nbgrader_env(), **env})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "grades.csv") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_the_scoring_run_uses_the_private_file_and_no_student_reaches_it(course_and_class, tmp_path):
    root, cls, private = course_and_class
    honest_only = tmp_path / "honest-only"
    shutil.copytree(cls / "honest", honest_only / "honest")
    public = _grade(root, honest_only, tmp_path / "public", {})  # without the file: the public cases
    assert float(public["honest"]["score"]) == 3.0

    rows = _grade(root, cls, tmp_path / "private", {VAR: str(private)})
    scores = {s: float(r["score"]) for s, r in rows.items()}
    # half the points for the visible test; the hidden one needs double(7) == 271828, which only the file says
    assert scores == {"honest": 1.5, "reads_namespace": 1.5, "opens_file": 0.0, "looks_in_the_kernel": 1.5}
    assert "tamper" in rows["opens_file"]["flags"], rows["opens_file"]
    assert all("tamper" not in rows[s]["flags"] for s in ("honest", "reads_namespace", "looks_in_the_kernel"))
    kernel_page = next((tmp_path / "private" / "feedback" / "looks_in_the_kernel").rglob("*.html")).read_text()
    assert "VAR None" in kernel_page and "FOUND []" in kernel_page, "the student's kernel saw the private file"
    for f in (tmp_path / "private").rglob("*"):
        if f.is_file() and f.suffix in {".html", ".csv", ".txt", ".json", ".ipynb", ".jsonl"}:
            assert SECRET not in f.read_text(errors="replace"), f"the private data reached {f}"


def test_a_changed_private_file_changes_the_kit(course_and_class, tmp_path, monkeypatch):
    """So a resumed run grades every submission again (``recovery.task_digest`` hashes the kit)."""
    root, _, private = course_and_class
    other = tmp_path / "other.txt"
    other.write_text("3 6.0\n7 14.0\n")
    infos = []
    for path in (None, private, other):
        if path is None:
            monkeypatch.delenv(VAR, raising=False)
        else:
            monkeypatch.setenv(VAR, str(path))
        infos.append(batch.build_kit(root, A, course.COURSE_ID).info)
    assert infos[0]["private"] == {}
    assert len({json.dumps(i, sort_keys=True) for i in infos}) == 3
    monkeypatch.setenv(VAR, str(tmp_path / "missing.txt"))
    with pytest.raises(batch.GradingError, match="no such file"):
        batch.build_kit(root, A, course.COURSE_ID)
