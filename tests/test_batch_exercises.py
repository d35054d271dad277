"""The course's real exercises through the batch grader, locally and on a Dask cluster.

For every exercise in solutions/ (found there, so ex02... join automatically): the released
notebook filled with the solution's code, graded on the local pool, and one wrong variant declared
in tests/variants/<exercise>.py, graded on a Dask LocalCluster, so both back-ends grade every
exercise. Exercise 8's untouched release, which hands in no checkpoint, joins the local pool. The
solution and the variant hand in the checkpoints that running the solution notebook as a student
makes (``harness.shared_student_run``, in a scratch copy shared with tests/test_exercises.py:
solutions/ never holds one). Expected: the solution scores full marks in every cell, trained models
included (exercise 8 on a CPU: its trained model at the tier ``CPU_EXPECTED`` of its variants file
declares), the release 0, each variant loses exactly its listed cells and keeps the solution's
marks in every other cell; no flags.

Left to other tests, so that no notebook is graded twice for the same check: every variant and
every release through plain nbgrader (tests/test_exercises.py); that none of them, nor any correct
alternative, raises a static review flag (tests/test_static_flags.py); an untouched release and
every attack of the red-team class through the sandbox, and identical grades from the two
back-ends for the same submission (tests/test_batch_redteam.py, on a fast exercise).
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rnngrade import course
from rnngrade import release as release_tool
from rnngrade.course import ROOT as REPO
from tests import harness

EXERCISES = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
VARIANTS_PER_EXERCISE = 1  # the first declared; the others: tests/test_exercises.py
RELEASES = {"ex08_pronunciation"}  # graded untouched here too; the others: tests/test_exercises.py

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("batch-exercises"),
    pytest.mark.needs_bwrap,
]


def _class(root: Path) -> dict[tuple[str, str], dict]:
    """Writes the class; returns (student, exercise) -> {"loses": set of cells or None (= all)}."""
    expect = {}
    for ex in EXERCISES:
        sol = nbformat.read(REPO / "solutions" / ex / f"{ex}.ipynb", as_version=4)
        patterns = release_tool.checkpoint_patterns([c.source for c in sol.cells if c.cell_type == "code"])
        ran = harness.shared_student_run(ex)[0] if patterns else None
        ckpts = [p for pat in patterns for p in sorted(ran.glob(pat))] if ran else []
        students = {"solution": (harness.make_submission(ex), set())}
        if ex in RELEASES:
            students["release"] = (harness.make_submission(ex, fill=False), None)
        variants = [(name, v) for name, v in harness.load_variants(ex).items() if "files" not in v]
        for name, v in variants[:VARIANTS_PER_EXERCISE]:  # a variant whose mistake is a file: see test_exercises
            students[re.sub(r"[^A-Za-z0-9.-]", "-", name)] = (harness.make_submission(ex, v), set(v["loses"]))
        for student, (nb, loses) in students.items():
            d = root / student / ex
            d.mkdir(parents=True)
            nbformat.write(nb, d / f"{ex}.ipynb")
            if loses is not None:
                for p in ckpts:
                    shutil.copy(p, d / p.name)
            expect[(student, ex)] = {"loses": loses, "shares": harness.expected_shares(ex)}
    return expect


def _cells(out: Path) -> dict[tuple[str, str], dict[str, tuple[float, float]]]:
    got: dict = {}
    with open(out / "grades_cells.csv") as f:
        for r in csv.DictReader(f):
            got.setdefault((r["student"], r["assignment"]), {})[r["cell"]] = (float(r["score"]), float(r["max_score"]))
    return got


def _grade(cls: Path, out: Path, *extra: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "rnngrade.batch", str(cls), "--course", str(REPO),
                           "--out", str(out), "--wall", "600", "--cell-timeout", "300", "--quiet",
                           "--require-sandbox", *extra], capture_output=True, text=True, env=course.nbgrader_env(),
                          timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _unexpected(expect: dict, got: dict) -> list[str]:
    wrong = []
    for key, spec in expect.items():
        cells = got.get(key)
        if cells is None:
            wrong.append(f"{key}: no row")
            continue
        for name, (score, mx) in cells.items():
            should_lose = spec["loses"] is None or name in spec["loses"]
            full = mx * spec["shares"].get(name, 1.0)  # ex08 on a CPU: tests/variants' CPU_EXPECTED
            if should_lose and score >= full - 0.01:
                wrong.append(f"{key} {name}: {score}/{mx}, expected below {full:.2f}")
            if not should_lose and score < full - 0.01:
                wrong.append(f"{key} {name}: {score}/{mx}, expected {full:.2f}")
            if spec["loses"] is None and score != 0:
                wrong.append(f"{key} {name}: the release scored {score}")
    return wrong


def _flagged(out: Path) -> list[str]:
    with open(out / "grades.csv") as f:
        return [r["student"] for r in csv.DictReader(f) if r["status"] == "flagged"]


def test_real_exercises_grade_as_expected_locally_and_on_dask(tmp_path):
    import dask
    from distributed import LocalCluster

    cls, on_dask = tmp_path / "class", tmp_path / "dask-class"
    expect = _class(cls)
    on_dask.mkdir()
    for student in {s for s, _ in expect} - {"solution", "release"}:
        shutil.move(cls / student, on_dask / student)
    _grade(cls, tmp_path / "local", "--workers", "2")
    # workers that are not daemonic processes fork each grading process from rnn-grade's
    # forkserver, as the local pool does (the red-team's Dask test keeps Dask's default,
    # daemonic workers: there each grading process is `python -m rnngrade.worker`)
    with dask.config.set({"distributed.worker.daemon": False}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        _grade(on_dask, tmp_path / "dask", "--scheduler", cluster.scheduler_address)
    local, dask = _cells(tmp_path / "local"), _cells(tmp_path / "dask")
    assert {s for s, _ in local} == {"solution", "release"}
    assert {ex for s, ex in local if s == "solution"} == set(EXERCISES), "every solution is graded"
    assert {s for s, _ in dask} == {s for s, _ in expect} - {"solution", "release"}
    assert {ex for _, ex in dask} == set(EXERCISES), "every exercise is graded on Dask too"
    flagged = _flagged(tmp_path / "local") + _flagged(tmp_path / "dask")
    assert not flagged, f"correct or honest-mistake notebooks flagged: {flagged}"
    wrong = _unexpected(expect, {**local, **dask})
    assert not wrong, "\n".join(wrong)
